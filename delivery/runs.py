"""Runs as the driver and staff pages look them up: one run by id, a driver's coming runs, and the
revocation of a run's driver link. Functions take a session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.models import AuditEntry
from core.errors import NotFound
from delivery.models import Plan, Run, Vehicle


def get_run(session: Session, run_id: int) -> Run | None:
    """The run, or None when it is not (or no longer) there; pages decide what that means."""
    return session.get(Run, run_id)


def driver_runs(session: Session, *, driver_id: int | None, first: date, last: date) -> list[Run]:
    """The driver's runs on the active plans of ``first``..``last``, by day then start time; only their
    own (a run planned without a driver is nobody's)."""
    return list(session.scalars(select(Run).join(Plan).where(
        Run.driver_id == driver_id, Plan.active.is_(True),
        Plan.delivery_date >= first, Plan.delivery_date <= last)
        .order_by(Plan.delivery_date, Run.start_at)))


def revoke_run_link(session: Session, *, run_id: int, actor: str, now: datetime) -> Run:
    """Bump the run's link version, so every driver link made before stops opening (a lost or shared
    phone); audited. Raises ``NotFound`` for a run that is not there."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound("unknown_run", "その便は見つかりませんでした。")
    run.link_version = (run.link_version or 0) + 1
    audit.record(session, at=now, actor=actor, channel="web", action="run.link_revoked",
                 subject_type="run", subject_id=run.id, link_version=run.link_version)
    return run


@dataclass(frozen=True)
class RemovedRun:
    """A run deleted because a hand move left it with no stop: its day and van for the page's title, the
    link version it had (an older link was revoked), and the same driver's (or, with no driver, the same
    van's) run in that day's active plan, if any."""
    delivery_date: date
    vehicle_name: str
    link_version: int
    current: Run | None


def _tombstones(session: Session, run_id: int) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "plan.run_removed",
                                                         AuditEntry.subject_type == "run",
                                                         AuditEntry.subject_id == str(run_id))
                                .order_by(AuditEntry.id)))


def removed_run_keys(session: Session, run_id: int) -> list[str | None]:
    """The link keys of the runs removed under ``run_id`` (on SQLite one id can be removed twice); None
    for a run from before keys."""
    return [entry.data.get("link_key") for entry in _tombstones(session, run_id)]


def removed_run(session: Session, run_id: int, key: str | None) -> RemovedRun | None:
    """What the driver's old link to ``run_id`` with ``key`` should say, read from the removal's audit
    entry (its tombstone, ``delivery.by_hand``); None for a run that never was (the page's plain 404).
    The key picks the tombstone: on SQLite one id can be removed twice, for two runs."""
    entry = next((e for e in _tombstones(session, run_id) if e.data.get("link_key") == key), None)
    if entry is None:
        return None
    day = date.fromisoformat(entry.data["delivery_date"])
    driver_id, vehicle_id = entry.data.get("driver_id"), entry.data["vehicle_id"]
    query = select(Run).join(Plan).where(Plan.delivery_date == day, Plan.active.is_(True))
    query = query.where(Run.driver_id == driver_id) if driver_id is not None else query.where(
        Run.vehicle_id == vehicle_id)
    vehicle = session.get(Vehicle, vehicle_id)
    return RemovedRun(day, vehicle.name if vehicle else "", entry.data.get("link_version", 0),
                      session.scalars(query.order_by(Run.id)).first())
