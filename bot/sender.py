"""The outbox sender for channel "line": one push per outbox row, retry key = the row's id.

Classification (developers.line.biz/en/docs/messaging-api/retrying-api-request):
2xx → SENT; 409 → SENT (LINE already accepted this retry key, so the message went out once);
429 / 5xx / no answer → RETRY (``Retry-After`` honoured); 400 / 401 / 403 / other 4xx → DEAD with
LINE's reason kept, because sending the same body again cannot succeed.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.line_client import LineApi
from outbox.models import OutboxMessage
from outbox.senders import Outcome, SendResult


@dataclass
class LineSender:
    api: LineApi
    channel: str = "line"

    def send(self, message: OutboxMessage) -> SendResult:
        messages = (message.payload or {}).get("messages") or []
        if not messages:
            return SendResult(Outcome.DEAD, detail="payload has no messages")
        try:
            result = self.api.push(message.recipient, messages, retry_key=message.id)
        except ValueError as exc:
            # The SDK's pydantic models refused the body: a bug in whoever queued it, never retryable.
            return SendResult(Outcome.DEAD, detail=f"invalid LINE message: {exc}"[:500])
        if result.ok:
            return SendResult(Outcome.SENT, provider_ref=result.request_id)
        if result.status == 409:
            return SendResult(Outcome.SENT, detail="409: retry key already accepted",
                              provider_ref=result.request_id)
        if result.temporary:
            return SendResult(Outcome.RETRY, detail=f"{result.status}: {result.detail}",
                              retry_after_s=result.retry_after_s)
        return SendResult(Outcome.DEAD, detail=f"{result.status}: {result.detail}")
