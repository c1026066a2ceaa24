"""The one module that talks to the LINE Messaging API (line-bot-sdk v3).

Everything else in the app calls ``LineApi`` and gets back a ``CallResult`` that says what happened
in our terms (accepted / duplicate / rejected / temporary failure); SDK exceptions never leak out.
The host comes from config ``LINE_API_HOST`` (tests and the sandbox point it at a local fake).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import urllib3
from flask import Flask
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    PushMessageRequest,
    RichMenuRequest,
    ShowLoadingAnimationRequest,
)
from linebot.v3.messaging.exceptions import ApiException

from bot.messages import Message
from outbox.backoff import retry_after_seconds

log = logging.getLogger(__name__)

# Short timeouts: a webhook must answer LINE within 2 s, and the outbox retries anything we give up on.
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CallResult:
    """The outcome of one API call. ``status`` is the HTTP status, or 0 when no response came back."""

    status: int
    detail: str = ""
    request_id: str | None = None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def temporary(self) -> bool:
        """Worth retrying later: no answer, rate limited, or a server error."""
        return self.status == 0 or self.status == 429 or self.status >= 500


def _retry_after(headers: Any) -> float | None:
    """LINE's ``Retry-After`` in seconds, within ``outbox.backoff.retry_after_seconds``'s range (``inf``,
    ``nan``, negative or unparsable: None, the normal backoff; more than an hour: an hour)."""
    if not headers:
        return None
    value = None
    for key in ("Retry-After", "retry-after"):
        if key in headers:
            value = headers[key]
            break
    return retry_after_seconds(value)


class LineApi:
    """A thin, thread-safe wrapper over ``MessagingApi`` (one shared urllib3 pool per app)."""

    def __init__(self, *, access_token: str, host: str | None = None, pool_size: int = 64) -> None:
        configuration = Configuration(host=host.rstrip("/") if host else None, access_token=access_token)
        configuration.connection_pool_maxsize = pool_size
        # No hidden urllib3 retries: the caller (webhook fallback or outbox) decides what to do.
        configuration.retries = 0
        self.host = host
        self._client = ApiClient(configuration)
        self._api = MessagingApi(self._client)
        self._blob = MessagingApiBlob(self._client)

    def close(self) -> None:
        self._client.close()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> CallResult:
        try:
            response = fn(*args, _request_timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), **kwargs)
        except ApiException as exc:
            body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else str(exc.body or "")
            headers = exc.headers or {}
            return CallResult(status=int(exc.status or 0), detail=body[:500] or str(exc.reason or ""),
                              request_id=headers.get("x-line-request-id"),
                              retry_after_s=_retry_after(headers))
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return CallResult(status=0, detail=f"{type(exc).__name__}: {exc}"[:500])
        headers = response.headers or {}
        return CallResult(status=response.status_code, request_id=headers.get("x-line-request-id"))

    def _post_json(self, path: str, body: dict[str, Any]) -> CallResult:
        """POST a body that already is LINE's wire JSON through the SDK's ApiClient (same auth, host,
        pool and errors as the generated methods, minus their pydantic request and response models:
        on the webhook's hot path those cost more than the rest of the reply)."""
        return self._call(self._client.call_api, path, "POST",
                          header_params={"Accept": "application/json", "Content-Type": "application/json"},
                          body=body, auth_settings=["Bearer"], response_types_map={},
                          _preload_content=True)

    def reply(self, reply_token: str, messages: Sequence[Message]) -> CallResult:
        """Answer an event with its reply token (free of quota; the token is single-use, ~1 minute).

        ``messages`` are the builders' wire dicts (bot/messages.py); the tests validate every such
        body against the SDK's ``ReplyMessageRequest`` (the fake LINE API does, like LINE)."""
        return self._post_json("/v2/bot/message/reply", {"replyToken": reply_token, "messages": list(messages),
                                                         "notificationDisabled": False})

    def push(self, to: str, messages: Sequence[Message], *, retry_key: str) -> CallResult:
        """Push with ``X-Line-Retry-Key``: LINE runs the same key once and answers 409 to repeats.

        Off the webhook's hot path (the outbox worker), so the body goes through the SDK's model:
        a payload it refuses raises ``ValueError`` here and becomes a dead message with the reason."""
        request = PushMessageRequest.from_dict({"to": to, "messages": list(messages)})
        return self._call(self._api.push_message_with_http_info, request, x_line_retry_key=retry_key)

    def show_loading(self, chat_id: str, seconds: int = 5) -> CallResult:
        """The "…" indicator while we work; 5–60 s in steps of 5."""
        seconds = max(5, min(60, (seconds + 4) // 5 * 5))
        request = ShowLoadingAnimationRequest(chat_id=chat_id, loading_seconds=seconds)
        return self._call(self._api.show_loading_animation_with_http_info, request)


    def install_rich_menu(self, request: RichMenuRequest, image: bytes, content_type: str) -> tuple[str | None, CallResult]:
        """Create the menu, upload its image and make it every user's default. Returns (id, last result)."""
        try:
            created = self._api.create_rich_menu(request, _request_timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except ApiException as exc:
            return None, CallResult(status=int(exc.status or 0), detail=str(exc.body or exc.reason)[:500])
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return None, CallResult(status=0, detail=f"{type(exc).__name__}: {exc}"[:500])
        menu_id = created.rich_menu_id
        # The SDK (3.27) never sets Content-Type for this call and would JSON-encode the bytes.
        result = self._call(self._blob.set_rich_menu_image_with_http_info, menu_id, image,
                            _headers={"Content-Type": content_type})
        if not result.ok:
            return menu_id, result
        return menu_id, self._call(self._api.set_default_rich_menu_with_http_info, menu_id)


def line_api(app: Flask) -> LineApi | None:
    """The app's client, or None when LINE is neither configured nor sandboxed."""
    return app.extensions.get("otodoke.line_api")


def install(app: Flask) -> None:
    """Create the shared client from config (called by the factory when LINE or the sandbox is on)."""
    token = app.config.get("LINE_CHANNEL_ACCESS_TOKEN") or "sandbox-token"
    app.extensions["otodoke.line_api"] = LineApi(access_token=token, host=app.config.get("LINE_API_HOST"))
