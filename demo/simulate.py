"""A realistic day of orders for a delivery date, placed through the real ``orders.service.place_order``.

Who orders: residents of the districts that deliver on that date (each at most once), sampled with
the seed. What: 1–5 lines, mostly everyday staples, from one to three shops (usually one or two), nearby farm stands
preferred; rice and other heavy items one at a time. When: each order gets a *simulated* time in the
three hours before its district's cutoff for that date (not the command's clock), so that any date can
be simulated and the same seed always gives the same orders. Orders are placed in time order, so
early orders take the last units and later ones meet 「売り切れ」: every sold-out line is reported.

Each order carries the idempotency key ``sim:<date>:<seed>:<resident id>``: running the same command
again adds nothing, and a resident who already has another order for that day is left out (reported).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from places.models import District
from demo import FICTIONAL_NOTICE
from demo.data_shops import STAPLES
from orders.calendar import cutoff_for, is_delivery_day, next_delivery_slot
from orders.errors import OrderError
from orders.models import Order, OrderStatus
from orders.service import LineItem, place_order
from core import audit
from residents.models import Resident
from shops.models import Product, Shop

ACTOR = "sim"
LINE_COUNT_WEIGHTS = {1: 20, 2: 30, 3: 25, 4: 15, 5: 10}
ORDER_WINDOW_MINUTES = (5, 180)   # orders arrive 5 minutes to 3 hours before the cutoff
SAME_SHOP_CHANCE = 0.55
MAX_SHOPS = 3
_HEAVY = ("米",)


@dataclass(frozen=True)
class SimulatedOrder:
    order_id: int
    resident_id: int
    district_code: str
    placed_at: datetime
    items: tuple[tuple[int, int], ...]   # (product id, quantity)
    total_yen: int
    window_code: str
    existed: bool                        # returned by the idempotency key from an earlier run


@dataclass(frozen=True)
class SoldOutLine:
    resident_id: int
    product_id: int
    name: str
    wanted: int
    left: int


@dataclass(frozen=True)
class Failure:
    resident_id: int
    code: str
    message: str


@dataclass(frozen=True)
class SimulationReport:
    delivery_date: date
    seed: int
    requested: int
    generated_at: datetime
    districts: tuple[str, ...]           # codes of the districts delivering that day
    skipped_districts: tuple[str, ...]   # no delivery that day (weekday, public holiday)
    orders: tuple[SimulatedOrder, ...] = ()
    sold_out: tuple[SoldOutLine, ...] = ()
    failures: tuple[Failure, ...] = ()
    emptied: tuple[int, ...] = ()        # residents whose whole basket was sold out
    already_ordered: tuple[int, ...] = ()  # residents with another order for that day: left alone
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def new_orders(self) -> int:
        return sum(1 for o in self.orders if not o.existed)

    def lines(self) -> list[str]:
        out = [f"注文のシミュレーション {self.delivery_date.isoformat()}（seed {self.seed}） / simulated orders",
               FICTIONAL_NOTICE,
               "注文時刻: 各地区の締め切り前3時間以内の模擬時刻（コマンドの時計ではありません）"]
        if not self.districts:
            out.append("この日に配達のある地区はありません / no district delivers on this date")
            return out
        per_district = Counter(o.district_code for o in self.orders)
        out.append(f"注文 {len(self.orders)} 件（新規 {self.new_orders}）/ 希望 {self.requested} 件, "
                   f"合計 {sum(o.total_yen for o in self.orders):,} 円")
        out.append("  地区別: " + ", ".join(f"{code} {per_district.get(code, 0)}" for code in self.districts))
        if self.skipped_districts:
            out.append("  配達なし: " + ", ".join(self.skipped_districts))
        for line in self.sold_out:
            out.append(f"  売り切れ: {line.name}（商品 {line.product_id}）希望 {line.wanted} / 残り {line.left}"
                       f" — 利用者 {line.resident_id}")
        if self.already_ordered:
            out.append(f"  ほかの注文があるため対象外: {len(self.already_ordered)} 人")
        if self.emptied:
            out.append(f"  全品売り切れで注文なし: 利用者 {', '.join(map(str, self.emptied))}")
        for failure in self.failures:
            out.append(f"  失敗: 利用者 {failure.resident_id} {failure.code} {failure.message}")
        out.extend(f"  {note}" for note in self.notes)
        return out


@dataclass
class _Plan:
    resident: Resident
    district: District
    placed_at: datetime
    items: dict[int, int]  # product id → quantity, in the order chosen


def simulate_orders(session: Session, *, delivery_date: date, count: int, seed: int,
                    now: datetime) -> SimulationReport:
    """Place up to ``count`` orders for ``delivery_date`` in the caller's transaction; report all."""
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(f"{seed}:{delivery_date.isoformat()}")
    districts = list(session.scalars(select(District).order_by(District.id)))
    delivering = [d for d in districts if is_delivery_day(d, delivery_date)]
    skipped = tuple(d.code for d in districts if d not in delivering)
    base = dict(delivery_date=delivery_date, seed=seed, requested=count, generated_at=now,
                districts=tuple(d.code for d in delivering), skipped_districts=skipped)
    if not delivering:
        return SimulationReport(**base)

    residents = list(session.scalars(
        select(Resident).where(Resident.active.is_(True),
                               Resident.district_id.in_([d.id for d in delivering]))
        .order_by(Resident.id)))
    notes: list[str] = []
    if count > len(residents):
        notes.append(f"利用者が {len(residents)} 人のため、{len(residents)} 件までにしました")
    chosen = rng.sample(residents, min(count, len(residents)))
    catalogue = list(session.scalars(
        select(Product).join(Shop, Shop.id == Product.shop_id)
        .where(Product.available.is_(True), Shop.active.is_(True)).order_by(Product.id)))
    if not catalogue:
        return SimulationReport(**base, notes=("販売中の商品がありません / nothing on sale",))
    shops = {s.id: s for s in session.scalars(select(Shop))}
    by_id = {d.id: d for d in delivering}
    plans = [_plan(rng, r, by_id[r.district_id], catalogue, shops, delivery_date) for r in chosen]
    plans.sort(key=lambda p: (p.placed_at, p.resident.id))

    orders: list[SimulatedOrder] = []
    sold_out: list[SoldOutLine] = []
    failures: list[Failure] = []
    emptied: list[int] = []
    names = {p.id: p.name for p in catalogue}
    keys_by_resident: dict[int, set[str | None]] = {}
    for resident_id, existing_key in session.execute(
            select(Order.resident_id, Order.idempotency_key)
            .where(Order.delivery_date == delivery_date, Order.status != OrderStatus.CANCELLED)):
        keys_by_resident.setdefault(resident_id, set()).add(existing_key)
    already: list[int] = []
    for plan in plans:
        key = f"sim:{delivery_date.isoformat()}:{seed}:{plan.resident.id}"
        existing_keys = keys_by_resident.get(plan.resident.id, set())
        existed = key in existing_keys
        if existing_keys and not existed:
            already.append(plan.resident.id)  # nobody orders twice for one day
            continue
        items = dict(plan.items)
        while items:
            try:
                order = place_order(session, resident_id=plan.resident.id,
                                    items=[LineItem(pid, qty) for pid, qty in items.items()],
                                    placed_by=ACTOR, channel="sim", now=plan.placed_at, idempotency_key=key)
            except OrderError as error:
                product_id = error.details.get("product_id")
                if error.code in ("sold_out", "product_unavailable") and product_id in items:
                    sold_out.append(SoldOutLine(plan.resident.id, product_id, names.get(product_id, "?"),
                                                items.pop(product_id), int(error.details.get("left") or 0)))
                    continue  # like a resident would: drop that item and confirm the rest
                failures.append(Failure(plan.resident.id, error.code, error.message))
                break
            orders.append(SimulatedOrder(
                order_id=order.id, resident_id=plan.resident.id, district_code=plan.district.code,
                placed_at=order.created_at, items=tuple((line.product_id, line.quantity) for line in order.lines),
                total_yen=order.total_yen, window_code=order.window_code, existed=existed))
            break
        else:
            emptied.append(plan.resident.id)
    report = SimulationReport(**base, orders=tuple(orders), sold_out=tuple(sold_out),
                              failures=tuple(failures), emptied=tuple(emptied),
                              already_ordered=tuple(already), notes=tuple(notes))
    audit.record(session, at=now, actor=ACTOR, channel="sim", action="demo.simulate", subject_type="date",
                 subject_id=delivery_date.isoformat(), seed=seed, requested=count,
                 orders=len(orders), new_orders=report.new_orders, sold_out=len(sold_out))
    return report


