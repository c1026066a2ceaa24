"""Vehicles, drivers, and the stored delivery plans (districts are in ``places/models.py``)."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.ext.orderinglist import ordering_list
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base


class Vehicle(Base):
    """A delivery vehicle with capacity in crates and cold-box slots, and a shift (HH:MM, Asia/Tokyo)."""

    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    capacity_crates: Mapped[int] = mapped_column()
    capacity_cold: Mapped[int] = mapped_column(default=0)
    depot_lat: Mapped[float] = mapped_column()
    depot_lon: Mapped[float] = mapped_column()
    shift_start: Mapped[str] = mapped_column(String(5), default="09:00")
    shift_end: Mapped[str] = mapped_column(String(5), default="17:00")
    break_start: Mapped[str | None] = mapped_column(String(5))
    break_minutes: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class Driver(Base):
    __tablename__ = "drivers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kana: Mapped[str] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32))
    line_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    active: Mapped[bool] = mapped_column(default=True)

    vehicle: Mapped[Vehicle | None] = relationship()


class Plan(Base):
    """One version of the delivery plan for a day. Re-planning adds a version; the newest is active."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("delivery_date", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_date: Mapped[date] = mapped_column(index=True)
    version: Mapped[int] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    trigger: Mapped[str] = mapped_column(String(64))     # "cutoff:2026-12-01T10:00", "staff", "cli"
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column()
    solver_seconds: Mapped[float] = mapped_column(default=0.0)
    strategy: Mapped[str] = mapped_column(String(128), default="")
    total_distance_m: Mapped[int] = mapped_column(default=0)
    total_duration_s: Mapped[int] = mapped_column(default=0)
    order_count: Mapped[int] = mapped_column(default=0)
    unassigned_count: Mapped[int] = mapped_column(default=0)
    diff: Mapped[dict[str, Any]] = mapped_column(default=dict)   # what changed against the previous version
    # When orders were left out: what would have served them all, computed by re-solving (Japanese)
    advice: Mapped[str | None] = mapped_column(Text)
    # The solver's routes as stop ids per vehicle, so a re-plan can warm-start from this plan.
    routes: Mapped[dict[str, Any]] = mapped_column(default=dict)

    runs: Mapped[list["Run"]] = relationship(back_populates="plan", order_by="Run.id")
    unassigned: Mapped[list["UnassignedOrder"]] = relationship(back_populates="plan")


