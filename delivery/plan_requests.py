"""Plan requests: 「今すぐ計画」 queues a request that a background job runs (``delivery.runner``).

A request goes queued → planning → done | failed. At most one request per day is open (queued or
planning): the partial unique index ``uq_plan_requests_open_day`` makes a second click (or a second
browser tab, racing) find the open request instead of queueing a second plan. A worker claims a request
with a guarded UPDATE (state still 'queued'), so two workers cannot both run it. A request left in
'planning' longer than its day's ``stale_limit`` (a killed worker) is failed by the next request or
sweep, and shown as failed on its progress page before that (``is_stale``). That limit follows the
solver limit the day gets (``PLANNING_TIME_LIMIT_S``, scaled by the day's orders: see
``delivery.planning_time``), so a dead worker shows 失敗 within minutes, not half an hour. A day that is over is refused here
(``refuse_past_day``) and again by ``plan_day`` when the job runs, so every way in (the staff page,
``otodoke plan``, the job) gets the same refusal.

Functions take a session and never commit.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.clock import JST
from core.errors import DomainError
from delivery.models import PlanRequest
from delivery.planning import TO_DELIVER
from delivery.planning_time import planning_seconds, stale_after
from orders.calendar import format_date_ja
from orders.models import Order

QUEUED, PLANNING, DONE, FAILED = "queued", "planning", "done", "failed"
OPEN_STATES = (QUEUED, PLANNING)


def stale_message(limit: timedelta) -> str:
    """What staff read on a request failed as stale (its limit in whole minutes, rounded up)."""
    minutes = math.ceil(limit.total_seconds() / 60)
    return f"計画の処理が{minutes}分以上終わらなかったため、中断しました。もう一度お試しください。"


def stale_limit(session: Session, delivery_date: date, *, configured_limit_s: float) -> timedelta:
    """How long a request for ``delivery_date`` may stay 'planning': ``stale_after`` of the solver
    limit ``plan_day`` gives that day (``configured_limit_s`` is ``PLANNING_TIME_LIMIT_S``, scaled by
    the orders it would plan, counted as ``prepare_day`` does). Counted now, not when the run began: a
    few orders more or less since then change it by seconds, well inside the margin."""
    orders = session.scalar(select(func.count()).select_from(Order).where(
        Order.delivery_date == delivery_date, Order.status.in_(TO_DELIVER))) or 0
    return stale_after(planning_seconds(configured_limit_s, orders))


def refuse_past_day(delivery_date: date, now: datetime) -> None:
    """Re-planning a day that is over would retire the plan its drivers actually ran (and its records)."""
    if delivery_date < now.astimezone(JST).date():
        raise DomainError("plan_past_day",
                          f"{format_date_ja(delivery_date)}は過ぎた日のため、計画は作り直せません。")


def open_request(session: Session, delivery_date: date) -> PlanRequest | None:
    return session.scalars(select(PlanRequest).where(PlanRequest.delivery_date == delivery_date,
                                                     PlanRequest.state.in_(OPEN_STATES))).first()


def get_request(session: Session, request_id: int) -> PlanRequest | None:
    return session.get(PlanRequest, request_id)


def sweep_stale(session: Session, *, now: datetime, configured_limit_s: float) -> int:
    """Fail requests stuck in 'planning' past their day's ``stale_limit`` (their worker died): the day
    can be planned again. At most one request per day is open, so this reads a handful of rows."""
    swept = 0
    for request in session.scalars(select(PlanRequest).where(PlanRequest.state == PLANNING)).all():
        limit = stale_limit(session, request.delivery_date, configured_limit_s=configured_limit_s)
        if not is_stale(request, now, limit=limit):
            continue
        # Guarded: the worker may finish (or another sweep fail it) between the read and this write.
        result = session.execute(
            update(PlanRequest).where(PlanRequest.id == request.id, PlanRequest.state == PLANNING)
            .values(state=FAILED, finished_at=now, error=stale_message(limit)))
        swept += result.rowcount or 0
    return swept


def request_plan(session: Session, *, delivery_date: date, actor: str, now: datetime,
                 configured_limit_s: float) -> tuple[PlanRequest, bool]:
    """The day's open request, or a new queued one; ``True`` when this call created it.

    Raises ``DomainError`` for a day that is over, before anything is written."""
    refuse_past_day(delivery_date, now)
    sweep_stale(session, now=now, configured_limit_s=configured_limit_s)
    existing = open_request(session, delivery_date)
    if existing is not None:
        return existing, False
    request = PlanRequest(delivery_date=delivery_date, requested_by=actor, requested_at=now,
                          state=QUEUED, progress="待機中")
    try:
        # A savepoint: losing the race to another session's insert must not undo the caller's work.
        with session.begin_nested():
            session.add(request)
            session.flush()
    except IntegrityError:
        existing = open_request(session, delivery_date)
        if existing is None:  # the other request finished in between; no reason to fail the click
            raise
        return existing, False
    return request, True


def claim(session: Session, request_id: int, *, now: datetime, configured_limit_s: float) -> bool:
    """Move a queued request to 'planning'; ``False`` when another worker (or a sweep) got there first."""
    sweep_stale(session, now=now, configured_limit_s=configured_limit_s)
    result = session.execute(
        update(PlanRequest)
        .where(PlanRequest.id == request_id, PlanRequest.state == QUEUED)
        .values(state=PLANNING, started_at=now, progress="計画中"))
    return (result.rowcount or 0) == 1


def finish(session: Session, request_id: int, *, plan_id: int | None, message: str, now: datetime) -> None:
    session.execute(update(PlanRequest).where(PlanRequest.id == request_id, PlanRequest.state == PLANNING)
                    .values(state=DONE, plan_id=plan_id, progress=message, finished_at=now))


def fail(session: Session, request_id: int, *, error: str, now: datetime) -> None:
    session.execute(update(PlanRequest).where(PlanRequest.id == request_id, PlanRequest.state.in_(OPEN_STATES))
                    .values(state=FAILED, error=error, finished_at=now))


def is_stale(request: PlanRequest, now: datetime, *, limit: timedelta) -> bool:
    """Still 'planning' past ``limit`` (its day's ``stale_limit``): its worker died mid-solve (nothing
    else keeps a request there that long). Pages show it as failed before any sweep has written so,
    since a page only reads."""
    return (request.state == PLANNING and request.started_at is not None
            and request.started_at < now - limit)


def progress_label(request: PlanRequest, now: datetime, *, limit: timedelta) -> str:
    """The state in words for the progress page: 待機中 / 計画中（約N秒） / 完了 / 失敗."""
    if is_stale(request, now, limit=limit):
        return "失敗"
    if request.state == QUEUED:
        return "待機中"
    if request.state == PLANNING:
        elapsed = int((now - request.started_at).total_seconds()) if request.started_at else 0
        return f"計画中（約{max(elapsed, 0)}秒）"
    return "完了" if request.state == DONE else "失敗"
