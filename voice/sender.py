"""Outbox senders for the "sms" and "voice" channels, through ``voice.twilio_client``.

Payload contract: "sms" → ``{"body": str}``; "voice" → ``{"twiml": str}`` (an outbound call that
plays that TwiML, e.g. the delivery-day ETA call). The recipient is an E.164 number.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from twilio.rest import Client

from outbox.models import OutboxMessage
from outbox.senders import Outcome, SendResult
from voice import twilio_client
from voice.twilio_client import TwilioSettings


@dataclass
class _TwilioSender:
    settings: TwilioSettings
    _client: Client | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def client(self) -> Client:
        with self._lock:
            if self._client is None:
                self._client = twilio_client.make_client(self.settings)
            return self._client


@dataclass
class TwilioSmsSender(_TwilioSender):
    channel: str = "sms"

    def send(self, message: OutboxMessage) -> SendResult:
        body = (message.payload or {}).get("body")
        if not isinstance(body, str) or not body:
            return SendResult(Outcome.DEAD, "sms payload has no body")
        return twilio_client.send_sms(self.client(), self.settings, to=message.recipient, body=body)


@dataclass
class TwilioVoiceSender(_TwilioSender):
    channel: str = "voice"

    def send(self, message: OutboxMessage) -> SendResult:
        twiml = (message.payload or {}).get("twiml")
        if not isinstance(twiml, str) or not twiml:
            return SendResult(Outcome.DEAD, "voice payload has no twiml")
        return twilio_client.create_call(self.client(), self.settings, to=message.recipient, twiml=twiml)