class PlanningTrigger(Base):
    """A planning trigger already handled: the cutoff job firing twice (restart, two workers) is a no-op."""

    __tablename__ = "planning_triggers"
    __table_args__ = (UniqueConstraint("delivery_date", "trigger"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_date: Mapped[date] = mapped_column()
    trigger: Mapped[str] = mapped_column(String(64))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    at: Mapped[datetime] = mapped_column()


def new_link_key() -> str:
    """A run's link key: 16 URL-safe characters, 96 random bits."""
    return secrets.token_urlsafe(12)


class Run(Base):
    """One vehicle's route for the day."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("drivers.id"))
    districts: Mapped[str] = mapped_column(String(128), default="")   # names, for sheets and pages
    start_at: Mapped[datetime] = mapped_column()
    end_at: Mapped[datetime] = mapped_column()
    distance_m: Mapped[int] = mapped_column()
    duration_s: Mapped[int] = mapped_column()
    max_load: Mapped[list[Any]] = mapped_column(default=list)   # per capacity dimension
    break_at: Mapped[datetime | None] = mapped_column()   # the driver's planned break, when there is one
    break_minutes: Mapped[int] = mapped_column(default=0)
    # Bumped by staff to revoke the run's driver link (a lost phone): a link carries the version it was
    # made for and opens only while it is current (delivery/driver_links.py).
    link_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # A random key the driver link is signed with (delivery/driver_links.py): the link opens only the run
    # it was made for, even when SQLite hands a deleted run's id to a new run (no AUTOINCREMENT on runs).
    # NULL for runs made before the key existed; the links made for them keep opening them.
    link_key: Mapped[str | None] = mapped_column(String(32), default=new_link_key)

    plan: Mapped[Plan] = relationship(back_populates="runs")
    vehicle: Mapped[Vehicle] = relationship()
    driver: Mapped[Driver | None] = relationship()
    stops: Mapped[list["RunStop"]] = relationship(back_populates="run", order_by="RunStop.seq",
                                                  cascade="all, delete-orphan")


class RunStopOrder(Base):
    """An order handed over at a delivery stop. A door is one stop however many orders its resident has
    that day (issue #9: orders placed separately, by staff, or by the simulator), so a stop holds a list."""

    __tablename__ = "run_stop_orders"

    run_stop_id: Mapped[int] = mapped_column(ForeignKey("run_stops.id", ondelete="CASCADE"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(default=0)   # the order in which the legs were planned


class RunStop(Base):
    """A visit: a pickup at a shop or a delivery at a resident's door, with its ETA and what happened there.

    A delivery carries every order handed over at that door in one go (``order_ids``, one row each in
    ``run_stop_orders``: "which stop delivers order X" is a plain join); a pickup lists the orders whose
    goods it collects in ``picks``. The outcome (status, time, cash) is the stop's, for all its orders.
    """

    __tablename__ = "run_stops"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    seq: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))        # pickup | delivery
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    # For a pickup: the orders whose goods are collected at this visit (a shop may be visited twice).
    picks: Mapped[list[Any]] = mapped_column(default=list)
    lat: Mapped[float] = mapped_column()
    lon: Mapped[float] = mapped_column()
    eta: Mapped[datetime] = mapped_column()
    window_start: Mapped[str | None] = mapped_column(String(5))
    window_end: Mapped[str | None] = mapped_column(String(5))
    service_s: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|not_at_home|refused
    done_at: Mapped[datetime | None] = mapped_column()
    cash_collected_yen: Mapped[int | None] = mapped_column()
    note: Mapped[str] = mapped_column(String(256), default="")
    # For a pickup at a shop the van already called at in the same round: why it comes back (Japanese,
    # for the route sheet; ``delivery/second_calls.py``). Empty otherwise.
    why: Mapped[str] = mapped_column(String(256), default="", server_default="")

    run: Mapped[Run] = relationship(back_populates="stops")
    # Loaded with the stop: nearly every reader of a delivery stop needs its orders.
    door_orders: Mapped[list[RunStopOrder]] = relationship(
        order_by=RunStopOrder.position, collection_class=ordering_list("position"),
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")
    # For a delivery: the ids of the orders handed over here, first planned first (empty for a pickup).
    order_ids: AssociationProxy[list[int]] = association_proxy(
        "door_orders", "order_id", creator=lambda order_id: RunStopOrder(order_id=order_id))


class UnassignedOrder(Base):
    """An order the plan could not serve, with the binding reason: shown to staff, never dropped silently."""

    __tablename__ = "unassigned_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(256))

    plan: Mapped[Plan] = relationship(back_populates="unassigned")


class PlanRequest(Base):
    """A staff request to plan (or re-plan) a day, run by a background job: queued → planning → done or
    failed. At most one request per day is open (queued or planning): a second click finds it."""

    __tablename__ = "plan_requests"
    __table_args__ = (
        # Partial unique index: both SQLite and PostgreSQL support ``WHERE`` on an index.
        Index("uq_plan_requests_open_day", "delivery_date", unique=True,
              sqlite_where=text("state IN ('queued', 'planning')"),
              postgresql_where=text("state IN ('queued', 'planning')")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_date: Mapped[date] = mapped_column(index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="queued")
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[str | None] = mapped_column(Text)


class StopPin(Base):
    """A coordinator put a door on a van by hand (moved or assigned it): re-plans of that day keep every
    order handed over at that door on that van (``delivery.pins``), until staff take the pin off.

    Pinned per door, not per order: a door is one stop (issue #9), so all its orders ride one van."""

    __tablename__ = "stop_pins"
    __table_args__ = (UniqueConstraint("delivery_date", "resident_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_date: Mapped[date] = mapped_column(index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    pinned_by: Mapped[str] = mapped_column(String(64))
    pinned_at: Mapped[datetime] = mapped_column()

    vehicle: Mapped[Vehicle] = relationship()
