"""The delivery-day ETA call: 「本日午後2時ごろにお届けします。」 for residents who asked for one.

``queue_eta_calls`` puts one outbound call per delivery stop of the day's active plan into the outbox
(channel "voice", the TwiML in the payload; the dedupe key makes a second run a no-op). The call's
Gather posts to ``/voice/eta``: 1 = at home (thanks, goodbye), 2 = not at home today → staff are told
(a 「本日不在」 entry on the recorded-messages page and an audit row), silence → asked once more.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from core.clock import JST
from delivery.order_stop import eta_calls_of_day, stop_of_order
from orders.service import order_or_none
from outbox.service import enqueue
from residents.service import resident_or_none
from residents.voice_messages import note_not_home
from voice import prompts as P
from voice import twiml
from voice.twiml import VoiceStyle

HINTS = ("はい", "います", "いません", "不在", "留守")


def eta_phrase(eta: datetime) -> str:
    """Rounded to the half hour, said the way people say it: 「午後2時ごろ」「午前10時半ごろ」."""
    local = eta.astimezone(JST)
    minutes = local.hour * 60 + local.minute
    minutes = int(round(minutes / 30.0)) * 30
    hour, minute = divmod(minutes, 60)
    text = P.clock_ja(f"{hour:02d}:00")
    return (text + "半" if minute else text) + "ごろ"


def eta_twiml(style: VoiceStyle, *, base_url: str, order_id: int, name: str, eta: datetime,
              attempt: int = 1) -> VoiceResponse:
    action = f"{base_url.rstrip('/')}/voice/eta?order={order_id}&try={attempt}"
    return twiml.ask(style, action, [
        f"お届けサービスです。{name}様、本日{eta_phrase(eta)}に、ご注文の品をお届けします。",
        "ご在宅でしたら1を、本日ご不在でしたら2を押してください。",
    ], hints=HINTS)


def queue_eta_calls(session: Session, *, delivery_date: date, now: datetime,
                    config: Mapping[str, Any]) -> int:
    """Queue today's ETA calls, one per door stop however many orders it brings (keyed by its first
    order still to deliver); returns how many were newly queued."""
    style = VoiceStyle.from_config(config)
    base_url = str(config.get("PUBLIC_BASE_URL") or "")
    queued = 0
    for call in eta_calls_of_day(session, delivery_date=delivery_date):
        key = f"eta-call:{call.order_id}:{delivery_date.isoformat()}"
        response = eta_twiml(style, base_url=base_url, order_id=call.order_id, name=call.name, eta=call.eta)
        message = enqueue(session, channel="voice", recipient=call.number, kind="eta_call",
                          payload={"twiml": str(response)}, now=now, dedupe_key=key)
        if message.id is None:
            queued += 1
    return queued


def answer(session: Session, *, order_id: int, attempt: int, form: Mapping[str, str], now: datetime,
           style: VoiceStyle, base_url: str) -> str:
    """The resident's key press on the ETA call."""
    order = order_or_none(session, order_id)
    if order is None:
        return str(twiml.goodbye(style, [P.GOODBYE]))
    resident = resident_or_none(session, order.resident_id)
    digits = (form.get("Digits") or "").strip()
    speech = P.normalise(form.get("SpeechResult") or "")
    if digits == "1" or (speech and ("はい" in speech or "います" in speech) and "いません" not in speech):
        return str(twiml.goodbye(style, ["ありがとうございます。のちほどお伺いします。失礼いたします。"]))
    if digits == "2" or any(w in speech for w in ("いません", "不在", "るす", "留守")):
        call_sid = (form.get("CallSid") or "")[:64]
        note_not_home(session, call_sid=call_sid, called_number=(form.get("To") or "")[:32], order_id=order.id,
                      resident_id=order.resident_id, now=now)
        return str(twiml.goodbye(style, ["承知しました。担当者に伝えます。お届けの日を改めてご相談します。"
                                         "失礼いたします。"]))
    if attempt >= 2:
        return str(twiml.goodbye(style, ["お返事がありませんでしたので、予定どおりお伺いします。失礼いたします。"]))
    name = resident.name if resident else ""
    # the same stop the call was made for, read the way the LINE order status reads it
    stop = stop_of_order(session, order)
    return str(eta_twiml(style, base_url=base_url, order_id=order.id, name=name, eta=stop.eta if stop else now,
                         attempt=attempt + 1))
