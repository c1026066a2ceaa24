"""Runs as the driver and staff pages look them up: one run by id, a driver's coming runs, and the
revocation of a run's driver link. Functions take a session and never commit."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import NotFound
from delivery.models import Plan, Run


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
