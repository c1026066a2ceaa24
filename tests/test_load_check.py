"""The load bench's verdict (benchmarks/load_check.py) and the locustfile's paths: the run passes only
when no request failed, the locustfile raised nothing and the database reconciles."""

from __future__ import annotations

import ast
from pathlib import Path

from benchmarks.load_check import locust_figures, passed
from benchmarks.load_reconcile import reconcile

STATS = ("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
         "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,95%,99%\n"
         "POST,driver stop done,10,{f},5,5,1,9,100,1.0,0,5,8,9\n"
         ",Aggregated,10,{f},5,5,1,9,100,1.0,0,5,8,9\n")


def _folder(tmp_path: Path, *, failures: int = 0, error: str = "", exceptions: int = 0) -> Path:
    (tmp_path / "stats_stats.csv").write_text(STATS.format(f=failures))
    (tmp_path / "stats_failures.csv").write_text(
        "Method,Name,Error,Occurrences\n" + (f"POST,driver stop done,\"{error}\",{failures}\n" if failures else ""))
    (tmp_path / "stats_exceptions.csv").write_text(
        "Count,Message,Traceback,Nodes\n" + (f"{exceptions},boom,\"tb\",local\n" if exceptions else ""))
    return tmp_path


def _clean():
    return reconcile(["U1"], ["U1"], [])


def test_a_clean_run_passes(tmp_path: Path) -> None:
    figures = locust_figures(_folder(tmp_path))
    assert passed(figures, _clean(), 0, 0, {"replies_ok": 3, "reply_tokens": 3})


def test_a_4xx_failure_fails_the_run_not_only_a_5xx(tmp_path: Path) -> None:
    figures = locust_figures(_folder(tmp_path, failures=4, error="CatchResponseError('status 400')"))
    assert figures["5xx"] == 0 and figures["other_failures"] == 4
    assert not passed(figures, _clean(), 0, 0, {})


def test_a_5xx_fails_the_run(tmp_path: Path) -> None:
    figures = locust_figures(_folder(tmp_path, failures=1, error="CatchResponseError('status 502')"))
    assert figures["5xx"] == 1 and not passed(figures, _clean(), 0, 0, {})


def test_an_exception_in_the_locustfile_fails_the_run(tmp_path: Path) -> None:
    # A task that raised before sending (e.g. a non-ASCII URL) leaves no failure row, only an exception.
    figures = locust_figures(_folder(tmp_path, exceptions=129))
    assert figures["failures"] == 0 and figures["exceptions"] == 129
    assert not passed(figures, _clean(), 0, 0, {})


def test_unreconciled_orders_events_or_replies_fail_the_run(tmp_path: Path) -> None:
    figures = locust_figures(_folder(tmp_path))
    assert not passed(figures, reconcile(["U1"], [], []), 0, 0, {})
    assert not passed(figures, _clean(), 1, 0, {})
    assert not passed(figures, _clean(), 0, 1, {})
    assert not passed(figures, _clean(), 0, 0, {"replies_ok": 2, "reply_tokens": 3})


def test_every_path_the_locustfile_writes_is_ascii() -> None:
    # geventhttpclient sends the request line as latin-1: non-ASCII in a URL must be %-encoded (urlencode).
    tree = ast.parse((Path(__file__).resolve().parent.parent / "benchmarks" / "load.py").read_text())
    paths = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
             and isinstance(node.value, str) and node.value.startswith("/")]
    assert "/staff/residents?" in paths
    assert all(path.isascii() for path in paths), [p for p in paths if not p.isascii()]
