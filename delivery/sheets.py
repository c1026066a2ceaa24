"""The data of a run as a driver needs it: the printable route sheet and the driver's phone page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from delivery.models import Plan, Run, RunStop, RunStopOrder
from delivery.notices import hhmm
from delivery.svgmap import MapLine, MapPoint, map_link, render_svg
from orders.calendar import format_date_ja
from orders.models import Order, OrderStatus
from core.errors import NotFound
from core.models import AuditEntry
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
    order_ids: tuple[int, ...]              # the orders handed over at a door (a resident may have two)
    cash_collected_yen: int | None = None   # what the driver recorded at the door
    cancelled: bool = False                 # cancelled after the plan was made: nothing to do here
    cash_due_yen: int = 0                   # the cash the driver is to collect here (each order once)


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
    # The driver's page is opened again after every tap: its many-to-ones come in the run's own row
    # (joined), not one query each.
    run = session.scalars(select(Run).where(Run.id == run_id).options(
        selectinload(Run.stops), joinedload(Run.vehicle), joinedload(Run.driver),
        joinedload(Run.plan))).unique().one_or_none()
    if run is None:
        raise NotFound("unknown_run", "そのルートは見つかりませんでした。")
    order_ids = [order_id for s in run.stops for order_id in s.order_ids]
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)).options(
        selectinload(Order.lines), joinedload(Order.resident)))} if order_ids else {}
    shop_ids = {s.shop_id for s in run.stops if s.kind == "pickup"}
    shops = {s.id: s for s in session.scalars(select(Shop).where(Shop.id.in_(shop_ids)))} if shop_ids else {}
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
        sheet_stop, cash = _door(stop, [orders[i] for i in stop.order_ids], legs, carried, away)
        stops.append(sheet_stop)
        cash_total += cash
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
    for order_id, stop in session.execute(
            select(RunStopOrder.order_id, RunStop).join(RunStop, RunStop.id == RunStopOrder.run_stop_id)
            .join(Run, Run.id == RunStop.run_id)
            .where(Run.plan_id == run.plan_id, RunStopOrder.order_id.in_(order_ids))
            .order_by(RunStop.eta, RunStop.id)):
        # a leg's run and van are read (lazily) only for an order split over two vans: seldom
        legs.setdefault(order_id, []).append(stop)
    return legs


def _door(stop: RunStop, here: list[Order], legs: dict[int, list[RunStop]], carried: dict[int, set[int]],
          away: set[int]) -> tuple[SheetStop, int]:
    """A door stop, with every order handed over there (a resident may have two that day), and the cash
    the driver collects at it: each order's money once, at its last leg, the door's cash as one sum."""
    live = [order for order in here if order.status != OrderStatus.CANCELLED]
    cancelled = [order.id for order in here if order.status == OrderStatus.CANCELLED]
    resident = here[0].resident
    items: list[str] = []
    cash_here: list[int] = []
    elsewhere: list[str] = []   # what is paid otherwise: by another payment, or at another leg
    for order in live:
        order_legs = legs.get(order.id, [stop])
        lines = list(order.lines)
        if len(order_legs) > 1:
            # one leg of an order split over several deliveries: only the goods on this van
            lines = [line for line in lines if line.shop_id in carried.get(order.id, set())] or lines
        items.extend(f"{line.name} {line.quantity}{line.unit}" for line in lines)
        if len(lines) < len(order.lines):
            items.append("※ほかの品は別の便でお届けします")
        collector = order_legs[-1]
        if order.payment_method == "cash" and collector.id == stop.id:
            cash_here.append(order.total_yen)
            continue
        paid = _payment(order)
        if collector.id != stop.id:
            where = f"{collector.seq}番" if collector.run_id == stop.run_id else collector.run.vehicle.name
            paid = f"集金なし（{where}で{paid}）"
        elsewhere.append(paid)
    collect = []
    if cash_here:
        parts = f"（{'＋'.join(f'{yen:,}円' for yen in cash_here)}）" if len(cash_here) > 1 else ""
        collect.append(f"現金 {sum(cash_here):,}円{parts}")
    collect.extend(elsewhere)
    notes = [resident.delivery_notes] if resident.delivery_notes else []
    if any(order.id in away for order in live):
        notes.insert(0, AWAY_NOTE)
    if cancelled and live:
        notes.insert(0, f"【注文番号 {'・'.join(map(str, cancelled))} は取り消し済み。お届けしません】")
    elif cancelled:
        # Cancelled after planning (before the cutoff): the van must neither collect nor deliver it.
        notes.insert(0, CANCELLED_NOTE)
        items = [f"{line.name} {line.quantity}{line.unit}" for order in here for line in order.lines]
    sheet_stop = SheetStop(
        stop.id, stop.seq, "delivery", hhmm(stop.eta), f"{stop.window_start}〜{stop.window_end}",
        f"{resident.name} 様", resident.address, national_format(resident.phone or resident.mobile_phone or ""),
        tuple(items), "　".join(collect) if live else "なし", "　".join(notes), map_link(stop.lat, stop.lon),
        stop.status, tuple(order.id for order in here), stop.cash_collected_yen, cancelled=not live,
        cash_due_yen=sum(cash_here))
    return sheet_stop, sum(cash_here)


def _payment(order: Order) -> str:
    if order.payment_method == "cash":
        return f"現金 {order.total_yen:,}円"
    return f"{PAYMENT_LABELS_JA.get(order.payment_method, order.payment_method)}（{order.total_yen:,}円）"


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
                     "【取り消しのため集荷はありません】" if nothing else stop.why, map_link(stop.lat, stop.lon),
                     stop.status, (), cancelled=nothing)
