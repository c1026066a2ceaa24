"""What a plan tells people, queued in the outbox with the plan: picking lists to shops, the run to
each driver, the ETA window to each resident (and family). A re-plan only re-sends a message whose text
changed, so a resident is not told the same time twice."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from delivery.leftovers import queue_leftover_notices
from delivery.models import Plan, Run
from delivery.picking import picking_lists, sms_number
from delivery.stops import OUTCOME_LABELS_JA
from orders.calendar import format_date_ja
from orders.models import Order, OrderStatus
from orders.notifications import recipients
from core.clock import JST
from outbox.service import enqueue
from residents.models import PAYMENT_LABELS_JA
from residents.phones import try_normalise_phone
from shops.models import Shop, ShopOwner

ETA_BEFORE = timedelta(minutes=15)
ETA_AFTER = timedelta(minutes=30)

# (channel, recipient, kind) → text
Messages = dict[tuple[str, str, str], str]
# (channel, recipient) → the door stops they are told the time of
Etas = dict[tuple[str, str], list["DoorEta"]]
# (shop id, delivery date) → the URL of the shop's picking-list page
ShopLink = Callable[[int, date], str]


def hhmm(moment: datetime) -> str:
    return moment.astimezone(JST).strftime("%H:%M")


class Windowed(Protocol):
    @property
    def window_start(self) -> str: ...

    @property
    def window_end(self) -> str: ...


@dataclass(frozen=True)
class DoorWindow:
    """The window every order handed over at one door was promised in."""

    window_start: str
    window_end: str

    @classmethod
    def of(cls, orders: Sequence[Order]) -> DoorWindow:
        """The orders' common window; the first order's when they share none (the door stop is timed in
        it: ``delivery.door_stops`` keeps legs that could not be handed over together apart)."""
        start = max(order.window_start for order in orders)
        end = min(order.window_end for order in orders)
        return cls(start, end) if start < end else cls(orders[0].window_start, orders[0].window_end)


@dataclass(frozen=True)
class DoorEta:
    """What one recipient is told about one door stop: its time, once, and the orders it brings."""

    resident: str                 # the resident's name for a family member, "" for the resident
    start: str
    end: str
    order_ids: tuple[int, ...]

    def text(self, day: str) -> str:
        prefix = f"{self.resident}さんへの" if self.resident else ""
        return (f"{prefix}お届け予定のお知らせです。\n{day} {self.start}〜{self.end}ごろにお届けします"
                f"（注文番号 {'・'.join(map(str, self.order_ids))}）。")


def eta_window(eta: datetime, order: Windowed) -> tuple[str, str]:
    """A window the resident can trust: a little before to half an hour after the planned time,
    never outside the window they chose (``order``: an order, or a door's ``DoorWindow``)."""
    local = eta.astimezone(JST)
    start = max(hhmm(local - ETA_BEFORE), order.window_start)
    end = min(hhmm(local + ETA_AFTER), order.window_end)
    return (start, end) if start < end else (order.window_start, order.window_end)


def plan_messages(session: Session, plan: Plan, driver_link: Callable[[Run], str],
                  shop_link: ShopLink | None = None) -> Messages:
    """Every message the plan implies, keyed by recipient. Shops and drivers without LINE get a short
    SMS with a link (``shop_link`` to the shop's picking-list page, ``driver_link`` to the run page)."""
    return _plan_messages(session, plan, driver_link, shop_link)[0]


def _plan_messages(session: Session, plan: Plan, driver_link: Callable[[Run], str],
                   shop_link: ShopLink | None) -> tuple[Messages, Etas]:
    runs = session.scalars(select(Run).where(Run.plan_id == plan.id).order_by(Run.id)
                           .options(selectinload(Run.stops), selectinload(Run.vehicle),
                                    selectinload(Run.driver))).all()
    order_ids = [order_id for r in runs for s in r.stops for order_id in s.order_ids]
    orders = {o.id: o for o in session.scalars(
        select(Order).where(Order.id.in_(order_ids))
        .options(selectinload(Order.lines), selectinload(Order.resident))).all()} if order_ids else {}
    shops = {s.id: s for s in session.scalars(select(Shop)).all()}
    day = format_date_ja(plan.delivery_date)
    messages: Messages = {}

    for shop_id, picking in picking_lists(runs, orders, shops, plan.delivery_date).items():
        owners = list(session.scalars(select(ShopOwner).where(ShopOwner.shop_id == shop_id)))
        for owner in owners:
            messages[("line", owner.line_user_id, "picking_list")] = picking.text()
        number = sms_number(shops[shop_id], owners)
        if number and shop_link is not None:
            key = ("sms", number, "picking_list")
            text = picking.sms(shop_link(shop_id, plan.delivery_date))
            messages[key] = messages[key] + "\n" + text if key in messages else text   # two stands, one phone

    for run in runs:
        if run.driver is None:
            continue
        if not run.driver.line_user_id:
            if number := try_normalise_phone(run.driver.phone):
                messages[("sms", number, "driver_run")] = _driver_sms(run, orders, day, driver_link(run))
            continue
        lines = [f"【配達ルート】{day} {run.vehicle.name}", f"出発 {hhmm(run.start_at)} / 帰着 {hhmm(run.end_at)}"]
        # An order met twice on the way (goods from two shops, two door visits) is paid once, at the last.
        last_visit = {order_id: stop.seq for stop in run.stops for order_id in stop.order_ids}
        for stop in run.stops:
            # a stop finished before this version was made is listed as what happened, not as a task
            result = f"（{OUTCOME_LABELS_JA[stop.status]}）" if stop.status != "pending" else ""
            if stop.kind == "pickup":
                lines.append(f"{stop.seq}. {hhmm(stop.eta)} 集荷 {shops[stop.shop_id].name}{result}")
                continue
            here = [orders[i] for i in stop.order_ids]
            # one door, however many of the resident's orders: the cash is one sum
            cash_yen = sum(o.total_yen for o in here if o.payment_method == "cash" and last_visit[o.id] == stop.seq)
            cash = f" {PAYMENT_LABELS_JA['cash']}{cash_yen:,}円" if cash_yen and not result else ""
            count = f"（注文{len(here)}件）" if len(here) > 1 else ""
            lines.append(f"{stop.seq}. {hhmm(stop.eta)} お届け {here[0].resident.name}さん{count}{cash}{result}")
        lines.append(f"詳しい内容と地図: {driver_link(run)}")
        messages[("line", run.driver.line_user_id, "driver_run")] = "\n".join(lines)

    etas = _door_etas(session, runs, orders)
    for (channel, address), told in etas.items():
        messages[(channel, address, "eta")] = "\n".join(eta.text(day) for eta in told)
    return messages, etas


def _door_etas(session: Session, runs: Sequence[Run], orders: Mapping[int, Order]) -> Etas:
    """One ETA per door stop still to come for each recipient, naming every order it brings; a family
    member linked to two residents hears about both doors in one message."""
    etas: Etas = {}
    for run in runs:
        for stop in run.stops:
            if stop.kind != "delivery" or stop.status != "pending":
                continue
            here = [orders[i] for i in stop.order_ids if orders[i].status != OrderStatus.CANCELLED]
            if not here:
                continue
            start, end = eta_window(stop.eta, DoorWindow.of(here))
            resident = here[0].resident
            told: dict[tuple[str, str], tuple[bool, list[int]]] = {}
            for order in here:
                for who in recipients(session, order, resident):
                    told.setdefault((who.channel, who.address), (who.family, []))[1].append(order.id)
            for key, (family, ids) in told.items():
                etas.setdefault(key, []).append(DoorEta(resident.name if family else "", start, end, tuple(ids)))
    return etas


def _eta_news(old: Sequence[DoorEta], new: Sequence[DoorEta]) -> bool:
    """Compared per order: some order gets a time it was not told before. An order that only left the
    door (cancelled, left out, moved) is not news for the others: its own retraction tells about it."""
    before = {order_id: (eta.start, eta.end) for eta in old for order_id in eta.order_ids}
    return any(before.get(order_id) != (eta.start, eta.end) for eta in new for order_id in eta.order_ids)


def _driver_sms(run: Run, orders: Mapping[int, Order], day: str, link: str) -> str:
    """The run in one line and the link: the stops, items and map are on the page (SMS is short)."""
    doors = len({orders[i].resident_id for stop in run.stops for i in stop.order_ids})
    return f"【配達ルート】{day} {run.vehicle.name}\n出発{hhmm(run.start_at)} お届け{doors}件\n{link}"


def queue_plan_messages(session: Session, plan: Plan, previous: Plan | None, *, now: datetime,
                        driver_link: Callable[[Run], str], shop_link: ShopLink | None = None,
                        config: Mapping[str, Any] | None = None) -> int:
    """Queue the plan's messages that differ from the previous version's; return how many. Residents
    whose order is on no run (left out, or no longer there) are told too (delivery/leftovers.py)."""
    new, new_etas = _plan_messages(session, plan, driver_link, shop_link)
    old, old_etas = _plan_messages(session, previous, driver_link, shop_link) if previous is not None else ({}, {})
    queued = 0
    for (channel, recipient, kind), text in sorted(new.items()):
        if old.get((channel, recipient, kind)) == text:
            continue
        if kind == "eta" and not _eta_news(old_etas.get((channel, recipient), ()), new_etas[(channel, recipient)]):
            continue
        if plan.version > 1:
            text = "（更新）" + text
        payload: dict[str, object] = ({"messages": [{"type": "text", "text": text[:5000]}]}
                                      if channel == "line" else {"body": text})
        enqueue(session, channel=channel, recipient=recipient, kind=kind, payload=payload, now=now,
                dedupe_key=f"plan:{plan.id}:{kind}:{channel}:{recipient}")
        queued += 1
    return queued + queue_leftover_notices(session, plan, previous, now=now, config=config or {})
