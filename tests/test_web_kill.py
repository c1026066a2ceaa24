"""Issue 12, faults: a web process SIGKILLed between the commit and the LINE reply. The real app runs in
a child process (Werkzeug's threaded server) against the fake LINE API; the fake holds the reply call,
the test kills the child while it waits, so the event's transaction is committed and the reply never
reached LINE. LINE's redelivery is skipped as a duplicate; the standby push from the outbox answers
once, and nothing else reaches the resident.

No hook in our code: the moment is made at the network edge (the fake holds the request, then drops it
unanswered and unrecorded, which is what LINE sees when the sender dies before its request is whole).
``test_web_kill_control_a_reply_that_went_out_is_not_pushed_too`` is the other side: the same child, not
killed, replies, and the standby is settled, so the resident still gets one message.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from core.clock import FixedClock
from core.db import db
from otodoke import create_app
from outbox.models import OutboxMessage, OutboxStatus
from outbox.registry import senders_for
from outbox.worker import drain
from sandbox.fake_line import FakeLine, RunningFake, _Handler
from sandbox.line import sign
from bot import dispatch
from tests.conftest import DEFAULT_NOW
from tests.line_support import RESIDENT_USER, SECRET, TOKEN, body, seed_town

ROOT = Path(__file__).resolve().parent.parent

# The web process: the real factory behind Werkzeug's threaded server (what `flask run` uses), with the
# clock frozen at the fixtures' "now" so that the event's reply token counts as fresh.
LAUNCHER = textwrap.dedent("""
    import sys
    from werkzeug.serving import make_server
    from otodoke import create_app

    database_url, jobs_url, line_url = sys.argv[1:4]
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "JOBS_URL": jobs_url,
                      "SECRET_KEY": "test-secret-key", "LINE_CHANNEL_SECRET": sys.argv[4],
                      "LINE_CHANNEL_ACCESS_TOKEN": sys.argv[5], "LINE_API_HOST": line_url,
                      "LINE_SANDBOX": False, "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "",
                      "FROZEN_NOW": sys.argv[6]})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()
""")


class HoldingFake:
    """The fake LINE API, except that while ``hold`` is set a reply call is held until ``release``,
    then dropped without an answer and without being recorded (its sender is dead by then)."""

    def __init__(self) -> None:
        self.fake = FakeLine()
        self.hold = threading.Event()
        self.release = threading.Event()
        self.reply_arrived = threading.Event()
        holder = self

        class Handler(_Handler):
            fake = holder.fake

            def _answer(self) -> None:
                if self.path.endswith("/message/reply") and holder.hold.is_set():
                    holder.reply_arrived.set()
                    holder.release.wait(30)
                    self.close_connection = True
                    return
                super()._answer()

            do_GET = do_POST = do_DELETE = _answer   # noqa: N815

        from http.server import ThreadingHTTPServer
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.running = RunningFake(self.fake, server, thread)

    def close(self) -> None:
        self.release.set()
        self.running.stop()


@pytest.fixture
def holding() -> Iterator[HoldingFake]:
    fake = HoldingFake()
    yield fake
    fake.close()


@pytest.fixture
def test_app(database_url: str, clock: FixedClock, tmp_path: Path, holding: HoldingFake) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
                      "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "LINE_CHANNEL_SECRET": SECRET,
                      "LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_HOST": holding.running.url,
                      "LINE_SANDBOX": False, "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}, clock=clock)
    with app.app_context():
        yield app
    api = app.extensions.get("otodoke.line_api")
    if api is not None:
        api.close()
    db.bound(app).engine.dispose()


def start_web(database_url: str, tmp_path: Path, line_url: str) -> tuple[subprocess.Popen[str], int]:
    with (tmp_path / "web.log").open("a") as log:   # the child keeps its own copy of the descriptor
        child = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, database_url, f"sqlite:///{tmp_path / 'web-jobs.db'}", line_url,
             SECRET, TOKEN, DEFAULT_NOW.isoformat()],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = child.stdout.readline() if child.stdout else ""
    assert line.startswith("port "), (tmp_path / "web.log").read_text()
    return child, int(line.split()[1])


def post_to(port: int, raw: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/line/callback", body=raw.encode(),
                           headers={"Content-Type": "application/json", "X-Line-Signature": sign(SECRET, raw)})
        return connection.getresponse().status
    finally:
        connection.close()


def kill(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    child.wait(10)
    if child.stdout:
        child.stdout.close()


def _drain(app: Flask, clock: FixedClock) -> Any:
    return drain(lambda: db.transaction(app), {"line": senders_for(app)["line"]}, clock.now)


def _answers(app: Flask) -> list[OutboxMessage]:
    with db.reading(app) as session:
        rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "line_answer")))
        session.expunge_all()
        return rows


def _wait_for(predicate: Any, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_web_process_killed_before_its_reply_answers_once_by_push(
        test_app: Flask, database_url: str, clock: FixedClock, tmp_path: Path, holding: HoldingFake) -> None:
    seed_town(test_app)
    holding.hold.set()
    web, port = start_web(database_url, tmp_path, holding.running.url)
    raw = body("text", text="最初から")
    try:
        assert post_to(port, raw) == 200                # the event's transaction is committed...
        assert holding.reply_arrived.wait(15), (tmp_path / "web.log").read_text()
    finally:
        kill(web)                                       # ...and the process dies inside the reply call
    assert web.returncode == -signal.SIGKILL
    holding.release.set()
    [row] = _answers(test_app)
    assert row.status is OutboxStatus.PENDING           # the standby push, not settled by any reply

    # LINE redelivers the event (it got no 200 in time, say) to another process: a duplicate, skipped.
    holding.hold.clear()
    redelivered = raw.replace('"isRedelivery": false', '"isRedelivery": true')
    assert test_app.test_client().post("/line/callback", data=redelivered.encode(), headers={
        "Content-Type": "application/json", "X-Line-Signature": sign(SECRET, redelivered)}).status_code == 200
    dispatch.flush_replies()
    assert holding.fake.calls == []

    assert _drain(test_app, clock).sent == 0            # not before the standby wait
    clock.advance(timedelta(seconds=dispatch.STANDBY_S + 1))
    assert _drain(test_app, clock).sent == 1
    clock.advance(timedelta(hours=2))
    assert _drain(test_app, clock).sent == 0
    delivered = holding.fake.delivered(RESIDENT_USER)
    assert len(delivered) == 1 and "ご用件" in json.dumps(delivered, ensure_ascii=False)
    [push] = holding.fake.pushes()
    assert push.headers["X-Line-Retry-Key"] == row.id
    assert [r.status for r in _answers(test_app)] == [OutboxStatus.SENT]


def test_web_kill_control_a_reply_that_went_out_is_not_pushed_too(
        test_app: Flask, database_url: str, clock: FixedClock, tmp_path: Path, holding: HoldingFake) -> None:
    seed_town(test_app)
    web, port = start_web(database_url, tmp_path, holding.running.url)
    try:
        assert post_to(port, body("text", text="最初から")) == 200
        _wait_for(lambda: [r.status for r in _answers(test_app)] == [OutboxStatus.SENT])
    finally:
        kill(web)                                       # killed after the reply: nothing is lost
    clock.advance(timedelta(hours=2))
    assert _drain(test_app, clock).sent == 0
    assert len(holding.fake.delivered()) == 1 and len(holding.fake.replies()) == 1 and holding.fake.pushes() == []
