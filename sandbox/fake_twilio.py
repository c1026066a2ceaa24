"""A small fake of Twilio's REST API (Messages, Calls, deleting Recordings), as a WSGI app.

Tests run it on 127.0.0.1 in a thread (``serve``) and point the real twilio client at it; the sandbox
mounts the same app inside Otodoke (``/sandbox/twilio``) so that staff can see the SMS and calls the
phone line would send, without a Twilio account. It checks what Twilio checks first (Basic auth with
the account SID, the account in the path, the required fields) and records every request.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


@dataclass
class FakeRequest:
    method: str
    path: str
    form: dict[str, str]
    account_sid: str


@dataclass
class FakeTwilio:
    """Records requests; ``script`` queues (status, twilio error code) failures to answer next."""

    prefix: str = ""
    requests: list[FakeRequest] = field(default_factory=list)
    script: list[tuple[int, int]] = field(default_factory=list)
    # What was created, per resource ("Messages.json", "Calls.json"), for the list (GET) endpoints.
    created: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Answer a create (POST) after recording it, then fail the connection: Twilio got it, we never knew.
    lose_next_answer: bool = False
    # Recording SIDs deleted (or never there): a DELETE of one of them answers 404, as Twilio does.
    deleted_recordings: set[str] = field(default_factory=set)
    # Seconds a scripted 429 asks the client to wait (a ``Retry-After`` header); None sends none.
    retry_after_s: int | None = None
    # Answer errors as RFC-9457 problem details (type, title, status, code, detail), the form newer
    # Twilio APIs use and twilio 9.13 raises as ``TwilioServiceException``; False: the classic body.
    problem_details: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seq: Any = field(default_factory=lambda: itertools.count(1), repr=False)

    def messages(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.path.endswith("/Messages.json") and r.method == "POST"]

    def calls(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.path.endswith("/Calls.json") and r.method == "POST"]

    def recording_deletes(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.method == "DELETE" and "/Recordings/" in r.path]

    def lookups(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.method == "GET"]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        path = request.path[len(self.prefix):] if request.path.startswith(self.prefix) else request.path
        parts = path.strip("/").split("/")
        if request.method == "DELETE" and len(parts) == 5 and parts[:2] == ["2010-04-01", "Accounts"] \
                and parts[3] == "Recordings":
            return self._delete_recording(request, path, parts[2], parts[4])
        if request.method not in ("GET", "POST") or len(parts) != 4 or parts[0] != "2010-04-01" \
                or parts[1] != "Accounts":
            return _error(404, 20404, "The requested resource was not found")
        account, resource = parts[2], parts[3]
        user = _basic_user(request.headers.get("Authorization", ""))
        if user != account:
            return _error(401, 20003, "Authenticate")
        if request.method == "GET":
            return self._list(request, path, account, resource)
        form = {k: v for k, v in request.form.items()}
        with self._lock:
            self.requests.append(FakeRequest(request.method, path, form, account))
            failure = self.script.pop(0) if self.script else None
            n = next(self._seq)
        if failure:
            return self._scripted(failure)
        if resource == "Messages.json":
            if not form.get("To") or not form.get("From") or not form.get("Body"):
                return _error(400, 21604, "A 'To', 'From' and 'Body' are required")
            return self._create(resource, {"sid": f"SM{uuid.uuid4().hex}", "account_sid": account,
                                           "to": form["To"], "from": form["From"], "body": form["Body"],
                                           "status": "queued", "num_segments": "1",
                                           "direction": "outbound-api", "seq": n})
        if resource == "Calls.json":
            if not form.get("To") or not form.get("From") or not (form.get("Twiml") or form.get("Url")):
                return _error(400, 21205, "A 'To', 'From' and 'Twiml' or 'Url' are required")
            return self._create(resource, {"sid": f"CA{uuid.uuid4().hex}", "account_sid": account,
                                           "to": form["To"], "from": form["From"], "status": "queued",
                                           "direction": "outbound-api", "seq": n})
        return _error(404, 20404, "The requested resource was not found")

    def _scripted(self, failure: tuple[int, int]) -> Response:
        response = (_problem(failure[0], failure[1], "scripted failure") if self.problem_details
                    else _error(failure[0], failure[1], "scripted failure"))
        if failure[0] == 429 and self.retry_after_s is not None:
            response.headers["Retry-After"] = str(self.retry_after_s)
        return response

    def _create(self, resource: str, record: dict[str, Any]) -> Response:
        with self._lock:
            self.created.setdefault(resource, []).append(record)
            lose, self.lose_next_answer = self.lose_next_answer, False
        if lose:
            return Response("", status=599)   # the "answer never arrived" stand-in: a failure to retry
        return _created(record)

    def _delete_recording(self, request: Request, path: str, account: str, resource: str) -> Response:
        """``DELETE …/Recordings/{Sid}.json``: 204 the first time, 404 once it is gone."""
        if _basic_user(request.headers.get("Authorization", "")) != account:
            return _error(401, 20003, "Authenticate")
        sid = resource.removesuffix(".json")
        with self._lock:
            self.requests.append(FakeRequest("DELETE", path, {}, account))
            failure = self.script.pop(0) if self.script else None
            gone = sid in self.deleted_recordings
            if not failure:
                self.deleted_recordings.add(sid)
        if failure:
            return self._scripted(failure)
        if gone:
            return _error(404, 20404, f"The requested resource /Recordings/{sid}.json was not found")
        return Response("", status=204)

    def _list(self, request: Request, path: str, account: str, resource: str) -> Response:
        """Messages / Calls list filtered by To and From (the date filters are recorded, not applied)."""
        args = {k: v for k, v in request.args.items()}
        with self._lock:
            self.requests.append(FakeRequest("GET", path, args, account))
            rows = [r for r in self.created.get(resource, [])
                    if r["account_sid"] == account and (not args.get("To") or r["to"] == args["To"])
                    and (not args.get("From") or r["from"] == args["From"])]
        key = "messages" if resource == "Messages.json" else "calls"
        body = {key: rows, "page": 0, "page_size": 50, "next_page_uri": None, "previous_page_uri": None,
                "first_page_uri": path, "uri": path, "start": 0, "end": max(0, len(rows) - 1)}
        return Response(json.dumps(body), status=200, content_type="application/json")


def _basic_user(header: str) -> str | None:
    if not header.startswith("Basic "):
        return None
    try:
        return base64.b64decode(header[6:]).decode("utf-8").split(":", 1)[0]
    except (ValueError, UnicodeDecodeError):
        return None


def _created(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=201, content_type="application/json")


def _error(status: int, code: int, message: str) -> Response:
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}
    return Response(json.dumps(body), status=status, content_type="application/json")


def _problem(status: int, code: int, title: str) -> Response:
    body = {"type": f"https://www.twilio.com/docs/errors/{code}", "title": title, "status": status,
            "code": code, "detail": f"scripted problem {code}", "instance": f"/problems/{uuid.uuid4().hex}"}
    return Response(json.dumps(body), status=status, content_type="application/problem+json")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # tests read the records, not stderr
        pass


@contextmanager
def serve(fake: FakeTwilio | None = None) -> Iterator[tuple[FakeTwilio, str]]:
    """Run a fake on 127.0.0.1 (a free port) in a thread; yields (fake, base URL)."""
    fake = fake or FakeTwilio()
    server = make_server("127.0.0.1", 0, fake, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
