"""scripts/audit.py's verdict on pip-audit's output: vulnerabilities fail, an unreachable service warns."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_spec = importlib.util.spec_from_file_location("audit", Path(__file__).resolve().parent.parent / "scripts" / "audit.py")
audit = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(audit)  # type: ignore[union-attr]


def _report(*dependencies: dict) -> str:  # type: ignore[type-arg]
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_a_known_vulnerability_fails() -> None:
    # The shape pip-audit --format json writes (2.10).
    kind, message = audit.verdict(1, _report(
        {"name": "flask", "version": "3.1.2", "vulns": []},
        {"name": "jinja2", "version": "3.1.2", "vulns": [{"id": "GHSA-h75v-3vvj-5mfj", "fix_versions": ["3.1.3"],
                                                          "aliases": ["CVE-2024-22195"], "description": "xss"}]}), "")
    assert kind == "vulnerable" and "jinja2 3.1.2: GHSA-h75v-3vvj-5mfj (fixed in 3.1.3)" in message


def test_a_clean_audit_passes() -> None:
    kind, message = audit.verdict(0, _report({"name": "flask", "version": "3.1.2", "vulns": []},
                                             {"name": "x", "skip_reason": "Dependency not found on PyPI"}), "")
    assert kind == "ok" and "1 packages (1 could not be checked)" in message


def test_nothing_checkable_or_no_connection_is_unreachable_not_clean() -> None:
    everything_skipped = _report({"name": "flask", "skip_reason": "Dependency not found on PyPI and could not be audited"})
    assert audit.verdict(0, everything_skipped, "")[0] == "unreachable"
    stderr = "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev'): Max retries exceeded"
    assert audit.verdict(1, None, stderr)[0] == "unreachable"
    assert audit.verdict(2, None, "usage: pip-audit: error: unrecognized arguments")[0] == "error"
