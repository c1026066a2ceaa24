"""Issue 12, hole 10 (this part): security headers (Flask-Talisman) that every page still works under,
no-store on pages with personal data, access logs without link tokens, and processed_events pruned."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from delivery.driver_links import make_token
from otodoke import create_app, jobs
from core.clock import JST
from core.db import db
from core.models import ProcessedEvent
from tests.line_support import NOW_MS, body, line_app, line_client, line_fake, post  # noqa: F401
from tests.test_staff_and_driver_pages import _login

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted(p for p in ROOT.glob("*/templates/**/*.html"))


def _check_headers(response, path: str) -> None:  # type: ignore[no-untyped-def]
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, path
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp, path
    script_src = re.search(r"script-src ([^;]*)", csp).group(1)  # type: ignore[union-attr]
    assert "'unsafe-inline'" not in script_src and "'nonce-" in script_src, path
    assert response.headers.get("X-Frame-Options") == "DENY", path
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path
    assert response.headers.get("Referrer-Policy") == "no-referrer", path
    assert response.headers.get("Cache-Control") == "no-store", path
    # Every script the page has carries this response's nonce, and no inline handler is left.
    page = response.get_data(as_text=True)
    nonce = re.search(r"'nonce-([^']+)'", script_src).group(1)  # type: ignore[union-attr]
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert f'nonce="{nonce}"' in tag, (path, tag)
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page), path
    assert "javascript:" not in page, path


def test_every_page_sends_the_headers(app, client) -> None:
    token = make_token(app.config["SECRET_KEY"], 1)
    for path in ("/", "/staff/login", "/health"):
        _check_headers(client.get(path), path)
    _login(client)
    for path in ("/staff/", "/voice/messages", "/staff/?date=2026-12-02"):
        _check_headers(client.get(path), path)
    response = client.get(f"/driver/run/{token}")      # a 404 page, still no-store and framed by none
    assert response.status_code == 404
    _check_headers(response, "/driver/run/…")


@pytest.fixture
def sandboxes(database_url, clock, tmp_path):  # type: ignore[no-untyped-def]
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
                      "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "LINE_SANDBOX": True,
                      "TWILIO_SANDBOX": True}, clock=clock)
    with app.app_context():
        yield app
    db.bound(app).engine.dispose()


def test_the_sandbox_pages_work_under_the_policy(sandboxes) -> None:
    client = sandboxes.test_client()
    _login(client)
    for path in ("/sandbox/line", "/sandbox/phone"):
        response = client.get(path)
        assert response.status_code == 200, path
        _check_headers(response, path)
        # Their scripts talk to this site only (connect-src 'self'): no absolute URL elsewhere.
        scripts = "".join(re.findall(r"<script[^>]*>(.*?)</script>", response.get_data(as_text=True), re.S))
        assert scripts and not re.search(r"fetch\(\s*['\"`]https?://", scripts), path


def test_no_template_has_an_inline_handler_or_a_script_without_the_nonce() -> None:
    assert TEMPLATES
    for template in TEMPLATES:
        text = template.read_text("utf-8")
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", text), template
        assert "javascript:" not in text, template       # blocked by the policy like an inline handler
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert 'nonce="{{ csp_nonce() }}"' in tag, (template, tag)


def test_the_session_cookie_settings_are_left_as_configured(database_url, tmp_path) -> None:
    settings = {"SESSION_COOKIE_SECURE": False, "SESSION_COOKIE_HTTPONLY": True, "SESSION_COOKIE_SAMESITE": "Strict"}
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "JOBS_URL": f"sqlite:///{tmp_path / 'j.db'}",
                      **settings})
    app.test_client().get("/")
    assert {k: app.config[k] for k in settings} == settings
    db.bound(app).engine.dispose()


# --- access logs ---------------------------------------------------------------------------------

def test_the_development_servers_access_log_has_no_driver_token(app, caplog) -> None:
    token = make_token(app.config["SECRET_KEY"], 1)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level("INFO", logger="werkzeug"):
            for path in (f"/driver/run/{token}", f"/picking/{token}", f"/driver/run/{token}/stops/1"):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10)
                except urllib.error.HTTPError:
                    pass
            time.sleep(0.2)
    finally:
        server.shutdown()
        thread.join(timeout=5)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")
    assert "/driver/run/[token]" in logged and "/picking/[token]" in logged
    assert token not in logged and token.split(".")[0] not in logged


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_gunicorns_access_log_has_no_driver_token(app, database_url, tmp_path) -> None:
    """The Procfile's web command with its config file: the access log line is there, the token is not."""
    token = make_token(app.config["SECRET_KEY"], 1)
    port, log = _free_port(), tmp_path / "access.log"
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="test-secret-key",
               JOBS_URL=f"sqlite:///{tmp_path / 'jobs.db'}")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--config", "python:otodoke.gunicorn_conf",
                               "--access-logfile", str(log), "--workers", "1", "--bind", f"127.0.0.1:{port}",
                               "otodoke:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/driver/run/{token}", timeout=5)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.2)
        for _ in range(50):
            if log.exists() and "/driver/run/" in log.read_text():
                break
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=20)
    text = log.read_text()
    assert "GET /driver/run/[token]" in text and token not in text


# --- processed_events retention ------------------------------------------------------------------

def test_event_ids_older_than_a_week_are_pruned_by_the_scheduled_job(app, clock) -> None:
    now = clock.now()
    with db.transaction(app) as session:
        for days, event_id in ((8, "old"), (6, "recent"), (0, "today")):
            session.add(ProcessedEvent(source="line", event_id=event_id, received_at=now - timedelta(days=days)))
    scheduled = {task.__name__ for task in jobs.get_huey(app)._registry._periodic_tasks}  # noqa: SLF001
    assert "prune_events" in scheduled
    # It is due once an hour, at minute 23.
    due = [task for task in jobs.get_huey(app).read_periodic(datetime(2026, 12, 1, 3, 23))
           if type(task).__name__ == "prune_events"]
    assert due and not [task for task in jobs.get_huey(app).read_periodic(datetime(2026, 12, 1, 3, 24))
                        if type(task).__name__ == "prune_events"]
    jobs.get_jobs(app).prune_events.call_local()
    with db.reading(app) as session:
        assert sorted(session.scalars(select(ProcessedEvent.event_id))) == ["recent", "today"]
    assert jobs.run_retention(app) == 0      # a second worker running it finds nothing left


def test_an_event_older_than_the_retention_is_ignored(line_app, line_client, line_fake) -> None:  # noqa: F811
    old = NOW_MS - 8 * 24 * 3600 * 1000
    assert post(line_client, body("follow", ts=old)).status_code == 200
    with db.reading(line_app) as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 0
    assert not line_fake.fake.calls
    assert post(line_client, body("follow")).status_code == 200
    with db.reading(line_app) as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1
