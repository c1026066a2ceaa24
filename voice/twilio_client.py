"""The one module that talks to Twilio's REST API (SMS, outbound calls, deleting call recordings).

The base URL is configurable (``TWILIO_API_BASE_URL``) so that tests and the sandbox point the real
twilio client at a fake server on 127.0.0.1; nothing else about the client changes. Errors are
classified here into the outbox's SENT / RETRY / DEAD so callers never interpret HTTP codes; a 429's
``Retry-After`` (when Twilio sends one) becomes the result's ``retry_after_s``, as for LINE. twilio 9.13
raises one of two exceptions for an error answer: ``TwilioRestException`` (the classic body) or
``TwilioServiceException`` (an RFC-9457 problem body); both are classified by HTTP status and code.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from requests.exceptions import RequestException
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from outbox.backoff import retry_after_seconds
from outbox.senders import Outcome, SendResult

# A webhook or an outbox tick must never hang on Twilio; the outbox retries later instead.
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TwilioSettings:
    account_sid: str
    auth_token: str
    from_number: str
    base_url: str | None = None
    status_callback: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "TwilioSettings":
        base = str(config.get("PUBLIC_BASE_URL") or "").rstrip("/")
        return cls(account_sid=str(config.get("TWILIO_ACCOUNT_SID") or ""),
                   auth_token=str(config.get("TWILIO_AUTH_TOKEN") or ""),
                   from_number=str(config.get("TWILIO_FROM_NUMBER") or ""),
                   base_url=config.get("TWILIO_API_BASE_URL") or None,
                   status_callback=f"{base}/voice/status" if base else None)


class RetryAfterHttpClient(TwilioHttpClient):
    """The twilio HTTP client, remembering (per thread) the ``Retry-After`` of the 429 it last received.

    twilio 9.13 turns an error answer into ``TwilioRestException(status, uri, msg, code, method,
    details)`` (``twilio.base.version.Version.exception``): the headers are dropped there. The answer
    with its headers passes through ``HttpClient.request`` first, and ``Client(http_client=...)`` is
    the library's own way to supply that client. The exception is raised in the calling thread right
    after ``request`` returns, so a thread-local ties the header to that exception's request even when
    outbox threads share one client (``TwilioHttpClient._test_only_last_response`` is one slot for all
    threads, and named as not for this)."""

    def __init__(self, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._last = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        self._last.retry_after_s = None     # a network error must not leave an older request's wait
        self._last.status = None
        response = super().request(*args, **kwargs)
        self._last.status = response.status_code
        if response.status_code == 429:
            self._last.retry_after_s = _retry_after_s(response.headers)
        return response

    def last_retry_after_s(self) -> float | None:
        """Seconds Twilio asked us to wait in this thread's last answer, when it was a 429 saying so."""
        return getattr(self._last, "retry_after_s", None)

    def last_status(self) -> int | None:
        """The HTTP status of this thread's last answer (None after a network error)."""
        return getattr(self._last, "status", None)


def _retry_after_s(headers: Any) -> float | None:
    """``Retry-After`` in seconds (requests' headers are case-insensitive), within
    ``outbox.backoff.retry_after_seconds``'s range; an HTTP date or nonsense is ignored and the normal
    backoff applies."""
    return retry_after_seconds((headers or {}).get("Retry-After"))


def make_client(settings: TwilioSettings) -> Client:
    client = Client(settings.account_sid, settings.auth_token,
                    http_client=RetryAfterHttpClient(timeout=HTTP_TIMEOUT_S))
    if settings.base_url:
        client.api.base_url = settings.base_url.rstrip("/")
    return client


# A 4xx other than these will never succeed (21211 invalid number, 21610 unsubscribed, 404, 401 …).
_RETRY_4XX = frozenset({408, 429})


def _status(value: Any) -> int | None:
    """An HTTP status from an exception field: ``TwilioServiceException.status`` is the problem body's
    ``status`` member, which the SDK takes from the JSON as it is (it may be a string, or nonsense)."""
    try:
        status = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return status if 100 <= status <= 599 else None


def _by_status(status: int | None, detail: str, retry_after_s: float | None) -> SendResult:
    if status is None:
        return SendResult(Outcome.RETRY, detail)      # no readable status: like a network error
    if status == 429:
        return SendResult(Outcome.RETRY, detail, retry_after_s=retry_after_s)
    if status >= 500 or status in _RETRY_4XX:
        return SendResult(Outcome.RETRY, detail)
    return SendResult(Outcome.DEAD, detail)


