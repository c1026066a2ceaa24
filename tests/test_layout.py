"""The layout the README describes, checked from the source: every import (at module level or inside a
function, but not under ``if TYPE_CHECKING``) runs one way, from the top layer down.

- no cycle between packages, and none between modules;
- each package imports only its own layer's lower neighbours (the order in ``LAYERS``);
- the sandboxes and fakes are imported by nothing in the product but the app factory, and the
  benchmarks by nothing in the product at all;
- the README's layout table names exactly the packages in the tree, with the layer they are in;
- an import of our own packages inside a function body says why it is not at the top of the module,
  in a comment ``# lazy: <why>`` on the same line or the line before (a cycle broken on purpose, a
  heavy or optional module loaded only when used, a sandbox loaded only when on). Without a reason the
  import belongs at module level, where a reader sees the module's real dependencies. Checked in the
  product packages; the sandboxes, the demo town and the benchmarks are tools and are not held to it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A package may import a package of an earlier entry; within one entry, only the
# pairs in SAME_LAYER_ALLOWED (one way each: no cycle is possible then).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("core",)),
    ("domain", ("places", "outbox", "understanding")),
    ("domain", ("residents",)),
    ("domain", ("shops",)),
    ("domain", ("orders",)),
    ("domain", ("delivery",)),
    ("domain", ("accounts", "links")),
    ("channel", ("bot", "voice")),
    ("page", ("driver", "shop_portal")),
    ("page", ("staff",)),
    ("top", ("sandbox", "demo")),
    ("top", ("otodoke",)),
    ("outside", ("benchmarks",)),
]
RANK = {package: rank for rank, (_, packages) in enumerate(LAYERS) for package in packages}
KIND = {package: kind for kind, packages in LAYERS for package in packages}
OUTSIDE_THE_TREE = {"tests", "migrations"}      # not packages of the product, listed in the README too
# Only the app factory may import the sandboxes (and only when one is on).
SANDBOX_IMPORTERS = {"otodoke"}
# Packages whose function-body imports need no ``# lazy:`` reason (tools, not the product).
NOT_THE_PRODUCT = {"sandbox", "demo", "benchmarks"}
LAZY_REASON = re.compile(r"#.*\blazy:\s*\S")


@dataclass(frozen=True)
class Import:
    module: str      # the importing module, e.g. "bot.conversation.ordering"
    target: str      # the imported module of ours, e.g. "orders.service"
    line: int


def _packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name != "tests")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in _packages():
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _imports(modules: dict[str, Path]) -> list[Import]:
    found: list[Import] = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = module.split(".")
                    if path.name != "__init__.py":
                        parts = parts[:-1]
                    parts = parts[:len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    found.append(Import(module, target, node.lineno))
    return found


def _unexplained_function_imports(modules: dict[str, Path]) -> list[str]:
    """Imports of our packages inside a function body with no ``# lazy: <why>`` on the line or the one before."""
    ours = set(_packages())
    found: list[str] = []
    for module, path in modules.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = ["." if node.level else node.module or ""]
                else:
                    continue
                if not any(name == "." or name.split(".")[0] in ours for name in names):
                    continue
                here = lines[node.lineno - 1]
                before = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
                if LAZY_REASON.search(here) or (before.startswith("#") and LAZY_REASON.search(before)):
                    continue
                found.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    return sorted(set(found))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    result.append(sorted(component))
    return result


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return _imports(_modules())


def test_every_package_has_a_place_in_the_layers() -> None:
    assert sorted(RANK) == _packages(), "a package was added or removed: give it a layer in LAYERS and the README"


def test_no_import_cycle_between_modules(imports: list[Import]) -> None:
    edges: dict[str, set[str]] = {module: set() for module in _modules()}
    for item in imports:
        edges[item.module].add(item.target)
    assert _cycles(edges) == []


def test_no_import_cycle_between_packages(imports: list[Import]) -> None:
    edges: dict[str, set[str]] = {package: set() for package in _packages()}
    for item in imports:
        source, target = item.module.split(".")[0], item.target.split(".")[0]
        if source != target:
            edges[source].add(target)
    assert _cycles(edges) == []


def test_imports_run_down_the_layers(imports: list[Import]) -> None:
    """A domain never imports a channel or a page, the core imports no domain, and so on."""
    upward = []
    for item in imports:
        source, target = item.module.split(".")[0], item.target.split(".")[0]
        if source != target and RANK[target] >= RANK[source]:
            upward.append(f"{item.module}:{item.line} imports {item.target} "
                          f"({KIND[source]} {source} → {KIND[target]} {target})")
    assert upward == []


def test_sandboxes_and_benchmarks_stay_out_of_the_product(imports: list[Import]) -> None:
    leaks = [f"{i.module}:{i.line} imports {i.target}" for i in imports
             if (i.target.startswith("sandbox") and i.module.split(".")[0] not in SANDBOX_IMPORTERS | {"sandbox", "benchmarks"})
             or (i.target.startswith("benchmarks") and not i.module.startswith("benchmarks"))]
    assert leaks == []


def test_the_factory_imports_the_sandbox_only_when_one_is_on() -> None:
    tree = ast.parse((ROOT / "otodoke" / "__init__.py").read_text(encoding="utf-8"))
    guarded = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
               and "SANDBOX" in ast.unparse(stmt.test) for node in ast.walk(stmt)}
    sandbox_imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                       and "sandbox" in ast.unparse(node).split()[1]]
    assert sandbox_imports and all(id(node) in guarded for node in sandbox_imports)


def test_function_body_imports_of_our_packages_say_why() -> None:
    """A new ``from orders.service import …`` inside a function hides a dependency: move it to the top,
    or say why it cannot be there with ``# lazy: <why>``."""
    product = {name: path for name, path in _modules().items() if name.split(".")[0] not in NOT_THE_PRODUCT}
    assert _unexplained_function_imports(product) == []


def test_the_readme_layout_table_matches_the_tree() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| `(\w+)/` \|", section, flags=re.M)
    listed = {package: layer for layer, package in rows}
    assert sorted(listed) == sorted([*_packages(), *OUTSIDE_THE_TREE])
    wrong = {package: (layer, KIND[package]) for package, layer in listed.items()
             if package in KIND and KIND[package] != layer}
    assert wrong == {}


# --- the checks above, shown to catch what they are for -------------------------------------------

def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_an_upward_import_inside_a_function_is_seen(tmp_path: Path) -> None:
    source = "def f():\n    from bot import views\n"
    tree = ast.parse(source)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
    assert node.module == "bot" and node.lineno == 2
    # the real walk, over a module written where a domain would be
    path = tmp_path / "orders_extra.py"
    path.write_text(source, encoding="utf-8")
    found = _imports({"orders.extra": path, "bot.views": path, "bot": path})
    assert Import("orders.extra", "bot.views", 2) in found


def test_a_function_body_import_without_a_reason_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "extra.py"
    path.write_text(
        "import os\n"
        "from orders import service\n"
        "def bare():\n"
        "    from orders.service import place_order\n"
        "def relative():\n"
        "    from . import service\n"
        "def third_party():\n"
        "    import json\n"
        "def same_line():\n"
        "    from orders import service   # lazy: only the planner needs it\n"
        "def line_before():\n"
        "    # lazy: a cycle with bot.views, broken on purpose\n"
        "    import bot\n"
        "def no_reason_given():\n"
        "    import bot   # lazy:\n",
        encoding="utf-8")
    assert _unexplained_function_imports({"bot.extra": path}) == [
        "bot.extra:15 import bot",
        "bot.extra:4 from orders.service import place_order",
        "bot.extra:6 from . import service",
    ]
