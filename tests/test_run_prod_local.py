"""scripts/run_prod_local.sh: its options are checked before anything starts (no processes here)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "run_prod_local.sh"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=30)


def test_defaults_are_production_like_with_sandboxes_off() -> None:
    out = _run("--print-config")
    assert out.returncode == 0, out.stderr
    assert "web=2 threads=2 workers=2 port=8000 sandboxes=0" in out.stdout
    assert "OTODOKE_ENV=production" in out.stdout
    assert "otodoke_prod_local" in out.stdout and "JOBS_URL=redis://" in out.stdout


def test_options_are_read_and_sandboxes_only_when_asked() -> None:
    out = _run("--web", "3", "--threads", "4", "--workers", "1", "--sandboxes", "--print-config")
    assert "web=3 threads=4 workers=1 port=8000 sandboxes=1" in out.stdout


def test_bad_options_are_refused() -> None:
    assert _run("--web", "0", "--print-config").returncode == 2
    assert _run("--workers", "two", "--print-config").returncode == 2
    unknown = _run("--frobnicate")
    assert unknown.returncode == 2 and "unknown option" in unknown.stderr


def test_the_pid_files_and_secret_go_where_prod_local_dir_says(tmp_path: Path) -> None:
    # Two instances from one checkout (a bench beside a run-prod-local) must not share pid files or key.
    out = subprocess.run(["bash", str(SCRIPT), "--print-config"], capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PROD_LOCAL_DIR": str(tmp_path / "state")})
    assert f"PIDFILE={tmp_path}/state/prod_local.pid SECRET_FILE={tmp_path}/state/prod_local_secret" in out.stdout
