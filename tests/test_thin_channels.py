"""Channels and pages are thin adapters: no SQL in them (issue #13). Checked from the source with ``ast``.

A module of ``bot/``, ``voice/``, ``driver/``, ``shop_portal/``, ``staff/`` or ``accounts/views.py``
"holds a query" when it has any of:

1. an import from ``sqlalchemy`` (``import sqlalchemy...`` or ``from sqlalchemy... import name``) other
   than ``sqlalchemy.orm.Session`` (a type hint for the session the adapter opens and hands to a
   service) and names from ``sqlalchemy.exc`` (exceptions an adapter may turn into a message). So
   ``select``/``insert``/``update``/``delete``, ``func``, ``bindparam``, loader options, dialects, … are
   all out: they only build queries;
2. a call ``<receiver>.execute/.scalars/.scalar/.get/.query(...)`` whose receiver is a database session:
   the name ``session`` or ``db_session``, or an attribute ``….session`` / ``….db_session`` (``ctx.session``,
   ``call.session``). A bare ``session`` is Flask's cookie session, not a query, when the module imports
   ``session`` from ``flask``;
3. a call of a name ``select``/``insert``/``update``/``delete`` (or ``sa.select`` etc.) — caught by rule 1
   too, listed so the test names the site.

Imports under ``if TYPE_CHECKING`` count too: they are no use to a module without queries.

``STILL_TO_MOVE`` names the modules not yet clean. The test fails when a module off the list holds a
query, and when a listed module has become clean (take it off: the list only shrinks).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THIN_PACKAGES = ("bot", "voice", "driver", "shop_portal", "staff")
THIN_FILES = ("accounts/views.py",)

ALLOWED_SQLALCHEMY = {("sqlalchemy.orm", "Session")}
ALLOWED_SQLALCHEMY_MODULES = {"sqlalchemy.exc"}
SESSION_NAMES = {"session", "db_session"}
QUERY_METHODS = {"execute", "scalars", "scalar", "get", "query"}
STATEMENT_BUILDERS = {"select", "insert", "update", "delete"}

# Modules not yet clean, whose queries still have to move into a domain service (an entry "pkg/*" covers
# every module under pkg/). Empty: every channel and page module is clean, and the list only shrinks.
STILL_TO_MOVE: set[str] = set()


def _thin_modules() -> list[str]:
    found = [str(p.relative_to(ROOT)) for package in THIN_PACKAGES for p in (ROOT / package).rglob("*.py")]
    return sorted(found + [f for f in THIN_FILES if (ROOT / f).is_file()])


def _listed(module: str) -> bool:
    return module in STILL_TO_MOVE or any(
        entry.endswith("/*") and module.startswith(entry[:-1]) for entry in STILL_TO_MOVE
    )


def _is_session(node: ast.expr, flask_session: bool) -> bool:
    if isinstance(node, ast.Name):
        return node.id in SESSION_NAMES and not (node.id == "session" and flask_session)
    return isinstance(node, ast.Attribute) and node.attr in SESSION_NAMES


def queries_in(source: str) -> list[str]:
    """Each query site in ``source`` as ``line: what``; empty for a thin module."""
    tree = ast.parse(source)
    flask_session = any(
        isinstance(n, ast.ImportFrom) and n.module == "flask" and any(a.name == "session" for a in n.names)
        for n in ast.walk(tree)
    )
    sites: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            sites += [f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] == "sqlalchemy"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sqlalchemy":
            if node.module in ALLOWED_SQLALCHEMY_MODULES:
                continue
            sites += [
                f"{node.lineno}: from {node.module} import {a.name}"
                for a in node.names
                if (node.module, a.name) not in ALLOWED_SQLALCHEMY
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in STATEMENT_BUILDERS:
                sites.append(f"{node.lineno}: {func.id}(")
            elif isinstance(func, ast.Attribute):
                if func.attr in STATEMENT_BUILDERS and isinstance(func.value, ast.Name) and func.value.id in {"sa", "sqlalchemy"}:
                    sites.append(f"{node.lineno}: {ast.unparse(func)}(")
                elif func.attr in QUERY_METHODS and _is_session(func.value, flask_session):
                    sites.append(f"{node.lineno}: {ast.unparse(func)}(")
    return sorted(set(sites), key=lambda s: int(s.split(":")[0]))


def _dirty() -> dict[str, list[str]]:
    found = {}
    for module in _thin_modules():
        sites = queries_in((ROOT / module).read_text(encoding="utf-8"))
        if sites:
            found[module] = sites
    return found


def test_no_query_in_a_channel_or_page_module_off_the_list() -> None:
    dirty = _dirty()
    offenders = {m: s for m, s in dirty.items() if not _listed(m)}
    assert not offenders, (
        "channel/page modules with SQL (move it into a domain service function):\n"
        + "\n".join(f"  {m}: {'; '.join(s)}" for m, s in offenders.items())
    )


def test_the_still_to_move_list_only_shrinks() -> None:
    dirty = _dirty()
    files = [m for m in STILL_TO_MOVE if not m.endswith("/*")]
    missing = sorted(m for m in files if not (ROOT / m).is_file())
    clean = sorted(m for m in files if (ROOT / m).is_file() and m not in dirty)
    clean += sorted(
        m for m in STILL_TO_MOVE if m.endswith("/*") and not any(d.startswith(m[:-1]) for d in dirty)
    )
    assert not missing, f"STILL_TO_MOVE names modules that are gone: {missing}"
    assert not clean, f"these modules are clean now: take them off STILL_TO_MOVE: {clean}"


def test_the_rule_sees_each_kind_of_query() -> None:
    """The detector itself: each rule fires, and the allowed forms do not."""
    assert queries_in("from sqlalchemy import select\nselect(1)\n") == ["1: from sqlalchemy import select", "2: select("]
    assert queries_in("import sqlalchemy as sa\nsa.update(t)\n") == ["1: import sqlalchemy", "2: sa.update("]
    assert queries_in("def f(ctx):\n    return ctx.session.get(X, 1)\n") == ["2: ctx.session.get("]
    assert queries_in("def f(session):\n    return session.scalars(q)\n") == ["2: session.scalars("]
    assert queries_in("def f(db_session):\n    db_session.execute(q)\n") == ["2: db_session.execute("]
    assert queries_in("from sqlalchemy.orm import Session, selectinload\n") == ["1: from sqlalchemy.orm import selectinload"]
    clean = (
        "from flask import session\nfrom sqlalchemy.orm import Session\nfrom sqlalchemy.exc import IntegrityError\n"
        "def f(s: Session, ctx):\n    session.get('csrf')\n    ctx.state.get('x')\n    request.form.get('y')\n"
    )
    assert queries_in(clean) == []
