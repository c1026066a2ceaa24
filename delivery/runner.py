"""Runs planning with the right transactions: the CLI (``otodoke plan``), the staff page and the cutoff
job all call ``plan_day``. The solver runs between a read-only snapshot and a short write transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

import logging

from delivery import plan_requests, shop_links
from delivery.advice import left_out_advice, search_again, with_reasons
from delivery.distances import DayCache, provider_from_config
from delivery.driver_links import make_token
from places.models import District
from delivery.models import Plan, PlanningTrigger, Run
from delivery.notices import queue_plan_messages
from delivery.plan_requests import refuse_past_day
from delivery.planning import prepare_day, store_plan
from delivery.planning_time import planning_seconds
from delivery.problem import Route, RoutePlan, Visit
from delivery.late_start import leave_late
from delivery.routing import NO_ANSWER, solve
from orders.calendar import cutoff_for, format_date_ja, is_delivery_day
from core.clock import get_clock
from core.clock import JST
from core.db import db
from core.errors import DomainError

log = logging.getLogger("otodoke.planning")

CACHE_KEY = "otodoke.distance_cache"
# A cutoff job that was down (restart, deploy) still plans a day whose cutoff passed this long ago.
CUTOFF_GRACE = timedelta(hours=6)


@dataclass(frozen=True)
class PlanOutcome:
    plan_id: int | None
    created: bool
    orders: int
    unassigned: int
    messages: int
    message: str   # Japanese, for staff


def _distance_cache(app: Flask) -> DayCache:
    if CACHE_KEY not in app.extensions:
        app.extensions[CACHE_KEY] = DayCache(provider_from_config(app.config))
    return app.extensions[CACHE_KEY]


def driver_link(app: Flask, run: Run) -> str:
    token = make_token(app.config["SECRET_KEY"], run.id, version=run.link_version or 0, key=run.link_key,
                       now=get_clock(app).now())
    return app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/driver/run/{token}"


def picking_link(app: Flask, shop_id: int, delivery_date: date) -> str:
    token = shop_links.make_token(app.config["SECRET_KEY"], shop_id, delivery_date)
    return app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/picking/{token}"


def by_hand_links(app: Flask) -> dict[str, object]:
    """What a change by hand (``delivery/by_hand.py``) needs from the app: distances and the links its
    messages carry."""
    return dict(distances=provider_from_config(app.config), driver_link=lambda run: driver_link(app, run),
                shop_link=lambda shop_id, day: picking_link(app, shop_id, day))


def warm_start(routes: dict[str, list[str]]) -> RoutePlan | None:
    """The previous version's routes as a starting point (``solve`` reads only vehicle and stop ids)."""
    if not routes:
        return None
    return RoutePlan(tuple(Route(vid, tuple(Visit(sid, 0, 0, 0, 0, ()) for sid in stop_ids), 0, 0, 0, 0, ())
                           for vid, stop_ids in routes.items()), (), 0)


def configured_limit_s(app: Flask) -> float:
    """``PLANNING_TIME_LIMIT_S``: the solver seconds for a day of up to ``ORDERS_PER_LIMIT`` orders."""
    return float(app.config.get("PLANNING_TIME_LIMIT_S", 10))


