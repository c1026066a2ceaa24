"""Staff sign-in, the dashboard's planning button, route sheets, and the driver's run page."""

from __future__ import annotations

from tests.factories import run_link_token
from tests.accounts_support import make_account, post_login, sign_in
import re

import pytest
from sqlalchemy import select

from delivery.driver_links import make_token
from delivery.models import Run, RunStop, RunStopOrder
from orders.models import Order, OrderStatus
from outbox.models import OutboxMessage
from residents.models import FamilyLink
from tests.test_planning import town  # noqa: F401  (fixture)
from tests.jobs_support import run_queued_jobs
from core.clock import JST
from datetime import datetime


def _login(client) -> None:
    sign_in(client)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("path", ["/staff/", "/staff/runs/1/sheet"])
def test_staff_pages_need_sign_in(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_wrong_password_is_refused(client) -> None:
    make_account(client.application)
    response = post_login(client, "coordinator@test.example", "nope")
    assert response.status_code == 401 and "パスワードが違います" in response.get_data(as_text=True)


def test_plan_from_the_dashboard_then_print_the_sheet(app, client, session, town) -> None:  # noqa: F811
    app.config["PLANNING_TIME_LIMIT_S"] = 1
    _login(client)
    page = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "中央" in page and "まだ計画はありません" in page
    # A form post without the session's CSRF token changes nothing.
    assert client.post("/staff/plan", data={"date": "2026-12-01"}).status_code == 400
    response = client.post("/staff/plan", data={"date": "2026-12-01", "csrf_token": _csrf(page)},
                           follow_redirects=True)
    assert "待機中" in response.get_data(as_text=True)
    run_queued_jobs(app)
    page = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "第1版" in page and "ルート表" in page
    run_id = session.scalars(select(Run.id)).one()
    session.rollback()
    sheet = client.get(f"/staff/runs/{run_id}/sheet").get_data(as_text=True)
    assert "配達ルート表" in sheet and sheet.count("注文番号") == 4 and "<svg" in sheet


def test_driver_records_not_at_home_and_family_is_told(app, client, session, town) -> None:  # noqa: F811
    from delivery.runner import plan_day
    from datetime import date

    order = session.get(Order, town["orders"][0])
    session.add(FamilyLink(resident_id=order.resident_id, line_user_id="Ufamily", name="長男",
                           linked_at=datetime(2026, 11, 1, tzinfo=JST)))
    session.commit()
    plan_day(app, delivery_date=date(2026, 12, 1), actor="staff:test", time_limit_s=1)
    run_id = session.scalars(select(Run.id)).one()
    stop_id = session.scalars(select(RunStop.id).join(RunStopOrder).where(RunStopOrder.order_id == order.id)).one()
    order_id = order.id
    # End the test's own transaction (on SQLite it holds the write lock) and touch no ORM object
    # until the app has answered: reading an expired attribute would begin a new one.
    session.rollback()
    token = run_link_token(app, run_id)
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    assert "配達完了" in page and "不在" in page
    url = f"/driver/run/{token}/stops/{stop_id}"
    response = client.post(url, data={"outcome": "not_at_home", "csrf_token": _csrf(page)}, follow_redirects=True)
    assert "記録しました" in response.get_data(as_text=True)
    # A second tap (or a second phone) records nothing more.
    client.post(url, data={"outcome": "not_at_home", "csrf_token": _csrf(page)})
    session.rollback()
    assert session.get(Order, order_id).status == OrderStatus.NOT_AT_HOME
    notices = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "welfare_not_at_home")).all()
    assert [n.recipient for n in notices] == ["Ufamily"]
    assert "見守り" in notices[0].payload["messages"][0]["text"]


def test_driver_link_is_checked(client, session, town, app) -> None:  # noqa: F811
    assert client.get("/driver/run/forged-token").status_code == 404
    other = make_token("another-secret", 1)
    assert client.get(f"/driver/run/{other}").status_code == 404


