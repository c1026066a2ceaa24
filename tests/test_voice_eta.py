"""The delivery-day ETA call: queued once per stop for residents who asked, answered by keypad."""

from __future__ import annotations

from tests.accounts_support import sign_in
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from delivery.models import Plan, Run, RunStop
from orders.service import LineItem, place_order
from core.clock import JST
from core.db import db
from core.models import AuditEntry
from outbox.models import OutboxMessage
from residents.models import Resident, VoiceMessage
from tests import factories as f
from tests.conftest import DEFAULT_NOW
from tests.voice_sim import PUBLIC_BASE, RESIDENT_PHONE, CallSim, check_twiml, seed_town, voice_app
from voice.eta import eta_phrase, queue_eta_calls

__all__ = ["voice_app"]
ETA = datetime(2026, 12, 1, 14, 5, tzinfo=JST)


def _plan_with_stop(app: Any, *, wants_call: bool = True) -> int:
    town = seed_town(app, with_history=False)
    with db.transaction(app) as session:
        resident = session.get(Resident, town.resident_id)
        resident.wants_eta_call = wants_call
        order = place_order(session, resident_id=town.resident_id, items=[LineItem(town.product_ids["大根"], 1)],
                            placed_by="staff:test", channel="staff", now=DEFAULT_NOW)
        vehicle = f.make_vehicle(session)
        plan = Plan(delivery_date=order.delivery_date, version=1, active=True, trigger="test",
                    created_by="test", created_at=DEFAULT_NOW)
        session.add(plan)
        session.flush()
        run = Run(plan_id=plan.id, vehicle_id=vehicle.id, start_at=ETA - timedelta(hours=1),
                  end_at=ETA + timedelta(hours=2), distance_m=1000, duration_s=3600)
        session.add(run)
        session.flush()
        session.add(RunStop(run_id=run.id, seq=1, kind="delivery", order_ids=[order.id], lat=38.1, lon=140.0,
                            eta=ETA))
        return order.id


def _queue(app: Any) -> int:
    with db.transaction(app) as session:
        return queue_eta_calls(session, delivery_date=DEFAULT_NOW.date(), now=DEFAULT_NOW, config=app.config)


def test_eta_phrase() -> None:
    assert eta_phrase(ETA) == "午後2時ごろ"
    assert eta_phrase(datetime(2026, 12, 1, 10, 20, tzinfo=JST)) == "午前10時半ごろ"
    assert eta_phrase(datetime(2026, 12, 1, 11, 50, tzinfo=JST)) == "正午ごろ"


def test_eta_call_queued_once_with_japanese_twiml(voice_app: Any) -> None:
    order_id = _plan_with_stop(voice_app)
    assert _queue(voice_app) == 1
    assert _queue(voice_app) == 0
    with db.reading(voice_app) as session:
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice")).one()
    assert row.recipient == RESIDENT_PHONE and row.kind == "eta_call"
    root = check_twiml(row.payload["twiml"])
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("action") == f"{PUBLIC_BASE}/voice/eta?order={order_id}&try=1"
    assert "本日午後2時ごろ" in "".join(gather.itertext())


def test_no_eta_call_for_residents_who_did_not_ask(voice_app: Any) -> None:
    _plan_with_stop(voice_app, wants_call=False)
    assert _queue(voice_app) == 0


def _answer(app: Any, order_id: int, **extra: str) -> CallSim:
    call = CallSim(app.test_client(), "+815011112222", to_number=RESIDENT_PHONE)
    call.post(f"{PUBLIC_BASE}/voice/eta?order={order_id}&try=1", call.params(Direction="outbound-api", **extra))
    return call


def test_not_at_home_tells_staff_once(voice_app: Any) -> None:
    order_id = _plan_with_stop(voice_app)
    call = _answer(voice_app, order_id, Digits="2")
    assert call.last and call.last.waiting_for == "hangup" and "担当者に伝えます" in call.heard()
    call.retry_last()
    with db.reading(voice_app) as session:
        message = session.scalars(select(VoiceMessage)).one()
        assert (message.purpose, message.from_number) == ("not_home", RESIDENT_PHONE)
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "eta.not_home")) == 1
    staff = voice_app.test_client()
    sign_in(staff)
    assert "本日不在" in staff.get("/voice/messages").get_data(as_text=True)


def test_at_home_and_silence(voice_app: Any) -> None:
    order_id = _plan_with_stop(voice_app)
    assert "のちほどお伺いします" in _answer(voice_app, order_id, Digits="1").heard()
    quiet = _answer(voice_app, order_id)
    assert quiet.last and quiet.last.waiting_for == "gather"
    assert quiet.last.action and quiet.last.action.endswith("try=2")
    assert quiet.silence().waiting_for == "hangup"
    with db.reading(voice_app) as session:
        assert session.scalar(select(func.count()).select_from(VoiceMessage)) == 0


def test_eta_answer_needs_a_signature(voice_app: Any) -> None:
    order_id = _plan_with_stop(voice_app)
    call = CallSim(voice_app.test_client(), "+815011112222", to_number=RESIDENT_PHONE)
    heard = call.post(f"{PUBLIC_BASE}/voice/eta?order={order_id}&try=1", call.params(Digits="2"), signature="x")
    assert heard.status == 403
    with db.reading(voice_app) as session:
        assert session.scalar(select(func.count()).select_from(VoiceMessage)) == 0


def test_silence_asks_again_with_the_planned_time(voice_app: Any) -> None:
    order_id = _plan_with_stop(voice_app)
    quiet = _answer(voice_app, order_id)
    assert "本日午後2時ごろ" in quiet.heard()


def test_the_asking_again_reads_the_stop_of_the_orders_own_day(voice_app: Any) -> None:
    """A stale stop (the order was on another day's plan, still active until it is re-made) is not the
    time the resident is told again: the same read as LINE's order status (delivery.order_stop)."""
    order_id = _plan_with_stop(voice_app)
    with db.transaction(voice_app) as session:
        day_before = DEFAULT_NOW.date() - timedelta(days=1)
        old = Plan(delivery_date=day_before, version=1, active=True, trigger="test", created_by="test",
                   created_at=DEFAULT_NOW)
        session.add(old)
        session.flush()
        vehicle = f.make_vehicle(session, name="旧便")
        stale = ETA - timedelta(days=1, hours=4)
        run = Run(plan_id=old.id, vehicle_id=vehicle.id, start_at=stale - timedelta(hours=1),
                  end_at=stale + timedelta(hours=1), distance_m=1000, duration_s=3600)
        session.add(run)
        session.flush()
        session.add(RunStop(run_id=run.id, seq=1, kind="delivery", order_ids=[order_id], lat=38.1, lon=140.0,
                            eta=stale))
    quiet = _answer(voice_app, order_id)
    assert "本日午後2時ごろ" in quiet.heard() and "午前10時" not in quiet.heard()