def plan_day(app: Flask, *, delivery_date: date, actor: str, trigger: str | None = None,
             time_limit_s: float | None = None) -> PlanOutcome:
    """Plan (or re-plan) ``delivery_date``; a trigger already handled makes this a no-op."""
    now = get_clock(app).now()
    refuse_past_day(delivery_date, now)
    # An on-demand plan is always new; only named triggers (a district cutoff) are de-duplicated.
    trigger = trigger or f"{actor}:{now:%Y%m%dT%H%M}:{uuid.uuid4().hex[:8]}"
    cache = _distance_cache(app)
    with db.reading(app) as session:
        day = prepare_day(session, delivery_date=delivery_date, trigger=trigger, now=now,
                          matrix=lambda points: cache.matrix(delivery_date, points))
    if day.already_done:
        return PlanOutcome(day.previous_plan_id, False, 0, 0, 0, "この締め切りの計画はすでに作成済みです。")
    if not day.order_ids and day.previous_plan_id is None:
        return PlanOutcome(None, False, 0, 0, 0, f"{format_date_ja(delivery_date)}にお届けする注文はありません。")
    limit = time_limit_s if time_limit_s is not None else planning_seconds(
        configured_limit_s(app), len(day.order_ids))
    result, advice = None, None
    if day.built is not None:
        # Every order of a door rides one van by the model's own groups (``delivery.solver.whole``).
        result = solve(day.built.problem, time_limit_s=limit, initial_plan=warm_start(day.previous_routes))
        result = search_again(day.built.problem, result, time_limit_s=limit)
        advice = left_out_advice(day.built, result, time_limit_s=limit)
        if advice is not None:
            result = with_reasons(result, advice.reasons)
        result = leave_late(day.built.problem, result)
    if result is not None and result.stats.status == NO_ANSWER:
        # Stored, it would tell every resident their order is not on a run. Not stored, the cutoff job
        # tries again next minute (its trigger is not marked done) and staff can press 今すぐ計画 again.
        kept = "今の計画のままです。" if day.previous_plan_id else ""
        return PlanOutcome(day.previous_plan_id, False, 0, 0, 0,
                           f"計算が時間内に終わらず、計画を作れませんでした。{kept}少し待ってもう一度お試しください。")
    with db.transaction(app) as session:
        plan = store_plan(session, day, result, now=get_clock(app).now(), actor=actor,
                          advice=advice.text if advice is not None else None)
        if plan is None:
            return PlanOutcome(day.previous_plan_id, False, 0, 0, 0, "この締め切りの計画はすでに作成済みです。")
        previous = session.get(Plan, day.previous_plan_id) if day.previous_plan_id else None
        queued = queue_plan_messages(session, plan, previous, now=get_clock(app).now(),
                                     driver_link=lambda run: driver_link(app, run),
                                     shop_link=lambda shop_id, day: picking_link(app, shop_id, day),
                                     config=app.config)
        outcome = PlanOutcome(plan.id, True, plan.order_count, plan.unassigned_count, queued,
                              f"{format_date_ja(delivery_date)}の計画（第{plan.version}版）を作成しました。"
                              f"注文{plan.order_count}件、未割当{plan.unassigned_count}件。")
    return outcome


PLAN_JOB_KEY = "otodoke.plan_request_job"


def queue_plan_request(app: Flask, request_id: int) -> None:
    """Hand the request to the background job (``otodoke.jobs`` registers it: pages cannot import the
    top layer); without a job queue (a script, a bare app) it runs here and now."""
    job = app.extensions.get(PLAN_JOB_KEY)
    if job is None:
        run_plan_request(app, request_id)
    else:
        job(request_id)


def run_plan_request(app: Flask, request_id: int) -> None:
    """The background job behind 「今すぐ計画」: claim the request, plan, record the outcome.

    The claim commits before the solver runs, so the progress page shows 計画中 while it works."""
    with db.transaction(app) as session:
        if not plan_requests.claim(session, request_id, now=get_clock(app).now(),
                                   configured_limit_s=configured_limit_s(app)):
            return  # another worker has it, or it was swept or finished
        delivery_date = plan_requests.get_request(session, request_id).delivery_date  # type: ignore[union-attr]
        actor = plan_requests.get_request(session, request_id).requested_by  # type: ignore[union-attr]
    try:
        outcome = plan_day(app, delivery_date=delivery_date, actor=actor)
    except DomainError as error:
        with db.transaction(app) as session:
            plan_requests.fail(session, request_id, error=error.message, now=get_clock(app).now())
        return
    except Exception:
        log.exception("plan request %s failed", request_id)
        with db.transaction(app) as session:
            plan_requests.fail(session, request_id, now=get_clock(app).now(),
                               error="計画の作成中に問題が起きました。もう一度お試しください。")
        return
    with db.transaction(app) as session:
        plan_requests.finish(session, request_id, plan_id=outcome.plan_id if outcome.created else None,
                             message=outcome.message, now=get_clock(app).now())


def due_cutoffs(session: Session, now: datetime) -> list[tuple[date, str]]:
    """(delivery date, trigger) for every district cutoff that has passed within the grace period.

    Districts sharing a cutoff instant share one trigger, so they are planned together."""
    found: set[tuple[date, str]] = set()
    today = now.astimezone(JST).date()
    for district in session.scalars(select(District).order_by(District.id)):
        for ahead in range(0, 8):
            d = today + timedelta(days=ahead)
            if not is_delivery_day(district, d):
                continue
            cutoff = cutoff_for(district, d)
            if cutoff <= now < cutoff + CUTOFF_GRACE:
                found.add((d, f"cutoff:{cutoff.astimezone(JST):%Y-%m-%dT%H:%M}"))
    handled = {(t.delivery_date, t.trigger) for t in session.scalars(select(PlanningTrigger))} if found else set()
    return sorted(found - handled)


def plan_due_cutoffs(app: Flask) -> list[PlanOutcome]:
    """The cutoff job: plan every day whose cutoff just passed (idempotent per cutoff)."""
    with db.reading(app) as session:
        due = due_cutoffs(session, get_clock(app).now())
    return [plan_day(app, delivery_date=d, actor="job:cutoff", trigger=t) for d, t in due]
