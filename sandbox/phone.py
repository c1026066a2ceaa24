"""The phone sandbox: ``/sandbox/phone`` acts as Twilio *and* the caller, so staff can train on the
phone line without a Twilio account; ``/sandbox/twilio-api/...`` is the fake Twilio REST API the real
twilio client talks to in sandbox mode (SMS confirmations and outbound calls land there).

The page signs every webhook in the browser exactly as Twilio does (HMAC-SHA1 over the public URL
and the sorted form fields) with the sandbox token, follows Gather / Redirect / Dial / Record, reads
each Say aloud with the browser's ja-JP speech synthesis and shows it as text. Mounted only while
``TWILIO_SANDBOX`` is on. The fake keeps what it received in memory: with several web workers, the
"sent" list shows what reached this worker.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy import select

from core.db import db
from residents.models import Resident
from residents.phones import national_format
from accounts.security import staff_required
from voice import SANDBOX_API_PATH
from sandbox.fake_twilio import FakeTwilio
from voice.security import sandbox_token

bp = Blueprint("phone_sandbox", __name__, template_folder="templates")

FAKE_KEY = "otodoke.twilio_fake"
UNKNOWN_NUMBER = "+81238009999"
SANDBOX_NUMBER = "+81238000001"   # the number the sandbox caller "dials"


def fake(app: Flask | None = None) -> FakeTwilio:
    return (app or current_app).extensions[FAKE_KEY]


def init_app(app: Flask) -> None:
    app.extensions.setdefault(FAKE_KEY, FakeTwilio(prefix=SANDBOX_API_PATH))
    # The sandbox pages post JSON from their own script and stand in for LINE/Twilio's servers (the
    # fake APIs are called by the SDKs, never with a form): no CSRF token to carry.
    from accounts.security import csrf
    csrf.exempt(bp)
    app.register_blueprint(bp)
    from core.surfaces import add_surface
    add_surface(app, "/sandbox/phone", "電話サンドボックス（Twilioなしで電話注文を試せます）", "職員・デモ")


@bp.get("/sandbox/phone")
@staff_required
def phone_page() -> str:
    """The page holds the sandbox token (it signs as Twilio does) and lists residents: staff only."""
    with db.reading() as session:
        residents = list(session.scalars(
            select(Resident).where(Resident.active.is_(True), Resident.phone.is_not(None))
            .order_by(Resident.id).limit(30)))
        numbers = [(r.phone, f"{r.name}（{national_format(r.phone or '')}）") for r in residents]
    numbers.append((UNKNOWN_NUMBER, f"登録のない番号（{national_format(UNKNOWN_NUMBER)}）"))
    return render_template("sandbox/phone.html", numbers=numbers,
                           public_base=current_app.config["PUBLIC_BASE_URL"].rstrip("/"),
                           token=sandbox_token(current_app.config), to_number=SANDBOX_NUMBER,
                           call_sid="CA" + uuid.uuid4().hex,
                           voice=current_app.config.get("TWILIO_VOICE"))


@bp.get("/sandbox/phone/sent")
def sent() -> Response:
    """What the phone line sent through the fake Twilio (SMS and outbound calls), newest last."""
    rows = [{"kind": "sms" if r.path.endswith("Messages.json") else "call", "to": r.form.get("To", ""),
             "from": r.form.get("From", ""), "body": r.form.get("Body") or r.form.get("Twiml", "")}
            for r in fake().requests if r.method == "POST"]
    return jsonify(rows[-50:])


@bp.route(f"{SANDBOX_API_PATH}/<path:rest>", methods=["GET", "POST", "DELETE"])
def fake_api(rest: str) -> Response:
    return fake().handle(request)
