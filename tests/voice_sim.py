"""A fake Twilio + caller for tests: signs each webhook like Twilio, checks every TwiML document
against the documented verbs and attributes, and follows it (Say → heard, Gather → wait for keys,
speech or silence, Dial → wait for the dial result, Record → wait for the recording, Hangup → end).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree

from twilio.request_validator import RequestValidator

ALLOW = json.loads((Path(__file__).parent / "fixtures" / "twilio" / "twiml_allowlist.json").read_text("utf-8"))
PUBLIC_BASE = "https://otodoke.example.jp"
TOKEN = "test-twilio-auth-token"


class TwiMLViolation(AssertionError):
    pass


def check_twiml(body: str) -> ElementTree.Element:
    """Well-formed XML, only documented verbs/attributes/values, Japanese on every Say and Gather,
    integer speechTimeout, every Gather followed by a way forward."""
    root = ElementTree.fromstring(body.encode("utf-8"))
    if root.tag != "Response":
        raise TwiMLViolation(f"root is {root.tag}")
    values = ALLOW["values"]

    def walk(el: ElementTree.Element) -> None:
        allowed_attrs = ALLOW["attributes"].get(el.tag)
        if allowed_attrs is None:
            raise TwiMLViolation(f"unknown element <{el.tag}>")
        for name, value in el.attrib.items():
            if name not in allowed_attrs:
                raise TwiMLViolation(f"<{el.tag}> has undocumented attribute {name}")
            if name in ("input", "method", "actionOnEmptyResult", "playBeep", "trim") and value not in values[name]:
                raise TwiMLViolation(f"<{el.tag} {name}={value!r}> not a documented value")
        if el.tag in ("Say", "Gather") and el.get("language") != values["language_ja"]:
            raise TwiMLViolation(f"<{el.tag}> without language=ja-JP")
        if el.tag == "Say" and el.get("voice") not in values["voices_ja"]:
            raise TwiMLViolation(f"<Say> voice {el.get('voice')} is not a Japanese voice")
        if el.tag == "Gather":
            if el.get("speechTimeout") and not (el.get("speechTimeout", "").isdigit() or
                                                (el.get("speechTimeout") == "auto" and not el.get("speechModel"))):
                raise TwiMLViolation("speechTimeout must be a positive integer")
            if not el.get("timeout", "").isdigit() or int(el.get("timeout", "0")) < 5:
                raise TwiMLViolation("Gather timeout must be generous (>= 5 s)")
            if not re.fullmatch(values["finishOnKey_pattern"], el.get("finishOnKey", "")):
                raise TwiMLViolation("bad finishOnKey")
        if el.tag == "prosody" and not re.fullmatch(values["rate_pattern"], el.get("rate", "medium")):
            raise TwiMLViolation("bad prosody rate")
        if el.tag == "break" and el.get("time") and not re.fullmatch(values["time_pattern"], el.get("time", "")):
            raise TwiMLViolation("bad break time")
        for child in el:
            if child.tag not in ALLOW["children"].get(el.tag, []):
                raise TwiMLViolation(f"<{child.tag}> may not be inside <{el.tag}>")
            walk(child)

    walk(root)
    return root


@dataclass
class Heard:
    status: int
    body: str
    said: list[str]
    waiting_for: str          # "gather" | "dial" | "record" | "hangup" | "end"
    action: str | None
    element: ElementTree.Element | None


@dataclass
class CallSim:
    client: Any
    from_number: str
    token: str = TOKEN
    base: str = PUBLIC_BASE
    to_number: str = "+81238000001"
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    transcript: list[str] = field(default_factory=list)
    presses: int = 0
    last: Heard | None = None
    last_request: tuple[str, dict[str, str]] | None = None

    def params(self, **extra: str) -> dict[str, str]:
        base = {"CallSid": self.call_sid, "AccountSid": "ACtest", "From": self.from_number,
                "To": self.to_number, "CallStatus": "in-progress", "Direction": "inbound",
                "ApiVersion": "2010-04-01"}
        base.update(extra)
        return base

    def post(self, path: str, params: dict[str, str], *, signature: str | None = None) -> Heard:
        url = urljoin(self.base + "/", path)
        sig = RequestValidator(self.token).compute_signature(url, params) if signature is None else signature
        parts = urlsplit(url)
        local = parts.path + (f"?{parts.query}" if parts.query else "")
        self.last_request = (local, dict(params))
        response = self.client.post(local, data=params, headers={"X-Twilio-Signature": sig})
        body = response.get_data(as_text=True)
        if response.status_code != 200 or not body:
            heard = Heard(response.status_code, body, [], "end", None, None)
        else:
            heard = self._follow(response.status_code, body)
        self.last = heard
        return heard

    def _follow(self, status: int, body: str) -> Heard:
        root = check_twiml(body)
        said: list[str] = []
        for verb in root:
            if verb.tag == "Say":
                said.append("".join(verb.itertext()))
            elif verb.tag == "Gather":
                said.extend("".join(s.itertext()) for s in verb if s.tag == "Say")
                self.transcript.extend(said)
                return Heard(status, body, said, "gather", verb.get("action"), verb)
            elif verb.tag == "Dial":
                self.transcript.extend(said)
                return Heard(status, body, said, "dial", verb.get("action"), verb)
            elif verb.tag == "Record":
                self.transcript.extend(said)
                return Heard(status, body, said, "record", verb.get("action"), verb)
            elif verb.tag == "Redirect":
                self.transcript.extend(said)
                return Heard(status, body, said, "redirect", verb.text, verb)
            elif verb.tag == "Hangup":
                self.transcript.extend(said)
                return Heard(status, body, said, "hangup", None, verb)
        self.transcript.extend(said)
        return Heard(status, body, said, "end", None, None)

    # --- what a caller can do -------------------------------------------------------------------

    def dial_in(self) -> Heard:
        return self.post("/voice/incoming", self.params())

    def _gather(self) -> ElementTree.Element:
        assert self.last and self.last.waiting_for == "gather", f"not at a Gather: {self.last}"
        assert self.last.element is not None
        return self.last.element

    def press(self, keys: str) -> Heard:
        gather = self._gather()
        finish = gather.get("finishOnKey", "#")
        limit = int(gather.get("numDigits") or 99)
        digits = ""
        for key in keys:
            if finish and key == finish:
                break
            digits += key
            if len(digits) >= limit:
                break
        self.presses += 1
        return self.post(gather.get("action") or "", self.params(Digits=digits))

    def speak(self, text: str, confidence: str = "0.9") -> Heard:
        gather = self._gather()
        assert "speech" in gather.get("input", "")
        return self.post(gather.get("action") or "", self.params(SpeechResult=text, Confidence=confidence))

    def silence(self) -> Heard:
        gather = self._gather()
        if gather.get("actionOnEmptyResult") == "true":
            return self.post(gather.get("action") or "", self.params())
        raise AssertionError("Gather without actionOnEmptyResult: the call would fall through")

    def dial_result(self, status: str) -> Heard:
        assert self.last and self.last.waiting_for == "dial"
        return self.post(self.last.action or "", self.params(DialCallStatus=status))

    def recorded(self, url: str, seconds: int) -> Heard:
        assert self.last and self.last.waiting_for == "record"
        return self.post(self.last.action or "", self.params(
            RecordingUrl=url, RecordingDuration=str(seconds), RecordingSid="RE" + uuid.uuid4().hex))

    def retry_last(self) -> Heard:
        """Twilio re-sending the same request (it timed out waiting for us)."""
        assert self.last_request
        path, params = self.last_request
        return self.post(path, params)

    def heard(self) -> str:
        return "".join(self.last.said) if self.last else ""


# --- fixtures shared by the voice tests ------------------------------------------------------------

import pytest  # noqa: E402
from flask import Flask  # noqa: E402

from otodoke import create_app  # noqa: E402
from core.db import db  # noqa: E402

RESIDENT_PHONE = "+81238841234"
RESIDENT_MOBILE = "+819012345678"
UNKNOWN_PHONE = "+81238849999"


def voice_config(database_url: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
        "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}", "LINE_CHANNEL_SECRET": "",
        "LINE_CHANNEL_ACCESS_TOKEN": "", "TWILIO_ACCOUNT_SID": "ACtest", "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM_NUMBER": "+815011112222", "PUBLIC_BASE_URL": PUBLIC_BASE,
        "COORDINATOR_PHONE": "0238-84-0000", "TWILIO_SANDBOX": False,
    }
    config.update(extra)
    return config


@pytest.fixture
def voice_app(database_url: str, clock: Any, tmp_path: Path) -> Any:
    app = create_app(voice_config(database_url, tmp_path), clock=clock)
    with app.app_context():
        yield app
    db.bound(app).engine.dispose()


@dataclass
class Town:
    resident_id: int
    product_ids: dict[str, int]
    shop_ids: list[int]
    district_id: int = 0


def seed_town(app: Flask, *, with_history: bool = True, mobile: str | None = RESIDENT_MOBILE) -> Town:
    """A central district, two shops with six products, one resident (landline + mobile) whose
    「いつもの」 is 大根2本・りんご3個・牛乳1本 (from two earlier orders)."""
    from datetime import timedelta

    from orders.service import LineItem, place_order
    from tests import factories as f
    from tests.conftest import DEFAULT_NOW

    with db.transaction(app) as session:
        district = f.make_district(session)
        farm = f.make_shop(session, name="やまびこ直売所", kana="やまびこちょくばいじょ")
        store = f.make_shop(session, name="まちの商店", kana="まちのしょうてん", kind="shop")
        products = {
            "大根": f.make_product(session, farm, name="大根", kana="だいこん", unit="本", price_yen=150, stock=20),
            "りんご": f.make_product(session, farm, name="りんご", kana="りんご", category="果物", unit="個",
                                  price_yen=120, stock=30),
            "人参": f.make_product(session, farm, name="人参", kana="にんじん", unit="袋", price_yen=100, stock=10),
            "牛乳": f.make_product(session, store, name="牛乳", kana="ぎゅうにゅう", category="飲み物", unit="本",
                                 price_yen=220, stock=10),
            "食パン": f.make_product(session, store, name="食パン", kana="しょくぱん", category="パン", unit="斤",
                                  price_yen=250, stock=None),
            "卵": f.make_product(session, store, name="卵", kana="たまご", category="卵", unit="パック",
                               price_yen=280, stock=5),
        }
        resident = f.make_resident(session, district, name="長井 花子", kana="ながい はなこ",
                                   phone=RESIDENT_PHONE, mobile_phone=mobile)
        ids = {name: p.id for name, p in products.items()}
        town = Town(resident.id, ids, [farm.id, store.id], district.id)
    if with_history:
        usual = [LineItem(ids["大根"], 2), LineItem(ids["りんご"], 3), LineItem(ids["牛乳"], 1)]
        for days in (14, 7):
            with db.transaction(app) as session:
                # Earlier orders (a week apart): they make the usual basket.
                # Channel "sim": a staff-channel order (電話受付) is confirmed by SMS, and these
                # history orders must not add texts to the ones a test counts.
                place_order(session, resident_id=town.resident_id, items=usual, placed_by="staff:test",
                            channel="sim", now=DEFAULT_NOW - timedelta(days=days))
    return town


def dial_in_resident(app: Flask) -> CallSim:
    """The known resident's call, answered: the menu is waiting for what they say."""
    call = CallSim(app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    return call


def phone_basket(app: Flask, call: CallSim) -> list[list[int]]:
    """The call's basket as the phone line keeps it: [product id, quantity] pairs."""
    from sqlalchemy import select

    from core.models import Conversation

    with db.reading(app) as session:
        row = session.scalars(select(Conversation).where(Conversation.channel == "phone",
                                                         Conversation.party == call.call_sid)).one()
        return [list(p) for p in row.state.get("basket") or []]
