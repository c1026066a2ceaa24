"""Picking lists (集荷リスト): what each shop gets ready for the vans on a delivery day.

Built once, here, from a plan's pickup stops, and shown three ways: the LINE message to a shop owner
(``PickingList.text``), the short SMS to a shop without LINE (``PickingList.sms``, the detail is behind
its link) and the large-print page a shop opens from that link or staff print (``load_picking_list``).

A shop sees items, quantities, pickup times and order numbers only: never a resident's name, address
or phone number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from delivery.models import Plan, Run
from orders.calendar import format_date_ja
from orders.models import Order, OrderStatus
from core.clock import JST
from residents.phones import is_mobile, try_normalise_phone
from shops.models import Shop, ShopOwner

# Two UCS-2 segments (67 characters each when concatenated), less room for the 「（更新）」 of a re-plan.
SMS_MAX_CHARS = 2 * 67 - len("（更新）")
SMS_MAX_ITEMS = 3


@dataclass(frozen=True)
class PickLine:
    name: str
    quantity: int
    unit: str
    order_ids: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.name} {self.quantity}{self.unit}"


@dataclass(frozen=True)
class PickVisit:
    """One van's visit to the shop, with what it collects there."""

    vehicle: str
    time: str                          # "HH:MM", the planned arrival
    collected: bool                    # the driver recorded the pickup before this plan version
    lines: tuple[PickLine, ...]
    cancelled: tuple[int, ...] = ()    # orders cancelled since planning (only with skip_cancelled)

    @property
    def when(self) -> str:
        return "集荷済み" if self.collected else f"{self.time}ごろ集荷"


@dataclass(frozen=True)
class PickingList:
    shop_id: int
    shop_name: str
    delivery_date: date
    visits: tuple[PickVisit, ...]

    @property
    def day(self) -> str:
        return format_date_ja(self.delivery_date)

    def text(self) -> str:
        """The full list, as a LINE message."""
        body = []
        for visit in self.visits:
            body.append(f"■ {visit.vehicle} {visit.when}")
            body.extend(f"・{line.label}（注文番号 {', '.join(map(str, line.order_ids))}）"
                        for line in visit.lines)
        return f"【集荷リスト】{self.day}\n{self.shop_name} さま\n" + "\n".join(body)

    def sms(self, link: str) -> str:
        """A short summary with the link to the full list; as many items as fit in two segments."""
        times = sorted(v.time for v in self.visits if not v.collected)
        when = ("集荷済み" if not times else f"{times[0]}ごろ集荷" if len(times) == 1
                else f"{times[0]}ごろから{len(times)}回集荷")
        totals: dict[tuple[str, str], int] = {}
        for visit in self.visits:
            for line in visit.lines:
                totals[(line.name, line.unit)] = totals.get((line.name, line.unit), 0) + line.quantity
        items = [f"{name}{qty}{unit}" for (name, unit), qty in totals.items()]

        def compose(shown: int) -> str:
            listed = ("、".join(items[:shown]) + (f"ほか{len(items) - shown}品" if shown < len(items) else "")
                      if shown else f"{len(items)}品")
            return f"【集荷リスト】{self.day} {self.shop_name}さま\n{when}：{listed}\n一覧 {link}"

        shown = min(len(items), SMS_MAX_ITEMS)
        while shown > 0 and len(compose(shown)) > SMS_MAX_CHARS:
            shown -= 1
        return compose(shown)


def picking_lists(runs: Iterable[Run], orders: Mapping[int, Order], shops: Mapping[int, Shop],
                  delivery_date: date, *, shop_id: int | None = None,
                  skip_cancelled: bool = False) -> dict[int, PickingList]:
    """Every shop's list for these runs (stops and vehicles loaded), in run and stop order; only
    ``shop_id``'s when given.

    Messages keep orders cancelled since planning (``skip_cancelled=False``): comparing a re-plan with
    the list the shop was sent must show the change. The live page leaves them out and names them.
    """
    visits: dict[int, list[PickVisit]] = {}
    for run in runs:
        for stop in run.stops:
            if stop.kind != "pickup" or stop.shop_id is None or shop_id not in (None, stop.shop_id):
                continue
            picked = [orders[i] for i in stop.picks if i in orders]
            cancelled = tuple(o.id for o in picked if o.status == OrderStatus.CANCELLED) if skip_cancelled else ()
            totals: dict[str, list] = {}
            for order in picked:
                if order.id in cancelled:
                    continue
                for line in order.lines:
                    if line.shop_id != stop.shop_id:
                        continue
                    entry = totals.setdefault(line.name, [0, line.unit, []])
                    entry[0] += line.quantity
                    entry[2].append(order.id)
            lines = tuple(PickLine(name, qty, unit, tuple(ids)) for name, (qty, unit, ids) in totals.items())
            visits.setdefault(stop.shop_id, []).append(PickVisit(
                run.vehicle.name, stop.eta.astimezone(JST).strftime("%H:%M"), stop.status != "pending",
                lines, cancelled))
    return {sid: PickingList(sid, shops[sid].name, delivery_date, tuple(found)) for sid, found in visits.items()}


