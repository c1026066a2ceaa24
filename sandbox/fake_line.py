"""A small fake of the LINE Messaging API: records every request and behaves like LINE where it matters.

Used by the tests (a threaded werkzeug server on 127.0.0.1, see ``serve``) and by the sandbox (the same
state object mounted inside the app, ``sandbox/line.py``). It validates bodies with the SDK's own models
plus LINE's documented limits and answers 400 like LINE; reply tokens are single-use and can be
expired; ``X-Line-Retry-Key`` is honoured (409 on a key already accepted); push can be scripted to fail.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterator

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from werkzeug.wrappers import Request, Response

from bot.messages import LimitError, MAX_BUBBLES, MAX_DATA, MAX_TEXT


@dataclass
class Recorded:
    seq: int
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    status: int
    to: str | None = None          # the LINE user the messages went to (push, or reply via token owner)
    at: float = field(default_factory=time.time)   # when it arrived (benchmarks: the last reply's time)


def _limits(messages: list[dict[str, Any]]) -> None:
    """LINE's limits that neither the SDK nor the OpenAPI spec enforce (docs/design-notes.md, "LINE webhook")."""
    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            yield node
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)

    for m in messages:
        if m.get("type") == "text" and len(m.get("text", "")) > MAX_TEXT:
            raise LimitError("text over 5000 characters")
        contents = m.get("contents") or {}
        if contents.get("type") == "carousel" and len(contents.get("contents", [])) > MAX_BUBBLES:
            raise LimitError("carousel over 12 bubbles")
        for node in walk(m):
            if node.get("type") == "postback" and len(node.get("data", "")) > MAX_DATA:
                raise LimitError("postback data over 300 characters")


