"""Load the FICTIONAL pilot-town demo data (Nagai) into a database, deterministically from a seed.

Residents go through the real ``register_resident`` (validation, E.164 phones, audit); districts,
shops, products, vehicles and drivers are plain rows, since no service creates them yet. Loading is
all or nothing in the caller's transaction and never duplicates: if the demo districts are already
there, nothing is done.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from places.models import District
from delivery.models import Driver, Vehicle
from demo import FICTIONAL_NOTICE, data_people, data_places, data_shops
from core import audit
from core.errors import Conflict
from residents.models import FamilyLink
from residents.phones import normalise_phone
from residents.service import register_resident
from shops.models import Product, Shop, ShopOwner, StockMovement

DEFAULT_SEED = 20261126
ACTOR = "demo:seed"
_KM_PER_DEG_LAT = 111.0


@dataclass(frozen=True)
class SeedSummary:
    loaded: bool
    districts: int = 0
    shops: int = 0
    products: int = 0
    residents: int = 0
    family_links: int = 0
    vehicles: int = 0
    drivers: int = 0

    def lines(self) -> list[str]:
        if not self.loaded:
            return ["デモデータはすでに読み込まれています（何も変更していません） / demo data already present",
                    FICTIONAL_NOTICE]
        return [
            "長井市（パイロット）のデモデータを読み込みました / demo town loaded",
            f"  地区 {self.districts} / 店舗・直売所 {self.shops} / 商品 {self.products}",
            f"  利用者 {self.residents} / 家族のLINE連携 {self.family_links}",
            f"  車両 {self.vehicles} / 配達員 {self.drivers}",
            FICTIONAL_NOTICE,
        ]


def seed_demo(session: Session, *, now: datetime, seed: int = DEFAULT_SEED, force: bool = False,
              residents_per_home: int = 1) -> SeedSummary:
    """Add the demo town in the caller's transaction; return what was added.

    ``residents_per_home`` > 1 (the day benchmark's larger days only) registers that many times the
    residents in the same hamlets, so a day of 240 or 480 orders has people to come from.

    Does nothing (``loaded=False``) when the demo districts exist already. Refuses, unless ``force``,
    to mix demo data into a database that has other districts: that is a real town's data.
    """
    codes = set(session.scalars(select(District.code)))
    if codes & {spec.code for spec in data_places.DISTRICTS}:
        return SeedSummary(loaded=False)
    if codes and not force:
        raise Conflict("database_not_empty",
                       "データベースにほかの地区があるため、デモデータは読み込みません（--force で追加できます）。")

    rng = random.Random(seed)
    districts = _districts(session)
    vehicles = _vehicles(session)
    drivers = _drivers(session, vehicles)
    shops, products = _shops(session, districts, now)
    residents, links = _residents(session, rng, districts, now, residents_per_home)
    summary = SeedSummary(loaded=True, districts=len(districts), shops=shops, products=products,
                          residents=residents, family_links=links, vehicles=len(vehicles), drivers=drivers)
    # Demo sign-ins (admin, coordinator, readonly, a shop, a driver) exist only with the demo town.
    from accounts.demo import add_demo_accounts
    add_demo_accounts(session, now=now)
    audit.record(session, at=now, actor=ACTOR, channel="staff", action="demo.seed", subject_type="demo",
                 subject_id=seed, fictional=True, districts=summary.districts, shops=summary.shops,
                 products=summary.products, residents=summary.residents)
    return summary


def _districts(session: Session) -> dict[str, District]:
    found: dict[str, District] = {}
    for spec in data_places.DISTRICTS:
        depot_name, depot_lat, depot_lon = spec.depot
        district = District(code=spec.code, name=spec.name, kana=spec.kana, delivery_weekdays=spec.weekdays,
                            cutoff_days_before=spec.cutoff_days_before, cutoff_time=spec.cutoff_time,
                            skip_public_holidays=True, windows=[dict(w) for w in spec.windows],
                            centre_lat=spec.centre[0], centre_lon=spec.centre[1], depot_name=depot_name,
                            depot_lat=depot_lat, depot_lon=depot_lon, fee_yen=spec.fee_yen)
        session.add(district)
        found[spec.code] = district
    session.flush()
    return found


def _vehicles(session: Session) -> list[Vehicle]:
    lat, lon = data_places.CITY_HALL
    vehicles = [Vehicle(name=v.name, capacity_crates=v.capacity_crates, capacity_cold=v.capacity_cold,
                        depot_lat=lat, depot_lon=lon, shift_start=v.shift_start, shift_end=v.shift_end,
                        break_start=v.break_start, break_minutes=v.break_minutes, active=True)
                for v in data_places.VEHICLES]
    session.add_all(vehicles)
    session.flush()
    return vehicles


def _drivers(session: Session, vehicles: list[Vehicle]) -> int:
    for spec in data_places.DRIVERS:
        vehicle_id = vehicles[spec.vehicle_index].id if spec.vehicle_index is not None else None
        session.add(Driver(name=spec.name, kana=spec.kana, phone=normalise_phone(spec.phone),
                           line_user_id=spec.line_user_id, vehicle_id=vehicle_id, active=True))
    session.flush()
    return len(data_places.DRIVERS)


def _shops(session: Session, districts: dict[str, District], now: datetime) -> tuple[int, int]:
    products = 0
    for index, spec in enumerate(data_shops.SHOPS):
        district = districts[spec.district]
        # Each shop's position depends only on its name, so editing one shop moves no other.
        lat, lon = _scatter(random.Random(f"shop:{spec.name}"), (district.centre_lat, district.centre_lon),
                            0.6 if spec.district == "chuo" else 1.2)
        shop = Shop(name=spec.name, kana=spec.kana, kind=spec.kind, address=spec.address, lat=lat, lon=lon,
                    phone=normalise_phone(f"0238-00-{100 + index:04d}"), pickup_open=spec.pickup[0],
                    pickup_close=spec.pickup[1], active=True)
        session.add(shop)
        session.flush()
        for p in spec.products:
            product = Product(shop_id=shop.id, name=p.name, kana=p.kana, category=p.category, unit=p.unit,
                              price_yen=p.price_yen, stock=p.stock, available=True, cold=p.cold)
            session.add(product)
            products += 1
        session.flush()
        # Opening balance in the stock ledger, so that Σ delta == stock from the first day.
        for product in shop.products:
            if product.stock is not None:
                session.add(StockMovement(product_id=product.id, delta=product.stock, reason="initial",
                                          order_id=None, actor=ACTOR, at=now))
        if spec.owner_line_id:
            session.add(ShopOwner(shop_id=shop.id, line_user_id=spec.owner_line_id, name="店主（デモ）"))
    session.flush()
    return len(data_shops.SHOPS), products


def _residents(session: Session, rng: random.Random, districts: dict[str, District],
               now: datetime, per_home: int = 1) -> tuple[int, int]:
    people, family_links, index = 0, 0, 0
    for spec in data_places.DISTRICTS:
        district = districts[spec.code]
        # Residents live in hamlets (or town blocks): one cluster per address stem.
        hamlets = {place: _scatter(rng, spec.centre, spec.spread_km * 0.7) for place in spec.places}
        for _ in range(spec.residents * per_home):
            place = rng.choice(spec.places)
            lat, lon = _scatter(rng, hamlets[place], 0.35)
            address = (f"長井市{place}{rng.randint(1, 9)}-{rng.randint(1, 30)}" if spec.chome
                       else f"長井市{place}{rng.randint(100, 3999)}")
            surname, surname_kana = rng.choice(data_people.SURNAMES)
            woman = rng.random() < 0.68  # most people living alone at 75+ are women
            given, given_kana = rng.choice(data_people.WOMEN if woman else data_people.MEN)
            kind = rng.random()
            landline = f"0238-00-{1000 + index:04d}" if kind >= 0.12 else None
            mobile = f"090-0000-{2000 + index:04d}" if kind < 0.40 else None
            line_id = f"Udemo{index + 1:06d}" if rng.random() < 0.35 else None
            notes = rng.choice(data_people.DELIVERY_NOTES) if rng.random() < 0.3 else ""
            payment = "local_currency" if rng.random() < 0.15 else "cash"
            resident = register_resident(
                session, name=f"{surname} {given}", kana=f"{surname_kana} {given_kana}",
                district_id=district.id, address=address, lat=lat, lon=lon, phone=landline,
                mobile_phone=mobile, line_user_id=line_id, delivery_notes=notes, payment_method=payment,
                consent=True, actor=ACTOR, channel="staff", now=now)
            if len(spec.windows) > 1:
                choice = rng.random()
                resident.preferred_window = "am" if choice < 0.3 else "pm" if choice < 0.5 else None
            resident.wants_eta_call = rng.random() < 0.2
            if rng.random() < 0.2:
                family_links += 1
                relation = rng.choice(data_people.FAMILY_RELATIONS)
                session.add(FamilyLink(
                    resident_id=resident.id, line_user_id=f"Udemofam{family_links:04d}",
                    name=f"{surname} {rng.choice(data_people.FAMILY_GIVEN)}（{relation}）", relation=relation,
                    mobile_phone=normalise_phone(f"070-0000-{3000 + family_links:04d}"), notify=True,
                    linked_at=now))
            people += 1
            index += 1
    session.flush()
    return people, family_links


def _scatter(rng: random.Random, centre: tuple[float, float], radius_km: float) -> tuple[float, float]:
    """A point within ``radius_km`` of ``centre``, inside the town's box and not in the river."""
    lat0, lon0 = centre
    km_per_deg_lon = _KM_PER_DEG_LAT * math.cos(math.radians(lat0))
    min_lat, max_lat, min_lon, max_lon = data_places.BOUNDING_BOX
    for _ in range(200):
        distance = radius_km * math.sqrt(rng.random())
        angle = rng.uniform(0, 2 * math.pi)
        lat = lat0 + distance * math.cos(angle) / _KM_PER_DEG_LAT
        lon = lon0 + distance * math.sin(angle) / km_per_deg_lon
        if min_lat <= lat <= max_lat and min_lon <= lon <= max_lon and river_distance_km(lat, lon) > 0.25:
            return round(lat, 6), round(lon, 6)
    return lat0, lon0  # the centres themselves are chosen on land


def river_distance_km(lat: float, lon: float) -> float:
    """Distance to the RIVER polyline on a local flat projection (good to metres at this scale)."""
    kx = _KM_PER_DEG_LAT * math.cos(math.radians(lat))
    best = math.inf
    points = data_places.RIVER
    for (alat, alon), (blat, blon) in zip(points, points[1:]):
        ax, ay, bx, by = alon * kx, alat * _KM_PER_DEG_LAT, blon * kx, blat * _KM_PER_DEG_LAT
        px, py = lon * kx, lat * _KM_PER_DEG_LAT
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best
