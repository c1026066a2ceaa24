"""What happened at a stop, recorded by the driver (LINE, the run page): delivered, not at home,
refused, picked up. "Not at home" (不在) raises a welfare notice (見守り) to the family, since for an
elderly person living alone that can matter more than the groceries; staff see it on their page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from delivery.models import Plan, Run, RunStop
from delivery.pins import unpin_if_door_empty
from orders.calendar import format_date_ja
from orders.models import Order, OrderStatus
from orders.notifications import recipients
from core import audit
from core.clock import JST
from core.errors import DomainError, NotFound
from outbox.service import enqueue
from residents.phones import national_format

OUTCOMES = {
    # outcome: (stop kinds it applies to, order status it sets)
    "done": (("pickup", "delivery"), OrderStatus.DELIVERED),
    "not_at_home": (("delivery",), OrderStatus.NOT_AT_HOME),
    "refused": (("delivery",), OrderStatus.CANCELLED),
}
OUTCOME_LABELS_JA = {"done": "完了", "not_at_home": "不在", "refused": "受け取り拒否", "pending": "未"}


class StopError(DomainError):
    pass


def record_stop_outcome(session: Session, *, stop_id: int, outcome: str, actor: str, channel: str,
                        now: datetime, cash_yen: int | None = None, note: str = "",
                        run_id: int | None = None) -> RunStop:
    """Record the outcome of one stop of the active plan; repeating the same outcome is a no-op.

    ``run_id`` (the driver's own run) guards against a driver recording another run's stop.
    """
    stop = session.scalars(select(RunStop).where(RunStop.id == stop_id)
                           .options(selectinload(RunStop.run).selectinload(Run.plan))).one_or_none()
    if stop is None or (run_id is not None and stop.run_id != run_id):
        raise NotFound("unknown_stop", "その配達先は見つかりませんでした。")
    if not stop.run.plan.active:
        raise StopError("stale_plan", "このルートは新しい計画に置き換わりました。最新のルートを開いてください。")
    if outcome not in OUTCOMES or stop.kind not in OUTCOMES[outcome][0]:
        raise StopError("bad_outcome", "この配達先には、その記録はできません。")
    if cash_yen is not None and not 0 <= cash_yen <= 1_000_000:
        raise StopError("bad_cash", "集金額が正しくありません。")
    if stop.status == outcome:
        return stop
    if stop.status != "pending":
        raise StopError("already_recorded",
                        f"この配達先はすでに「{OUTCOME_LABELS_JA.get(stop.status, stop.status)}」と記録されています。")
    # Guarded transition: a double tap or two devices record the outcome once.
    changed = session.execute(update(RunStop).where(RunStop.id == stop.id, RunStop.status == "pending")
                              .values(status=outcome, done_at=now, cash_collected_yen=cash_yen,
                                      note=note[:256])).rowcount
    session.refresh(stop)
    if not changed:
        return stop
    if stop.kind == "pickup":
        _mark_picked(session, stop, now)
    else:
        # One door, one outcome: every order handed over here (a resident's two orders) gets it, except
        # one cancelled since the plan was made, which stays cancelled (the sheet says not to deliver it).
        orders = [order for order in session.scalars(select(Order).where(Order.id.in_(stop.order_ids))
                                                     .order_by(Order.id))
                  if order.status != OrderStatus.CANCELLED]
        for order in orders:
            order.status = OUTCOMES[outcome][1]
            order.updated_at = now
        if outcome == "not_at_home" and orders:
            _welfare_notice(session, orders[0], stop, now)   # one notice per door, not per order
        # Whatever the outcome (delivered, 不在, refused), the door has been visited and its orders are no
        # longer open, so the coordinator's pin has done its job: it goes like any cancel's
        # (``delivery.door_orders``). Left behind, it would keep counting in the dashboard's 「手動で固定」
        # and put the resident's next order for the day on the van chosen for this one. A door with
        # another open order that day (placed after the plan) keeps it: that order still needs the van.
        session.flush()
        for day, resident_id in sorted({(o.delivery_date, o.resident_id) for o in orders}):
            unpin_if_door_empty(session, delivery_date=day, resident_id=resident_id, actor=actor,
                                channel=channel, now=now)
    audit.record(session, at=now, actor=actor, channel=channel, action=f"stop.{outcome}",
                 subject_type="run_stop", subject_id=stop.id, order_ids=list(stop.order_ids), cash_yen=cash_yen)
    return stop


def _mark_picked(session: Session, stop: RunStop, now: datetime) -> None:
    """Orders on this run whose goods from every shop are now collected become "picked"."""
    run_stops = session.scalars(select(RunStop).where(RunStop.run_id == stop.run_id)).all()
    collected = {s.shop_id for s in run_stops if s.kind == "pickup" and s.status == "done"}
    order_ids = [order_id for s in run_stops for order_id in s.order_ids]
    for order in session.scalars(select(Order).where(Order.id.in_(order_ids),
                                                     Order.status == OrderStatus.CONFIRMED)
                                 .options(selectinload(Order.lines))):
        if {line.shop_id for line in order.lines} <= collected:
            order.status = OrderStatus.PICKED
            order.updated_at = now


def _welfare_notice(session: Session, order: Order, stop: RunStop, now: datetime) -> None:
    resident = order.resident
    local = now.astimezone(JST)
    for who in recipients(session, order, resident):
        if not who.family:
            continue
        text = (f"【見守りのお知らせ】{format_date_ja(local.date())} {local:%H:%M}ごろ、"
                f"{resident.name}さんのお宅にお届けにうかがいましたが、ご不在でした。"
                f"念のためご様子をご確認ください。お品物は配達員が持ち帰り、担当者からご連絡します。")
        payload: dict[str, object] = ({"messages": [{"type": "text", "text": text}]}
                                      if who.channel == "line" else {"body": text})
        enqueue(session, channel=who.channel, recipient=who.address, kind="welfare_not_at_home",
                payload=payload, now=now, dedupe_key=f"stop:{stop.id}:not_at_home:{who.channel}:{who.address}")


def driver_run_on(session: Session, driver_id: int, day: date) -> Run | None:
    """The driver's run in the active plan of ``day``, or None while no plan gives them one."""
    return session.scalars(
        select(Run).join(Plan, Plan.id == Run.plan_id)
        .where(Plan.delivery_date == day, Plan.active.is_(True), Run.driver_id == driver_id)
        .order_by(Run.id)).first()


def not_at_home_visits(session: Session, *, first: date, last: date) -> list[tuple[date, RunStop]]:
    """The 不在 door visits of the days ``first``…``last`` on every plan version, once per visit (a stop
    may bring several of the resident's orders), oldest first: a re-plan (which carries recorded stops
    into the new runs) must neither drop a resident from the welfare list nor count them twice."""
    seen: set[tuple[date, int]] = set()
    visits = []
    for day, stop in session.execute(
            select(Plan.delivery_date, RunStop).join(Run, Run.id == RunStop.run_id).join(Plan, Plan.id == Run.plan_id)
            .where(Plan.delivery_date >= first, Plan.delivery_date <= last, RunStop.status == "not_at_home")
            .order_by(Plan.delivery_date, RunStop.done_at, RunStop.id)):
        keys = {(day, order_id) for order_id in stop.order_ids}
        if not seen.issuperset(keys):
            seen.update(keys)
            visits.append((day, stop))
    return visits


@dataclass(frozen=True)
class WelfareRow:
    """One line of the staff page's 見守り list: who, when, where, how to reach them, which van."""
    order_id: str      # the visit's orders, "12・13" (one door may bring several)
    time: str          # HH:MM JST the driver recorded 不在, or ""
    name: str
    phone: str         # national format, the landline first
    address: str
    run: str           # 「車両名（配達員）」


def welfare_watch(session: Session, *, day: date) -> list[WelfareRow]:
    """見守り for the staff page: the day's 不在 visits (every plan version, once each, oldest first) with
    who was not at home, where, and how to reach them; an order number alone means nothing to the
    coordinator who has to phone the resident or the family. Read-only."""
    stops = [stop for _, stop in not_at_home_visits(session, first=day, last=day)]
    order_ids = [order_id for s in stops for order_id in s.order_ids]
    orders = {o.id: o for o in session.scalars(
        select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.resident)))} if order_ids else {}
    runs = {r.id: r for r in session.scalars(
        select(Run).where(Run.id.in_({s.run_id for s in stops})).options(
            selectinload(Run.vehicle), selectinload(Run.driver)))} if stops else {}
    rows = []
    for stop in stops:
        order = orders.get(stop.order_ids[0]) if stop.order_ids else None
        resident = order.resident if order else None
        run = runs.get(stop.run_id)
        rows.append(WelfareRow(
            order_id="・".join(map(str, stop.order_ids)),
            time=stop.done_at.astimezone(JST).strftime("%H:%M") if stop.done_at else "",
            name=f"{resident.name} 様" if resident else "",
            phone=national_format(resident.phone or resident.mobile_phone or "") if resident else "",
            address=resident.address if resident else "",
            run=(f"{run.vehicle.name}（{run.driver.name}）" if run.driver else run.vehicle.name) if run else "",
        ))
    return rows