@dataclass
class FakeLine:
    """The fake platform's state. Thread-safe; inspect ``calls`` in tests."""

    calls: list[Recorded] = field(default_factory=list)
    used_tokens: set[str] = field(default_factory=set)
    expired_tokens: set[str] = field(default_factory=set)
    expire_all_tokens: bool = False
    token_owner: dict[str, str] = field(default_factory=dict)
    accepted_keys: dict[str, str] = field(default_factory=dict)
    push_failures: list[int] = field(default_factory=list)   # statuses to answer the next pushes with
    push_down_status: int | None = None                        # answer every push with this while set
    retry_after_s: int | None = None
    validate: bool = True      # SDK-model validation of every body; the benchmark turns it off to save CPU
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _seq: Any = field(default_factory=lambda: itertools.count(1), repr=False)

    # -- inspection helpers -------------------------------------------------------------------
    def replies(self, *, ok_only: bool = True) -> list[Recorded]:
        return [c for c in list(self.calls) if c.path.endswith("/message/reply") and (c.status == 200 or not ok_only)]

    def pushes(self, *, ok_only: bool = True) -> list[Recorded]:
        return [c for c in list(self.calls) if c.path.endswith("/message/push") and (c.status == 200 or not ok_only)]

    def delivered(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Every message that reached a user (accepted replies and pushes), oldest first."""
        out: list[dict[str, Any]] = []
        for c in list(self.calls):
            if c.status == 200 and c.path.endswith(("/message/reply", "/message/push")):
                if user_id is None or c.to == user_id:
                    out.extend(c.body.get("messages", []))
        return out

    def texts(self, user_id: str | None = None) -> list[str]:
        return [json.dumps(m, ensure_ascii=False) if m.get("type") != "text" else m["text"]
                for m in self.delivered(user_id)]

    def stats(self) -> dict[str, Any]:
        """Counts for benchmarks: accepted replies, distinct reply tokens, statuses."""
        calls = list(self.calls)
        replies = [c for c in calls if c.path.endswith("/message/reply")]
        statuses: dict[str, int] = {}
        for c in calls:
            statuses[str(c.status)] = statuses.get(str(c.status), 0) + 1
        return {"calls": len(calls), "replies_ok": sum(1 for c in replies if c.status == 200),
                "last_reply_at": max((c.at for c in replies if c.status == 200), default=0.0),
                "reply_tokens": len({c.body.get("replyToken") for c in replies if c.status == 200}),
                "pushes_ok": sum(1 for c in calls if c.path.endswith("/message/push") and c.status == 200),
                "statuses": statuses}

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- the API --------------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answer one API call: (status, JSON body, extra headers)."""
        try:
            if path.endswith("/content"):   # a rich menu image upload: keep only its size
                body = {"bytes": len(raw), "contentType": headers.get("Content-Type", "")}
            else:
                body = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            return self._record(method, path, headers, raw.decode("utf-8", "replace"), 400,
                                {"message": "The request body is not valid JSON"})
        if method == "GET" and path == "/_fake/stats":
            return 200, self.stats(), {}
        if not headers.get("Authorization", "").startswith("Bearer "):
            return self._record(method, path, headers, body, 401, {"message": "Authentication failed"})
        path = "/" + path.lstrip("/")
        if method == "POST" and path == "/v2/bot/message/reply":
            return self._reply(method, path, headers, body)
        if method == "POST" and path == "/v2/bot/message/push":
            return self._push(method, path, headers, body)
        if method == "POST" and path == "/v2/bot/chat/loading/start":
            return self._record(method, path, headers, body, 202, {})
        if method == "GET" and path.startswith("/v2/bot/profile/"):
            user = path.rsplit("/", 1)[-1]
            return self._record(method, path, headers, body, 200, {"userId": user, "displayName": "デモ利用者"})
        if method == "POST" and path == "/v2/bot/richmenu":
            return self._record(method, path, headers, body, 200, {"richMenuId": "richmenu-" + uuid.uuid4().hex})
        if method == "POST" and (path.startswith("/v2/bot/user/all/richmenu/") or path.endswith("/content")):
            return self._record(method, path, headers, body, 200, {})
        return self._record(method, path, headers, body, 404, {"message": "Not found"})

    def _record(self, method: str, path: str, headers: dict[str, str], body: Any, status: int,
                answer: dict[str, Any], to: str | None = None,
                extra: dict[str, str] | None = None) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.calls.append(Recorded(next(self._seq), method, path, dict(headers), body, status, to))
        return status, answer, dict(extra or {}, **{"x-line-request-id": uuid.uuid4().hex})

    def _validate(self, model: Any, body: dict[str, Any]) -> str | None:
        if not self.validate:
            return None
        try:
            model.from_dict(body)
            _limits(body.get("messages") or [])
        except (ValueError, LimitError) as exc:
            return str(exc).splitlines()[0][:300]
        return None

    def _reply(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]):  # type: ignore[no-untyped-def]
        from linebot.v3.messaging import ReplyMessageRequest
        error = self._validate(ReplyMessageRequest, body)
        if error:
            return self._record(method, path, headers, body, 400, {"message": error})
        token = body.get("replyToken", "")
        with self._lock:
            bad = token in self.used_tokens or token in self.expired_tokens or self.expire_all_tokens
            self.used_tokens.add(token)
        if bad:
            return self._record(method, path, headers, body, 400, {"message": "Invalid reply token"})
        return self._record(method, path, headers, body, 200, {"sentMessages": self._sent(body)},
                            to=self.token_owner.get(token))

    def _push(self, method: str, path: str, headers: dict[str, str], body: dict[str, Any]):  # type: ignore[no-untyped-def]
        from linebot.v3.messaging import PushMessageRequest
        error = self._validate(PushMessageRequest, body)
        if error:
            return self._record(method, path, headers, body, 400, {"message": error})
        key = {k.lower(): v for k, v in headers.items()}.get("x-line-retry-key")
        with self._lock:
            failure = self.push_failures.pop(0) if self.push_failures else self.push_down_status
            if failure is None and key and key in self.accepted_keys:
                failure = 409
            elif failure is None and key:
                self.accepted_keys[key] = uuid.uuid4().hex
        if failure == 409:
            return self._record(method, path, headers, body, 409,
                                {"message": "The retry key is already accepted", "sentMessages": []})
        if failure is not None:
            extra = {"Retry-After": str(self.retry_after_s)} if failure == 429 and self.retry_after_s else None
            return self._record(method, path, headers, body, failure, {"message": "fake failure"}, extra=extra)
        return self._record(method, path, headers, body, 200, {"sentMessages": self._sent(body)},
                            to=body.get("to"))

    @staticmethod
    def _sent(body: dict[str, Any]) -> list[dict[str, str]]:
        return [{"id": str(time.time_ns() + i), "quoteToken": uuid.uuid4().hex}
                for i, _ in enumerate(body.get("messages", []))]

    # -- WSGI -----------------------------------------------------------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        status, answer, extra = self.handle(request.method, request.path, dict(request.headers),
                                            request.get_data())
        response = Response(json.dumps(answer), status=status, mimetype="application/json", headers=extra)
        return response(environ, start_response)


@dataclass
class RunningFake:
    fake: FakeLine
    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like LINE's API: the SDK's urllib3 pool reuses its connections.

    (Werkzeug's development server answers ``Connection: close`` to everything, so each reply cost
    a new TCP connection and a new server thread: not what LINE does, and most of the fake's CPU.)
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body leave at once (no 40 ms delayed-ACK stall)
    fake: FakeLine   # set on the subclass made by ``serve``

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        status, answer, extra = self.fake.handle(self.command, path, dict(self.headers.items()), raw)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer   # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no access log
        pass


def serve(fake: FakeLine | None = None, port: int = 0) -> RunningFake:
    """Run the fake on 127.0.0.1 in a background thread (one thread per connection, kept alive)."""
    fake = fake or FakeLine()
    handler = type("FakeLineHandler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-line-api", daemon=True)
    thread.start()
    return RunningFake(fake, server, thread)


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Run the fake LINE Messaging API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-validate", action="store_true", help="skip body validation (benchmarks)")
    args = parser.parse_args()
    running = serve(FakeLine(validate=not args.no_validate), port=args.port)
    print(f"fake LINE API on {running.url}", flush=True)
    running.thread.join()