def classify(error: Exception, *, retry_after_s: float | None = None,
             http_status: int | None = None) -> SendResult:
    """Temporary (retry) or permanent (dead)? 429, 408, 5xx and network trouble are temporary; a 429
    carries ``retry_after_s`` (``failed`` reads it from the client) for the outbox to honour. A dead
    result's detail keeps Twilio's status, code and message: staff read it on the dead-message list.
    ``http_status`` (the answer's own status) stands in when a problem body's ``status`` is unreadable."""
    if isinstance(error, TwilioRestException):
        detail = f"twilio {error.status} code={error.code}: {error.msg}"[:500]
        return _by_status(_status(error.status) or http_status, detail, retry_after_s)
    if isinstance(error, TwilioServiceException):
        # Checked before the TwilioException catch-all below, which would retry it for ever.
        status = _status(error.status) or http_status
        text = " – ".join(str(part) for part in (error.title, error.detail) if part)
        detail = f"twilio {status} code={error.code}: {text}"[:500]
        return _by_status(status, detail, retry_after_s)
    if isinstance(error, (RequestException, TwilioException, OSError)):
        return SendResult(Outcome.RETRY, f"{type(error).__name__}: {error}"[:500])
    raise error


def failed(client: Client, error: Exception) -> SendResult:
    """``classify`` with the ``Retry-After`` and status of the answer that raised ``error`` (this
    thread's last)."""
    http = client.http_client
    if isinstance(http, RetryAfterHttpClient):
        return classify(error, retry_after_s=http.last_retry_after_s(), http_status=http.last_status())
    return classify(error)


def send_sms(client: Client, settings: TwilioSettings, *, to: str, body: str) -> SendResult:
    try:
        message = client.messages.create(to=to, from_=settings.from_number, body=body)
    except Exception as error:  # noqa: BLE001 - classified, re-raised when unknown
        return failed(client, error)
    return SendResult(Outcome.SENT, provider_ref=message.sid)


def create_call(client: Client, settings: TwilioSettings, *, to: str, twiml: str) -> SendResult:
    kwargs: dict[str, Any] = {"to": to, "from_": settings.from_number, "twiml": twiml}
    if settings.status_callback:
        kwargs["status_callback"] = settings.status_callback
    try:
        call = client.calls.create(**kwargs)
    except Exception as error:  # noqa: BLE001
        return failed(client, error)
    return SendResult(Outcome.SENT, provider_ref=call.sid)


# A RecordingUrl is ``…/2010-04-01/Accounts/AC…/Recordings/RE…`` (a media suffix such as ``.mp3`` may
# follow); the SID is 'RE' and 32 hex digits.
_RECORDING_SID = re.compile(r"/Recordings/(RE[0-9a-fA-F]{32})(?:\.[A-Za-z0-9]+)?/?$")


def recording_sid(recording_url: str) -> str | None:
    """The recording SID in a stored RecordingUrl, or None when the URL is not a Twilio recording's."""
    found = _RECORDING_SID.search(recording_url.split("?", 1)[0])
    return found.group(1) if found else None


def delete_recording(client: Client, settings: TwilioSettings, *, sid: str) -> SendResult:
    """Delete one recording (and its media) at Twilio. A 404 is success: it is already gone (an earlier
    attempt whose answer was lost, or deleted in the console), and a retry of a deletion must not die."""
    try:
        client.api.v2010.accounts(settings.account_sid).recordings(sid).delete()
    except (TwilioRestException, TwilioServiceException) as error:
        if _status(error.status) == 404:
            return SendResult(Outcome.SENT, "already deleted (404)", provider_ref=sid)
        return failed(client, error)
    except Exception as error:  # noqa: BLE001
        return failed(client, error)
    return SendResult(Outcome.SENT, provider_ref=sid)


# Twilio keeps no idempotency key, so a send whose answer was lost (a timeout, a worker killed after the
# request) is reconciled before it is repeated: look for what our number already sent that recipient
# since the first attempt (issue 12, hole 9). A minute earlier than the first attempt allows for clock
# differences between us and Twilio.
LOOKBACK_MARGIN = timedelta(minutes=1)


def find_sms(client: Client, settings: TwilioSettings, *, to: str, body: str, since: datetime) -> str | None:
    """The SID of an SMS with this body already sent to ``to`` since ``since``, or None."""
    for message in client.messages.list(to=to, from_=settings.from_number,
                                        date_sent_after=since - LOOKBACK_MARGIN, limit=50):
        if message.body == body:
            return message.sid
    return None


def find_call(client: Client, settings: TwilioSettings, *, to: str, since: datetime) -> str | None:
    """The SID of a call already placed to ``to`` since ``since``, or None (one call per outbox row: an
    ETA call to this number in that window is this row's)."""
    for call in client.calls.list(to=to, from_=settings.from_number,
                                  start_time_after=since - LOOKBACK_MARGIN, limit=50):
        return call.sid
    return None


def already_sent(client: Client, lookup: Any) -> SendResult | None:
    """Run a ``find_…`` lookup on ``client``: SENT with the SID when found, None when not, RETRY/DEAD
    when Twilio cannot be asked (never send blind after a lost answer)."""
    try:
        sid = lookup()
    except Exception as error:  # noqa: BLE001 - classified, re-raised when unknown
        return failed(client, error)
    return SendResult(Outcome.SENT, provider_ref=sid) if sid else None
