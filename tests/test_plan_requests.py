"""「今すぐ計画」 as a background job: plan requests (one open per day, claimed once, stale ones failed),
the job that runs them, and the past-day refusal in ``plan_day`` and ``otodoke plan``."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from core.clock import JST
from core.db import db
from core.errors import DomainError
from delivery import plan_requests
from delivery.models import Plan, PlanRequest
from orders.models import Order
from delivery.runner import plan_day, run_plan_request
from tests.test_planning import DAY, town  # noqa: F401  (the fixture)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
LIMIT_S = 10.0          # PLANNING_TIME_LIMIT_S's default


def _request(app, day: date = DAY, actor: str = "staff:test") -> tuple[int, bool]:
    with db.transaction(app) as session:
        request, created = plan_requests.request_plan(session, delivery_date=day, actor=actor, now=NOW,
                                                     configured_limit_s=LIMIT_S)
        return request.id, created


def _state(app, request_id: int) -> PlanRequest:
    with db.reading(app) as session:
        return session.get(PlanRequest, request_id)


def test_a_second_request_for_the_day_finds_the_open_one(app) -> None:
    first, created = _request(app)
    again, created_again = _request(app, actor="staff:other")
    assert created and not created_again and again == first
    other_day, created_other = _request(app, day=DAY + timedelta(days=1))
    assert created_other and other_day != first


def test_a_finished_request_lets_the_day_be_planned_again(app) -> None:
    first, _ = _request(app)
    with db.transaction(app) as session:
        assert plan_requests.claim(session, first, now=NOW, configured_limit_s=LIMIT_S)
        plan_requests.finish(session, first, plan_id=None, message="済み", now=NOW)
    second, created = _request(app)
    assert created and second != first


def test_the_index_refuses_two_open_requests_for_a_day(app) -> None:
    with db.transaction(app) as session:
        session.add(PlanRequest(delivery_date=DAY, requested_by="a", requested_at=NOW, state="queued"))
    with pytest.raises(IntegrityError):
        with db.transaction(app) as session:
            session.add(PlanRequest(delivery_date=DAY, requested_by="b", requested_at=NOW, state="planning"))
    with db.transaction(app) as session:   # closed requests are not limited
        session.add(PlanRequest(delivery_date=DAY, requested_by="c", requested_at=NOW, state="done"))
        session.add(PlanRequest(delivery_date=DAY, requested_by="d", requested_at=NOW, state="failed"))


def test_negative_control_without_the_index_two_open_requests_get_in(app) -> None:
    # Proves the test above tests the index (and not, say, a check in Python).
    with db.transaction(app) as session:
        session.execute(text("DROP INDEX uq_plan_requests_open_day"))
    try:
        with db.transaction(app) as session:
            session.add(PlanRequest(delivery_date=DAY, requested_by="a", requested_at=NOW, state="queued"))
        with db.transaction(app) as session:
            session.add(PlanRequest(delivery_date=DAY, requested_by="b", requested_at=NOW, state="queued"))
        with db.reading(app) as session:
            assert session.scalar(select(func.count()).select_from(PlanRequest)) == 2
    finally:
        # On PostgreSQL the migrated database is shared by the run's tests: put the index back.
        with db.transaction(app) as session:
            session.execute(text("DELETE FROM plan_requests"))
            session.execute(text("CREATE UNIQUE INDEX uq_plan_requests_open_day ON plan_requests "
                                 "(delivery_date) WHERE state IN ('queued', 'planning')"))


def test_two_clicks_at_once_queue_one_request(app) -> None:
    barrier = threading.Barrier(2)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def click(actor: str) -> None:
        try:
            barrier.wait()
            results.append(_request(app, actor=actor))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=click, args=(f"staff:{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(created for _, created in results) == [False, True]
    assert len({request_id for request_id, _ in results}) == 1
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(PlanRequest)) == 1


def test_a_request_is_claimed_once(app) -> None:
    request_id, _ = _request(app)
    with db.transaction(app) as session:
        assert plan_requests.claim(session, request_id, now=NOW, configured_limit_s=LIMIT_S)
    with db.transaction(app) as session:
        assert not plan_requests.claim(session, request_id, now=NOW, configured_limit_s=LIMIT_S)
    assert _state(app, request_id).state == "planning"


@pytest.mark.parametrize("configured_s,minutes", [(10.0, 3), (60.0, 4)])
def test_a_request_stuck_in_planning_is_failed_once_well_past_the_planning_limit(app, configured_s,
                                                                                minutes) -> None:
    """A dead worker's request fails after a few times the day's solver limit plus a margin (at least
    3 minutes), not after a fixed half hour: 10 s (the default) gives the 3-minute floor, 60 s gives
    3 × 60 s + 60 s = 4 minutes."""
    request_id, _ = _request(app)
    with db.transaction(app) as session:
        plan_requests.claim(session, request_id, now=NOW, configured_limit_s=configured_s)
    just_before = NOW + timedelta(minutes=minutes) - timedelta(seconds=1)
    with db.transaction(app) as session:
        assert plan_requests.sweep_stale(session, now=just_before, configured_limit_s=configured_s) == 0
        request, created = plan_requests.request_plan(session, delivery_date=DAY, actor="staff:test",
                                                      now=just_before, configured_limit_s=configured_s)
        assert request.id == request_id and not created          # still planning: a click finds it
    with db.transaction(app) as session:
        request, created = plan_requests.request_plan(
            session, delivery_date=DAY, actor="staff:test", now=NOW + timedelta(minutes=minutes, seconds=1),
            configured_limit_s=configured_s)
        new_id = request.id
    assert created and new_id != request_id
    stuck = _state(app, request_id)
    assert stuck.state == "failed" and f"{minutes}分以上" in stuck.error


def test_the_stale_limit_follows_the_days_solver_limit() -> None:
    from delivery.planning_time import planning_seconds, stale_after

    assert stale_after(planning_seconds(1, 10)) == timedelta(minutes=3)          # the floor
    assert stale_after(planning_seconds(10, 120)) == timedelta(minutes=3)
    assert stale_after(planning_seconds(10, 1200)) == timedelta(minutes=6)      # 100 s: 300 s + 60 s
    assert stale_after(planning_seconds(60, 100)) == timedelta(minutes=4)


def test_a_big_day_gets_a_longer_stale_limit(app, town) -> None:  # noqa: F811
    """The limit is counted from the day's orders still to deliver, as ``plan_day`` scales its solver
    limit: 480 of them at 60 s per 120 orders is a 240 s solve, so 3 × 240 s + 60 s = 13 minutes (a
    pilot-sized day at 60 s: 4); cancelled orders are not planned and do not count."""
    from orders.models import OrderStatus

    with db.reading(app) as session:
        assert plan_requests.stale_limit(session, DAY, configured_limit_s=60) == timedelta(minutes=4)
    with db.transaction(app) as session:
        model = session.get(Order, town["orders"][0])
        columns = {c.key: getattr(model, c.key) for c in Order.__table__.columns
                   if c.key not in ("id", "idempotency_key", "status")}
        more = 480 - len(town["orders"])
        session.add_all([Order(**columns, status=OrderStatus.CONFIRMED) for _ in range(more)])
        session.add_all([Order(**columns, status=OrderStatus.CANCELLED) for _ in range(120)])
    with db.reading(app) as session:
        assert plan_requests.stale_limit(session, DAY, configured_limit_s=60) == timedelta(minutes=13)


def test_the_job_plans_the_day_and_records_the_plan(app, town) -> None:  # noqa: F811
    from otodoke.jobs import get_jobs

    app.config["PLANNING_TIME_LIMIT_S"] = 1
    request_id, _ = _request(app)
    get_jobs(app).run_plan_request.call_local(request_id)
    done = _state(app, request_id)
    assert done.state == "done" and done.plan_id is not None and "第1版" in done.progress
    assert done.started_at is not None and done.finished_at is not None
    get_jobs(app).run_plan_request.call_local(request_id)     # a duplicate task: no second plan
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == 1


def test_the_job_records_a_refusal_as_failed(app, clock, town) -> None:  # noqa: F811
    request_id, _ = _request(app)
    clock.advance(timedelta(days=1))            # the day is over before the worker gets to it
    run_plan_request(app, request_id)
    failed = _state(app, request_id)
    assert failed.state == "failed" and "過ぎた日" in failed.error


def test_plan_day_refuses_a_day_that_is_over(app, clock, town) -> None:  # noqa: F811
    clock.advance(timedelta(days=1))
    with pytest.raises(DomainError) as refused:
        plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    assert refused.value.message == "12月1日（火）は過ぎた日のため、計画は作り直せません。"
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == 0


def test_the_cli_refuses_a_day_that_is_over(app, clock, runner, town) -> None:  # noqa: F811
    clock.advance(timedelta(days=1))
    result = runner.invoke(args=["plan", "--date", "2026-12-01", "--time-limit", "1"])
    assert result.exit_code == 1, result.output
    assert result.output.strip() == "Error: 12月1日（火）は過ぎた日のため、計画は作り直せません。"
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == 0
    # The negative control: the day that is not over yet (the 2nd, now "today") is planned.
    today = runner.invoke(args=["plan", "--date", "2026-12-02", "--time-limit", "1"])
    assert today.exit_code == 0 and "過ぎた日" not in today.output, today.output


def test_a_request_for_a_day_that_is_over_is_refused_before_anything_is_written(app) -> None:
    """``request_plan`` itself refuses (the staff page no longer checks first): no request is queued."""
    with pytest.raises(DomainError) as refused:
        with db.transaction(app) as session:
            plan_requests.request_plan(session, delivery_date=DAY - timedelta(days=1), actor="staff:test",
                                       now=NOW, configured_limit_s=LIMIT_S)
    assert refused.value.code == "plan_past_day"
    assert refused.value.message == "11月30日（月）は過ぎた日のため、計画は作り直せません。"
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(PlanRequest)) == 0
    _, created = _request(app)          # today (before its cutoff) is still asked for
    assert created


# --- the pages: confirm, queue, progress, diff, 計画後の注文 --------------------------------------------

def _csrf(page: str) -> str:
    import re
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _ask_for_a_plan(client) -> str:  # type: ignore[no-untyped-def]
    confirm = client.get("/staff/plan/confirm?date=2026-12-01").get_data(as_text=True)
    assert "12月1日の計画を作り直します。現在の計画は置き換えられます。" in confirm
    response = client.post("/staff/plan", data={"date": "2026-12-01", "csrf_token": _csrf(confirm)})
    assert response.status_code == 302 and "/staff/plan/requests/" in response.headers["Location"]
    return response.headers["Location"]


def test_plan_now_asks_first_then_queues_a_job_and_shows_progress(app, client, town) -> None:  # noqa: F811
    from tests.accounts_support import sign_in
    from tests.jobs_support import run_queued_jobs

    app.config["PLANNING_TIME_LIMIT_S"] = 1
    sign_in(client)
    dashboard = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert 'action="/staff/plan/confirm"' in dashboard     # the button no longer plans on the spot
    progress_url = _ask_for_a_plan(client)
    waiting = client.get(progress_url).get_data(as_text=True)
    assert "待機中" in waiting and 'http-equiv="refresh"' in waiting
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == 0   # nothing ran in the request
    assert _ask_for_a_plan(client) == progress_url          # a second click: the same request
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(PlanRequest)) == 1
    run_queued_jobs(app)
    done = client.get(progress_url).get_data(as_text=True)
    assert "完了" in done and "第1版" in done and "この日の最初の計画です" in done
    assert 'http-equiv="refresh"' not in done
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(Plan)) == 1   # the duplicate task did nothing
    page = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "自動計画" in page and "ortools" not in page and "PATH_CHEAPEST_ARC" not in page


def test_planning_state_shows_seconds_and_failure_shows_the_reason(app, client, clock, town) -> None:  # noqa: F811
    from tests.accounts_support import sign_in

    sign_in(client)
    progress_url = _ask_for_a_plan(client)
    request_id = int(progress_url.rsplit("/", 1)[1])
    with db.transaction(app) as session:
        plan_requests.claim(session, request_id, now=clock.now(), configured_limit_s=LIMIT_S)
    clock.advance(timedelta(seconds=12))
    assert "計画中（約12秒）" in client.get(progress_url).get_data(as_text=True)
    with db.transaction(app) as session:
        plan_requests.fail(session, request_id, error="テストの理由", now=clock.now())
    page = client.get(progress_url).get_data(as_text=True)
    assert "失敗" in page and "テストの理由" in page
    assert client.get("/staff/plan/requests/999").status_code == 404


def test_a_replan_shows_what_changed_and_the_dashboard_flags_late_orders(app, client, session, town) -> None:  # noqa: F811
    from orders.service import LineItem, place_order
    from residents.models import Resident
    from shops.models import Product
    from tests.accounts_support import sign_in
    from tests.jobs_support import run_queued_jobs

    app.config["PLANNING_TIME_LIMIT_S"] = 1
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    resident_id = session.get(Order, town["orders"][0]).resident_id
    product_id = session.scalars(select(Product.id).where(Product.name == "大根")).first()
    late = place_order(session, resident_id=resident_id, items=[LineItem(product_id, 1)], placed_by="test",
                       channel="web", now=NOW + timedelta(minutes=5)).id
    name = session.get(Resident, resident_id).name
    session.commit()
    sign_in(client)
    page = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "計画後の注文 1件" in page and f"注文{late}" in page and name in page
    progress_url = _ask_for_a_plan(client)
    run_queued_jobs(app)
    done = client.get(progress_url).get_data(as_text=True)
    assert "完了" in done and "第2版" in done and "便に加わった注文（1件）" in done
    assert f"注文{late} → " in done
    assert "計画後の注文" not in client.get("/staff/?date=2026-12-01").get_data(as_text=True)


def test_readonly_sees_progress_but_cannot_ask_for_a_plan(app, client, town) -> None:  # noqa: F811
    from tests.accounts_support import sign_in

    request_id, _ = _request(app)
    sign_in(client, "readonly")
    assert client.get(f"/staff/plan/requests/{request_id}").status_code == 200
    assert client.get("/staff/plan/confirm?date=2026-12-01").status_code == 403
