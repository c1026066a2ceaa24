"""The delivery-day ETA call: 「本日午後2時ごろにお届けします。」 for residents who asked for one.

``queue_eta_calls`` puts one outbound call per delivery stop of the day's active plan into the outbox
(channel "voice", the TwiML in the payload; the dedupe key makes a second run a no-op). The call's
Gather posts to ``/voice/eta``: 1 = at home (thanks, goodbye), 2 = not at home today → staff are told
(a 「本日不在」 entry on the recorded-messages page and an audit row), silence → asked once more.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from delivery.models import Plan, Run, RunStop, RunStopOrder
from orders.models import Order, OrderStatus
from core import audit
from core.clock import JST
from outbox.service import enqueue
from residents.models import Resident, VoiceMessage
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
    rows = session.execute(
        select(RunStop, Order, Resident)
        .join(Run, Run.id == RunStop.run_id).join(Plan, Plan.id == Run.plan_id)
        .join(RunStopOrder, RunStopOrder.run_stop_id == RunStop.id)
        .join(Order, Order.id == RunStopOrder.order_id).join(Resident, Resident.id == Order.resident_id)
        .where(Plan.delivery_date == delivery_date, Plan.active.is_(True), RunStop.kind == "delivery",
               Resident.wants_eta_call.is_(True), Order.status != OrderStatus.CANCELLED,
               # an order staff moved to another day is still on the old plan until it is re-made
               Order.delivery_date == delivery_date)
        .order_by(RunStop.eta, RunStop.id, RunStopOrder.position)
    ).all()
    queued = 0
    called: set[int] = set()
    for stop, order, resident in rows:
        number = resident.phone or resident.mobile_phone
        if not number or stop.id in called:
            continue
        called.add(stop.id)
        key = f"eta-call:{order.id}:{delivery_date.isoformat()}"
        response = eta_twiml(style, base_url=base_url, order_id=order.id, name=resident.name, eta=stop.eta)
        message = enqueue(session, channel="voice", recipient=number, kind="eta_call",
                          payload={"twiml": str(response)}, now=now, dedupe_key=key)
        if message.id is None:
            queued += 1
    return queued


def answer(session: Session, *, order_id: int, attempt: int, form: Mapping[str, str], now: datetime,
           style: VoiceStyle, base_url: str) -> str:
    """The resident's key press on the ETA call."""
    order = session.get(Order, order_id)
    if order is None:
        return str(twiml.goodbye(style, [P.GOODBYE]))
    resident = session.get(Resident, order.resident_id)
    digits = (form.get("Digits") or "").strip()
    speech = P.normalise(form.get("SpeechResult") or "")
    if digits == "1" or (speech and ("はい" in speech or "います" in speech) and "いません" not in speech):
        return str(twiml.goodbye(style, ["ありがとうございます。のちほどお伺いします。失礼いたします。"]))
    if digits == "2" or any(w in speech for w in ("いません", "不在", "るす", "留守")):
        call_sid = (form.get("CallSid") or "")[:64]
        exists = session.scalars(select(VoiceMessage).where(VoiceMessage.call_sid == call_sid)).first()
        if exists is None:
            session.add(VoiceMessage(call_sid=call_sid, from_number=(form.get("To") or "")[:32],
                                     purpose="not_home", created_at=now))
            audit.record(session, at=now, actor=f"resident:{order.resident_id}", channel="phone",
                         action="eta.not_home", subject_type="order", subject_id=order.id)
        return str(twiml.goodbye(style, ["承知しました。担当者に伝えます。お届けの日を改めてご相談します。"
                                         "失礼いたします。"]))
    if attempt >= 2:
        return str(twiml.goodbye(style, ["お返事がありませんでしたので、予定どおりお伺いします。失礼いたします。"]))
    name = resident.name if resident else ""
    stop_eta = session.scalars(select(RunStop.eta).join(RunStopOrder, RunStopOrder.run_stop_id == RunStop.id)
                               .where(RunStopOrder.order_id == order.id).order_by(RunStop.id.desc())).first()
    return str(eta_twiml(style, base_url=base_url, order_id=order.id, name=name, eta=stop_eta or now,
                         attempt=attempt + 1))
