"""Outbox senders for the "sms", "voice" and "recording" channels, through ``voice.twilio_client``.

Payload contract: "sms" → ``{"body": str}``; "voice" → ``{"say": [str, ...]}`` (a call that reads the
sentences slowly in the configured Japanese voice: the domains queue words, not TwiML) or ``{"twiml": str}``
(a call that plays that TwiML as built by the phone line, e.g. the delivery-day ETA call). The recipient is an E.164 number.
"recording" → ``{"recording_url": str}``: delete that call recording at Twilio (a resident's erasure); the
recipient only names the row it came from (``voice_message:<id>``).

A second attempt first asks Twilio whether the first one got through (``twilio_client.find_sms`` /
``find_call``): Twilio takes no idempotency key, and a worker killed after its request, or a timeout,
would otherwise send the SMS or place the call twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from twilio.rest import Client

from outbox.models import OutboxMessage
from outbox.senders import Outcome, SendResult
from voice import twilio_client, twiml as twiml_builder
from voice.twilio_client import TwilioSettings


def _tried_before(message: OutboxMessage) -> bool:
    """An earlier attempt may have reached Twilio (its answer lost to a timeout or a crash): the row was
    leased before this attempt (``attempts`` counts leases, this one included)."""
    return (message.attempts or 0) > 1 and message.first_attempt_at is not None


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
        if _tried_before(message):
            found = twilio_client.already_sent(self.client(), lambda: twilio_client.find_sms(
                self.client(), self.settings, to=message.recipient, body=body,
                since=message.first_attempt_at))   # type: ignore[arg-type]
            if found is not None:
                return found
        return twilio_client.send_sms(self.client(), self.settings, to=message.recipient, body=body)


@dataclass
class TwilioVoiceSender(_TwilioSender):
    channel: str = "voice"
    style: twiml_builder.VoiceStyle = field(default_factory=twiml_builder.VoiceStyle)

    def send(self, message: OutboxMessage) -> SendResult:
        twiml = self.twiml_for(message.payload or {})
        if twiml is None:
            return SendResult(Outcome.DEAD, "voice payload has neither sentences to say nor twiml")
        if _tried_before(message):
            found = twilio_client.already_sent(self.client(), lambda: twilio_client.find_call(
                self.client(), self.settings, to=message.recipient,
                since=message.first_attempt_at))   # type: ignore[arg-type]
            if found is not None:
                return found
        return twilio_client.create_call(self.client(), self.settings, to=message.recipient, twiml=twiml)

    def twiml_for(self, payload: dict) -> str | None:
        """The call's TwiML: the sentences read in this line's voice, or the TwiML the phone line built."""
        sentences = payload.get("say")
        if isinstance(sentences, list) and sentences and all(isinstance(s, str) and s for s in sentences):
            return str(twiml_builder.goodbye(self.style, sentences))
        built = payload.get("twiml")
        return built if isinstance(built, str) and built else None


@dataclass
class TwilioRecordingDeleter(_TwilioSender):
    """Deletes a stored call recording at Twilio. Repeating it is harmless (404 counts as done), so a
    retry needs no lookup first."""

    channel: str = "recording"

    def send(self, message: OutboxMessage) -> SendResult:
        url = (message.payload or {}).get("recording_url")
        sid = twilio_client.recording_sid(url) if isinstance(url, str) else None
        if sid is None:
            # Not a Twilio recording URL: nothing we can delete; dead (and audited) for a person to check.
            return SendResult(Outcome.DEAD, "recording payload has no Twilio recording URL")
        return twilio_client.delete_recording(self.client(), self.settings, sid=sid)