def _plan(rng: random.Random, resident: Resident, district: District, catalogue: list[Product],
          shops: dict[int, Shop], delivery_date: date) -> _Plan:
    cutoff = cutoff_for(district, delivery_date)
    placed_at = cutoff - timedelta(minutes=rng.randint(*ORDER_WINDOW_MINUTES))
    if next_delivery_slot(district, placed_at).date != delivery_date:
        placed_at = cutoff - timedelta(minutes=ORDER_WINDOW_MINUTES[0])
    weights = [_weight(p, shops[p.shop_id], resident) for p in catalogue]
    wanted = rng.choices(list(LINE_COUNT_WEIGHTS), weights=list(LINE_COUNT_WEIGHTS.values()))[0]
    items: dict[int, int] = {}
    for _ in range(wanted * 4):  # a few redraws when a product is already in the basket
        if len(items) >= wanted:
            break
        pool, pool_weights = catalogue, weights
        shop_ids = {p.shop_id for p in catalogue if p.id in items}
        # a basket draws from at most three shops, as the pilot's do (a fourth shop's item is left out)
        if items and (len(shop_ids) >= MAX_SHOPS or rng.random() < SAME_SHOP_CHANCE):
            pairs = [(p, w) for p, w in zip(catalogue, weights) if p.shop_id in shop_ids]
            pool, pool_weights = [p for p, _ in pairs], [w for _, w in pairs]
        product = rng.choices(pool, weights=pool_weights)[0]
        if product.id in items:
            continue
        items[product.id] = _quantity(rng, product)
    return _Plan(resident=resident, district=district, placed_at=placed_at, items=items)


def _weight(product: Product, shop: Shop, resident: Resident) -> float:
    weight = 3.0 if product.category in STAPLES else 0.5 if product.category in _HEAVY else 1.0
    if product.price_yen >= 1500:
        weight *= 0.4   # a treat, not an everyday purchase
    if resident.lat is not None and resident.lon is not None:
        km = math.hypot((shop.lat - resident.lat) * 111.0, (shop.lon - resident.lon) * 87.0)
        weight *= 2.0 if km < 2.5 else 1.0   # the farm stand down the road
    return weight


def _quantity(rng: random.Random, product: Product) -> int:
    if product.category in _HEAVY or product.price_yen >= 1000 or product.unit == "kg":
        return 1
    return rng.choices([1, 2, 3], weights=[75, 20, 5])[0]
