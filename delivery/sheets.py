"""The data of a run as a driver needs it: the printable route sheet and the driver's phone page."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from delivery.models import Plan, Run, RunStop
from delivery.notices import hhmm
from delivery.svgmap import MapLine, MapPoint, map_link, render_svg
from orders.calendar import format_date_ja
from orders.models import Order, OrderStatus
from otodoke.errors import NotFound
from otodoke.models import AuditEntry
from residents.models import PAYMENT_LABELS_JA
from residents.phones import national_format
from shops.models import Shop

AWAY_NOTE = "【本日不在とのお電話あり。担当者に確認してください】"
CANCELLED_NOTE = "【取り消し済み。お届けしません】"


@dataclass(frozen=True)
class SheetStop:
    id: int
    seq: int
    kind: str            # pickup | delivery
    time: str            # "HH:MM"
    window: str          # "13:00〜17:00" for deliveries
    name: str            # resident or shop
    address: str
    phone: str
    items: tuple[str, ...]
    collect: str         # "現金 1,230円" or "地域通貨（支払済）"
    notes: str
    map_url: str
    status: str
    order_id: int | None
    cash_collected_yen: int | None = None   # what the driver recorded at the door
    cancelled: bool = False                 # cancelled after the plan was made: nothing to do here


@dataclass(frozen=True)
class RunSheet:
    run_id: int
    plan_active: bool
    title: str           # 「12月1日（火） 軽バン1号」
    driver: str
    districts: str
    start: str
    end: str
    distance_km: float
    stops: tuple[SheetStop, ...]
    cash_total_yen: int
    map_svg: str
    break_text: str = ""  # 「休憩 12:05〜12:50」: the planned break, so the driver takes it where it fits
    current_run_id: int | None = None   # for a run of a superseded plan: the same driver's (or van's) run now



def run_sheet(session: Session, run_id: int) -> RunSheet:
    run = session.scalars(select(Run).where(Run.id == run_id).options(
        selectinload(Run.stops), selectinload(Run.vehicle), selectinload(Run.driver),
        selectinload(Run.plan))).one_or_none()
    if run is None:
        raise NotFound("unknown_run", "そのルートは見つかりませんでした。")
    order_ids = [s.order_id for s in run.stops if s.order_id is not None]
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)).options(
        selectinload(Order.lines), selectinload(Order.resident)))} if order_ids else {}
    shops = {s.id: s for s in session.scalars(select(Shop))}
    legs = _order_legs(session, run, order_ids)
    away = _said_not_home(session, order_ids)
    carried: dict[int, set[int]] = {}   # order id → shops whose goods this van picks up for it
    for stop in run.stops:
        if stop.kind == "pickup":
            for order_id in stop.picks:
                carried.setdefault(order_id, set()).add(stop.shop_id)
    stops: list[SheetStop] = []
    cash_total = 0
    for stop in run.stops:
        if stop.kind == "pickup":
            stops.append(_pickup(stop, shops[stop.shop_id], orders))
            continue
        order = orders[stop.order_id]
        collector = legs[order.id][-1]
        sheet_stop = _delivery(stop, order)
        if order.status == OrderStatus.CANCELLED:
            # Cancelled after planning (before the cutoff): the van must neither collect nor deliver it.
            stops.append(replace(sheet_stop, collect="なし", cancelled=True,
                                 notes=f"{CANCELLED_NOTE}　{sheet_stop.notes}".rstrip("　")))
            continue
        if order.id in away:
            sheet_stop = replace(sheet_stop, notes=f"{AWAY_NOTE}　{sheet_stop.notes}".rstrip("　"))
        if len(legs[order.id]) > 1:
            sheet_stop = _split_leg(sheet_stop, order, carried.get(order.id, set()), collector, stop)
        stops.append(sheet_stop)
        if order.payment_method == "cash" and collector.id == stop.id:
            cash_total += order.total_yen
    depot = MapPoint(run.vehicle.depot_lat, run.vehicle.depot_lon, "", "出発・帰着", kind="depot")
    points = [MapPoint(s.lat, s.lon, str(s.seq), f"{s.seq}. {hhmm(s.eta)}", kind=s.kind) for s in run.stops]
    return RunSheet(
        run_id=run.id, plan_active=run.plan.active,
        title=f"{format_date_ja(run.plan.delivery_date)} {run.vehicle.name}",
        driver=run.driver.name if run.driver else "（未定）", districts=run.districts,
        start=hhmm(run.start_at), end=hhmm(run.end_at), distance_km=round(run.distance_m / 1000, 1),
        stops=tuple(stops), cash_total_yen=cash_total,
        break_text=(f"休憩 {hhmm(run.break_at)}〜{hhmm(run.break_at + timedelta(minutes=run.break_minutes))}"
                    if run.break_at is not None and run.break_minutes else ""),
        map_svg=render_svg([MapLine((depot, *points, depot), run.vehicle.name)]),
        current_run_id=None if run.plan.active else current_run_id(session, run),
    )


def current_run_id(session: Session, run: Run) -> int | None:
    """The run that replaced ``run`` in the day's active plan: the same driver's, or for a run without a
    driver the same van's; None when the new plan has no run for them (they should call the office)."""
    query = select(Run.id).join(Plan).where(Plan.delivery_date == run.plan.delivery_date,
                                            Plan.active.is_(True))
    query = query.where(Run.driver_id == run.driver_id) if run.driver_id is not None \
        else query.where(Run.vehicle_id == run.vehicle_id)
    return session.scalars(query.order_by(Run.id)).first()


