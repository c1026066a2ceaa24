"""`pip-audit` over the installed environment, for scripts/test.sh (and so `.ci/run`).

Fails (exit 1) on any known vulnerability. When the vulnerability service cannot be reached (no
network on this machine, PyPI or OSV down), it prints a clear warning and passes: an unreachable
service must not turn CI red, but it must not read as "no known vulnerabilities" either. pip-audit
itself reports the PyPI service being unreachable as every package "not found on PyPI" and exit 0,
so an audit in which nothing could be checked is treated as unreachable too. AUDIT_REQUIRED=1 makes
"could not audit" a failure (for a machine that has the network).

    .venv/bin/python scripts/audit.py [pip-audit options, e.g. -s osv]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

UNREACHABLE = ("ConnectionError", "NameResolutionError", "Timeout", "ServiceError", "Max retries exceeded")


def verdict(returncode: int, report: str | None, stderr: str) -> tuple[str, str]:
    """("ok" | "vulnerable" | "unreachable" | "error", a line to print) from one pip-audit run."""
    if not report:
        if any(marker in stderr for marker in UNREACHABLE):
            last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            return "unreachable", f"the vulnerability service could not be reached ({last[:200]})"
        return "error", f"pip-audit failed (exit {returncode}): {stderr.strip()[-500:]}"
    dependencies = json.loads(report).get("dependencies", [])
    found = [(d["name"], d.get("version", "?"), v["id"], v.get("fix_versions", []))
             for d in dependencies for v in d.get("vulns", [])]
    if found:
        lines = [f"  {name} {version}: {vuln_id} (fixed in {', '.join(fixes) or 'no release yet'})"
                 for name, version, vuln_id, fixes in found]
        return "vulnerable", f"{len(found)} known vulnerabilities:\n" + "\n".join(lines)
    audited = [d for d in dependencies if "skip_reason" not in d]
    skipped = len(dependencies) - len(audited)
    if dependencies and not audited:
        return "unreachable", (f"none of the {skipped} installed packages could be checked "
                               "(the service answered 'not found' for every one: unreachable or offline)")
    return "ok", f"no known vulnerabilities in {len(audited)} packages ({skipped} could not be checked)"


def main(argv: list[str]) -> int:
    pip_audit = Path(sys.executable).with_name("pip-audit")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "audit.json"
        # --skip-editable: this project itself is installed editable and is not on PyPI.
        run = subprocess.run([str(pip_audit), "--local", "--skip-editable", "--progress-spinner", "off",
                              "--timeout", "15", "--format", "json", "--output", str(out), *argv],
                             capture_output=True, text=True, timeout=600)
        report = out.read_text() if out.exists() and out.stat().st_size else None
    kind, message = verdict(run.returncode, report, run.stderr)
    if kind == "ok":
        print(f"pip-audit: {message}")
        return 0
    if kind == "unreachable" and os.environ.get("AUDIT_REQUIRED", "0") != "1":
        print(f"!! pip-audit: NOT AUDITED, {message}; passing anyway (AUDIT_REQUIRED=1 makes this fail)")
        return 0
    print(f"FAILED pip-audit: {message}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