def sms_number(shop: Shop, owners: list[ShopOwner]) -> str | None:
    """Where a shop's list goes by SMS: its phone (E.164), only when no owner is on LINE."""
    return None if owners else try_normalise_phone(shop.phone)


def picking_channel(shop: Shop, owners: list[ShopOwner]) -> str:
    """How the shop gets its list, for staff: 'line', 'sms', 'sms_landline' (sent, but a landline
    seldom receives SMS: print it too) or 'paper' (to be printed and handed over)."""
    if owners:
        return "line"
    number = sms_number(shop, owners)
    return "paper" if number is None else "sms" if is_mobile(number) else "sms_landline"


def picking_shops(session: Session, plan: Plan) -> list[tuple[Shop, str]]:
    """The shops the plan's vans collect from, each with how it gets its list (for the staff page)."""
    ids = {s.shop_id for r in plan.runs for s in r.stops if s.kind == "pickup" and s.shop_id is not None}
    shops = session.scalars(select(Shop).where(Shop.id.in_(ids)).options(selectinload(Shop.owners))
                            .order_by(Shop.id)) if ids else []
    return [(shop, picking_channel(shop, list(shop.owners))) for shop in shops]


def active_plan(session: Session, delivery_date: date) -> Plan | None:
    return session.scalars(select(Plan).where(Plan.delivery_date == delivery_date,
                                              Plan.active.is_(True))).first()


def load_picking_lists(session: Session, delivery_date: date, *, shop_id: int | None = None
                       ) -> tuple[Plan | None, dict[int, PickingList]]:
    """The day's active plan and its lists as they stand now (cancelled orders named, not counted);
    only ``shop_id``'s list when given, so a shop's page is built from nothing but its own stops."""
    plan = active_plan(session, delivery_date)
    if plan is None:
        return None, {}
    runs = session.scalars(select(Run).where(Run.plan_id == plan.id).order_by(Run.id)
                           .options(selectinload(Run.stops), selectinload(Run.vehicle))).all()
    wanted = [s for r in runs for s in r.stops if s.kind == "pickup" and s.shop_id is not None
              and (shop_id is None or s.shop_id == shop_id)]
    order_ids = {i for s in wanted for i in s.picks}
    orders = {o.id: o for o in session.scalars(
        select(Order).where(Order.id.in_(order_ids)).options(selectinload(Order.lines)))} if order_ids else {}
    shops = {s.id: s for s in session.scalars(select(Shop).where(Shop.id.in_({s.shop_id for s in wanted})))}
    return plan, picking_lists(runs, orders, shops, delivery_date, shop_id=shop_id, skip_cancelled=True)


def shop_day_text(session: Session, shop_id: int, delivery_date: date) -> str:
    """「今日の注文」 for a shop owner on LINE: the picking list of the day's active plan (the same text
    as the message sent at cutoff, cancelled orders left out), or, before the day is planned, the
    items ordered so far, with no pickup time yet. Never a resident's name or address."""
    shop = session.get(Shop, shop_id)
    name = shop.name if shop else ""
    plan, lists = load_picking_lists(session, delivery_date, shop_id=shop_id)
    if plan is not None and shop_id in lists:
        return lists[shop_id].text()
    orders = session.scalars(
        select(Order).where(Order.delivery_date == delivery_date, Order.status != OrderStatus.CANCELLED)
        .options(selectinload(Order.lines)).order_by(Order.id)).all()
    totals: dict[str, list] = {}
    for order in orders:
        for line in order.lines:
            if line.shop_id == shop_id:
                entry = totals.setdefault(line.name, [0, line.unit, []])
                entry[0] += line.quantity
                entry[2].append(order.id)
    head = f"【今日の注文】{format_date_ja(delivery_date)}\n{name} さま"
    if not totals:
        return head + "\n今日お届けのご注文はありません。"
    lines = [PickLine(n, qty, unit, tuple(ids)) for n, (qty, unit, ids) in totals.items()]
    when = ("集荷の時間は、配達の計画ができしだいお送りします。" if plan is None
            else "今日の集荷の予定には入っていません。担当者にご確認ください。")
    return "\n".join([head, when] + [f"・{l.label}（注文番号 {', '.join(map(str, l.order_ids))}）" for l in lines])
