"""O3: SIGKILL the worker process mid-send, restart it: the row is re-claimed after its lease and sent
again with the same retry key; the fake LINE API answers 409, so the resident got one message."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask

from core.clock import JST, FixedClock
from outbox.models import OutboxStatus
from tests.test_outbox_jobs import queue_without_trigger, status_of

ROOT = Path(__file__).resolve().parent.parent

# The worker process: the real app and the real ``run_worker`` (what ``otodoke worker`` runs), with a
# minimal HTTP sender standing in for the LINE sender (push with X-Line-Retry-Key = row id; 409 = sent).
LAUNCHER = textwrap.dedent("""
    import sys, urllib.request, urllib.error
    from otodoke import create_app
    from otodoke.worker import run_worker
    from outbox.registry import register_sender
    from outbox.senders import Outcome, SendResult

    database_url, jobs_url, stub_url = sys.argv[1:4]

    class HttpSender:
        channel = "line"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def send(self, message):
            request = urllib.request.Request(stub_url, data=b"{}", method="POST",
                                             headers={"X-Line-Retry-Key": message.id})
            try:
                with self.opener.open(request, timeout=30) as response:
                    return SendResult(Outcome.SENT, provider_ref=response.headers.get("x-line-request-id"))
            except urllib.error.HTTPError as exc:
                if exc.code == 409:
                    return SendResult(Outcome.SENT, detail="409: retry key already accepted")
                return SendResult(Outcome.RETRY, detail=str(exc.code))

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "JOBS_URL": jobs_url,
                      "OUTBOX_LEASE_S": 2})
    register_sender(app, HttpSender())
    with app.app_context():
        print("worker ready", flush=True)
        run_worker(app)
""")


class FakeLinePush:
    """Accepts each retry key once (then 409, as LINE does); can hang on the first request."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.accepted: set[str] = set()
        self.hang_first = threading.Event()
        self.release = threading.Event()
        self.got_request = threading.Event()
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers["X-Line-Retry-Key"]
                with stub.lock:
                    stub.keys.append(key)
                    duplicate = key in stub.accepted
                    stub.accepted.add(key)
                    hang = stub.hang_first.is_set() and len(stub.keys) == 1
                stub.got_request.set()
                if hang:
                    stub.release.wait(20)   # the worker dies while we hold its request
                status = 409 if duplicate else 200
                body = json.dumps({"message": "conflict"} if duplicate else {}).encode()
                try:
                    self.send_response(status)
                    self.send_header("x-line-request-id", f"req-{len(stub.keys)}")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the killed worker's socket is gone

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/bot/message/push"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_line() -> Iterator[FakeLinePush]:
    stub = FakeLinePush()
    yield stub
    stub.close()


def start_worker(database_url: str, jobs_url: str, stub_url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:   # the child keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-c", LAUNCHER, database_url, jobs_url, stub_url],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONUNBUFFERED="1"))


def test_killed_worker_mid_send_delivers_once_with_the_same_key(
        app: Flask, database_url: str, tmp_path: Path,
        fake_line: FakeLinePush) -> None:
    # The worker subprocess runs on the real clock: queue the row as due a minute ago in real time.
    message_id = queue_without_trigger(app, FixedClock(datetime.now(JST) - timedelta(minutes=1)))
    jobs_url = f"sqlite:///{tmp_path / 'worker-jobs.db'}"
    log = tmp_path / "worker.log"
    fake_line.hang_first.set()

    first = start_worker(database_url, jobs_url, fake_line.url, log)
    try:
        assert fake_line.got_request.wait(30), log.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert status_of(app, message_id) is OutboxStatus.SENDING   # claimed, never recorded
    fake_line.release.set()

    second = start_worker(database_url, jobs_url, fake_line.url, log)
    try:
        deadline = time.monotonic() + 30
        while status_of(app, message_id) is not OutboxStatus.SENT:
            assert time.monotonic() < deadline, log.read_text()
            assert second.poll() is None, log.read_text()
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGINT)
        try:
            second.wait(10)
        except subprocess.TimeoutExpired:
            second.kill()
    assert fake_line.keys == [message_id, message_id]   # the resend reused the row's retry key
    assert fake_line.accepted == {message_id}           # LINE delivered it once (409 the second time)
