"""The phone line (Twilio Programmable Voice + SMS): webhooks, IVR flow and senders (its sandbox is in
``sandbox/``)."""

from __future__ import annotations

from flask import Flask

from core.config import sandbox_enabled
from core.surfaces import add_surface
from outbox.registry import register_sender
from voice import views
from voice.security import sandbox_token
from voice.sender import TwilioRecordingDeleter, TwilioSmsSender, TwilioVoiceSender
from voice.twilio_client import TwilioSettings
from voice.twiml import VoiceStyle

SANDBOX_API_PATH = "/sandbox/twilio-api"
SANDBOX_ACCOUNT_SID = "ACsandbox00000000000000000000000"
SANDBOX_FROM_NUMBER = "+815000000000"


def init_app(app: Flask) -> None:
    """Register the webhooks; turn the sandbox on (default when Twilio is not configured, never by
    default in production or tests); register the SMS, voice and recording-deletion senders when Twilio
    is configured or sandboxed. Unconfigured and not sandboxed, nothing is faked: SMS rows wait in the outbox."""
    config = app.config
    real = bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN")
                and config.get("TWILIO_FROM_NUMBER"))
    sandbox = sandbox_enabled(config, "TWILIO_SANDBOX", real_channel=real)
    config["TWILIO_SANDBOX"] = sandbox
    app.register_blueprint(views.bp)
    add_surface(app, "/voice/messages", "電話の録音メッセージ（登録の申し込み・折り返し依頼・本日不在）", "職員")
    settings: TwilioSettings | None = TwilioSettings.from_config(config) if real else None
    if sandbox:
        # The sandbox's pages and fake Twilio API are registered by the app factory (sandbox/__init__.py).
        if not real:
            # The real twilio client, pointed at the fake inside this app: staff see what would be sent.
            base = config["PUBLIC_BASE_URL"].rstrip("/") + SANDBOX_API_PATH
            settings = TwilioSettings(SANDBOX_ACCOUNT_SID, sandbox_token(config), SANDBOX_FROM_NUMBER,
                                      base_url=base, status_callback=None)
    if settings is not None:
        register_sender(app, TwilioSmsSender(settings))
        register_sender(app, TwilioVoiceSender(settings, style=VoiceStyle.from_config(config)))
        register_sender(app, TwilioRecordingDeleter(settings))
