"""The boundary between the outbox worker and the channel APIs.

A sender delivers one outbox row and classifies the outcome; the worker decides what happens next.
The real LINE and Twilio senders live with their channels (``bot/``, ``voice/``); ``RecordingSender``
is the in-memory fake for tests and for channels that are not configured in the sandbox.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from typing import Protocol

from outbox.models import OutboxMessage


class Outcome(str, enum.Enum):
    SENT = "sent"            # accepted (for LINE also 409: the retry key was already accepted)
    RETRY = "retry"          # temporary: 5xx, 429, timeout, connection error
    DEAD = "dead"            # permanent: 400/401/403 and the like; retrying cannot help


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    detail: str = ""
    provider_ref: str | None = None
    retry_after_s: float | None = None   # honoured when the API says how long to wait (429)


class Sender(Protocol):
    channel: str

    def send(self, message: OutboxMessage) -> SendResult: ...


@dataclass
class RecordedSend:
    id: str
    channel: str
    recipient: str
    kind: str
    payload: dict


@dataclass
class RecordingSender:
    """Records every send; ``script`` can queue outcomes to return (default: SENT)."""

    channel: str
    sent: list[RecordedSend] = field(default_factory=list)
    script: list[SendResult] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, message: OutboxMessage) -> SendResult:
        with self._lock:
            result = self.script.pop(0) if self.script else SendResult(Outcome.SENT)
            self.sent.append(RecordedSend(message.id, message.channel, message.recipient,
                                          message.kind, dict(message.payload)))
            return result
