"""Request bodies are capped (issue 12, hole 3): Werkzeug's MAX_CONTENT_LENGTH stops reading a chunked
body (no Content-Length) at the cap with a 413, so a 300 MB POST with a bad signature no longer grows
the process by a gigabyte. The stream below counts what the app read from the socket."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import EnvironBuilder, run_wsgi_app

from core.config import MAX_BODY_BYTES
from tests.line_support import line_app, line_client, line_fake  # noqa: F401  (fixtures)
from tests.voice_sim import voice_app  # noqa: F401  (fixture)


class EndlessBody(io.RawIOBase):
    """A huge chunked upload (it ends at 50 MB so that a missing cap fails the test instead of filling
    the machine's memory), counting the bytes the server took from it."""

    def __init__(self) -> None:
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        size = min(len(buffer), 50_000_000 - self.taken)
        buffer[:size] = b"a" * size
        self.taken += size
        return size


def _send(client, path: str, content_type: str, length: int | None):  # type: ignore[no-untyped-def]
    stream = EndlessBody()
    environ = EnvironBuilder(path=path, method="POST", content_type=content_type,
                             headers={"X-Line-Signature": "bm9wZQ==", "X-Twilio-Signature": "bm9wZQ=="}
                             ).get_environ()
    environ["wsgi.input"] = io.BufferedReader(stream)
    environ.pop("CONTENT_LENGTH", None)
    if length is None:
        # No Content-Length and wsgi.input_terminated: how gunicorn and Werkzeug hand over a chunked body.
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(length)
    app_iter, status, _headers = run_wsgi_app(client.application, environ)
    b"".join(app_iter)
    return int(status.split()[0]), stream.taken


def _chunked(client, path: str, content_type: str):  # type: ignore[no-untyped-def]
    return _send(client, path, content_type, None)


def test_the_cap_is_set(app) -> None:
    assert app.config["MAX_CONTENT_LENGTH"] == MAX_BODY_BYTES <= 1_000_000


@pytest.mark.timeout(60)
def test_an_endless_chunked_line_body_is_413_after_reading_at_most_the_cap(line_client) -> None:  # noqa: F811
    response, taken = _chunked(line_client, "/line/callback", "application/json")
    assert response == 413
    assert taken <= MAX_BODY_BYTES + 65_536


@pytest.mark.timeout(60)
def test_an_endless_chunked_twilio_form_is_413_after_reading_at_most_the_cap(voice_app) -> None:  # noqa: F811
    response, taken = _chunked(voice_app.test_client(), "/voice/incoming", "application/x-www-form-urlencoded")
    assert response == 413
    assert taken <= MAX_BODY_BYTES + 65_536


def test_a_declared_oversize_body_is_413_unread(line_client) -> None:  # noqa: F811
    response, taken = _send(line_client, "/line/callback", "application/json", 300 * 1024 * 1024)
    assert response == 413 and taken == 0


def test_a_small_chunked_twilio_form_still_works(voice_app) -> None:  # noqa: F811
    from urllib.parse import urlencode

    from tests.voice_sim import PUBLIC_BASE, TOKEN
    from twilio.request_validator import RequestValidator

    params = {"CallSid": "CAchunked", "From": "+81238849999", "To": "+815011112222"}
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC_BASE + "/voice/incoming", params)
    environ = EnvironBuilder(path="/voice/incoming", method="POST",
                             content_type="application/x-www-form-urlencoded",
                             headers={"X-Twilio-Signature": signature}).get_environ()
    environ["wsgi.input"] = io.BytesIO(urlencode(params).encode())
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True
    app_iter, status, _headers = run_wsgi_app(voice_app, environ)
    assert status.startswith("200") and b"<Gather" in b"".join(app_iter)