def _said_not_home(session: Session, order_ids: list[int]) -> set[int]:
    """Orders whose resident answered the delivery-day ETA call with 2 (本日不在): the driver must know
    before driving out to the door (the phone line records it as an audit entry on the order)."""
    if not order_ids:
        return set()
    return {int(subject) for subject in session.scalars(select(AuditEntry.subject_id).where(
        AuditEntry.action == "eta.not_home", AuditEntry.subject_type == "order",
        AuditEntry.subject_id.in_([str(i) for i in order_ids])))}


def _order_legs(session: Session, run: Run, order_ids: list[int]) -> dict[int, list[RunStop]]:
    """Every delivery stop of these orders in the run's plan, by arrival time.

    An order with goods from several shops can reach the door in more than one leg (even by two vans);
    the money is collected once, at the last leg, when everything has arrived.
    """
    legs: dict[int, list[RunStop]] = {}
    if not order_ids:
        return legs
    for stop in session.scalars(select(RunStop).join(Run).where(
            Run.plan_id == run.plan_id, RunStop.kind == "delivery", RunStop.order_id.in_(order_ids))
            .options(selectinload(RunStop.run).selectinload(Run.vehicle))
            .order_by(RunStop.eta, RunStop.id)):
        legs.setdefault(stop.order_id, []).append(stop)   # type: ignore[arg-type]
    return legs


def _split_leg(sheet_stop: SheetStop, order: Order, shops_here: set[int], collector: RunStop,
               stop: RunStop) -> SheetStop:
    """One leg of an order split over several deliveries: only the goods on this van, money once."""
    lines = [line for line in order.lines if line.shop_id in shops_here] or list(order.lines)
    items = [f"{line.name} {line.quantity}{line.unit}" for line in lines]
    if len(lines) < len(order.lines):
        items.append("※ほかの品は別の便でお届けします")
    collect = sheet_stop.collect
    if collector.id != stop.id:
        where = f"{collector.seq}番" if collector.run_id == stop.run_id else collector.run.vehicle.name
        collect = f"集金なし（{where}で{collect}）"
    return replace(sheet_stop, items=tuple(items), collect=collect)


def _pickup(stop: RunStop, shop: Shop, orders: dict[int, Order]) -> SheetStop:
    totals: dict[str, list] = {}
    picked = [orders[i] for i in stop.picks if i in orders]
    live = [order for order in picked if order.status != OrderStatus.CANCELLED]
    for order in live:
        for line in order.lines:
            if line.shop_id == shop.id:
                entry = totals.setdefault(line.name, [0, line.unit])
                entry[0] += line.quantity
    items = tuple(f"{name} {qty}{unit}" for name, (qty, unit) in totals.items())
    nothing = bool(picked) and not live
    return SheetStop(stop.id, stop.seq, "pickup", hhmm(stop.eta), f"{shop.pickup_open}〜{shop.pickup_close}",
                     shop.name, shop.address, national_format(shop.phone or ""), items, "",
                     "【取り消しのため集荷はありません】" if nothing else "", map_link(stop.lat, stop.lon),
                     stop.status, None, cancelled=nothing)


def _delivery(stop: RunStop, order: Order) -> SheetStop:
    resident = order.resident
    items = tuple(f"{line.name} {line.quantity}{line.unit}" for line in order.lines)
    if order.payment_method == "cash":
        collect = f"現金 {order.total_yen:,}円"
    else:
        collect = f"{PAYMENT_LABELS_JA.get(order.payment_method, order.payment_method)}（{order.total_yen:,}円）"
    return SheetStop(stop.id, stop.seq, "delivery", hhmm(stop.eta),
                     f"{stop.window_start}〜{stop.window_end}", f"{resident.name} 様", resident.address,
                     national_format(resident.phone or resident.mobile_phone or ""), items, collect,
                     resident.delivery_notes, map_link(stop.lat, stop.lon), stop.status, order.id,
                     stop.cash_collected_yen)
