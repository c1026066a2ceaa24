"""Found by clicking through the running app (QA): sign-in keeps the page asked for, the 見守り list
says who was not at home, and the driver sees the answer to a tap next to the stop tapped."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from delivery.driver_links import make_token
from delivery.models import Run, RunStop, RunStopOrder
from delivery.runner import plan_day
from orders.models import Order
from tests.factories import run_link_token
from tests.accounts_support import sign_in
from tests.test_planning import town  # noqa: F401  (fixture)

DAY = date(2026, 12, 1)


def _login(client, next_path: str | None = None):  # type: ignore[no-untyped-def]
    return sign_in(client, next_path=next_path)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def test_sign_in_returns_to_the_page_and_date_asked_for(client) -> None:
    first = client.get("/staff/?date=2026-12-02")
    login_url = first.headers["Location"]
    response = sign_in(client, next_path=login_url.split("next=", 1)[1])
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/?date=2026-12-02"
    assert "12月2日" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_sign_in_returns_to_other_staff_pages(client) -> None:
    login_url = client.get("/voice/messages").headers["Location"]
    response = sign_in(client, next_path=login_url.split("next=", 1)[1])
    assert response.headers["Location"] == "/voice/messages"


def test_sign_in_never_sends_staff_to_another_site(client) -> None:
    # %09 and %0A arrive as a tab and a newline, which browsers drop: "/\t/evil" is "//evil" to them
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "/%09/evil.example",
                   "/%0A/evil.example", "/%0D%0A/evil.example", "/ /evil.example"):
        response = _login(client, target)
        assert response.headers["Location"] == "/staff/", target


def _plan_and_stop(app, session, order_id: int) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    run_id = session.scalars(select(Run.id)).one()
    stop_id = session.scalars(select(RunStop.id).join(RunStopOrder).where(RunStopOrder.order_id == order_id)).one()
    session.rollback()
    return run_link_token(app, run_id), stop_id


def test_watch_list_names_the_resident_not_at_home(app, client, session, town) -> None:  # noqa: F811
    order = session.get(Order, town["orders"][0])
    name, address = order.resident.name, order.resident.address
    session.rollback()   # the app writes next; an open read here would hold SQLite's lock
    token, stop_id = _plan_and_stop(app, session, town["orders"][0])
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    client.post(f"/driver/run/{token}/stops/{stop_id}", data={"outcome": "not_at_home", "csrf_token": _csrf(page)})
    _login(client)
    dashboard = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    watch = dashboard.split("見守り（不在）")[1].split("<h2>")[0]
    assert f"{name} 様" in watch and address in watch and "不在" in watch
    assert "軽バン" in watch or "号" in watch   # which run, to ask its driver


def _stop_block(page: str, stop_id: int) -> str:
    return page.split(f'id="stop-{stop_id}"')[1].split('<div class="stop')[0]


def test_driver_sees_the_answer_at_the_stop_tapped(app, client, session, town) -> None:  # noqa: F811
    token, stop_id = _plan_and_stop(app, session, town["orders"][1])
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    url = f"/driver/run/{token}/stops/{stop_id}"
    response = client.post(url, data={"outcome": "done", "cash": "1,230", "csrf_token": _csrf(page)})
    assert response.headers["Location"].endswith(f"#stop-{stop_id}")
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    block = _stop_block(page, stop_id)
    assert "記録しました" in block and "集金 1,230円" in block
    assert "記録しました" not in page.split(f'id="stop-{stop_id}"')[0]


def test_driver_sees_a_cash_mistake_at_the_stop(app, client, session, town) -> None:  # noqa: F811
    token, stop_id = _plan_and_stop(app, session, town["orders"][2])
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    url = f"/driver/run/{token}/stops/{stop_id}"
    for cash, message in (("abc", "数字で入力"), ("-5", "集金額が正しくありません")):
        response = client.post(url, data={"outcome": "done", "cash": cash, "csrf_token": _csrf(page)})
        assert response.headers["Location"].endswith(f"#stop-{stop_id}")
        block = _stop_block(client.get(f"/driver/run/{token}").get_data(as_text=True), stop_id)
        assert message in block and "配達完了" in block   # still pending, the form is still there


def test_delivered_orders_stay_in_the_days_table(app, client, session, town) -> None:  # noqa: F811
    token, stop_id = _plan_and_stop(app, session, town["orders"][0])
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    client.post(f"/driver/run/{token}/stops/{stop_id}", data={"outcome": "done", "csrf_token": _csrf(page)})
    _login(client)
    dashboard = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    table = dashboard.split("<h2>注文（地区・時間帯別）</h2>")[1].split("<h2>")[0]
    counts = re.findall(r"<td>(\d+)</td>", table)
    assert counts == ["4"], table


def test_outbox_counts_are_in_japanese(client) -> None:
    _login(client)
    dashboard = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "送信待ち 0件" in dashboard and "pending" not in dashboard


def test_watch_list_survives_a_re_plan(app, client, session, town) -> None:  # noqa: F811
    order = session.get(Order, town["orders"][0])
    name = order.resident.name
    session.rollback()
    token, stop_id = _plan_and_stop(app, session, town["orders"][0])
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    client.post(f"/driver/run/{token}/stops/{stop_id}", data={"outcome": "not_at_home", "csrf_token": _csrf(page)})
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)      # 「今すぐ計画する」 again
    _login(client)
    dashboard = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "第2版" in dashboard
    watch = dashboard.split("見守り（不在）")[1].split("<h2>")[0]
    assert watch.count(f"{name} 様") == 1


def test_unknown_run_is_a_404_not_a_crash(app, client) -> None:
    _login(client)
    response = client.get("/staff/runs/99999/sheet")
    assert response.status_code == 404 and "見つかりませんでした" in response.get_data(as_text=True)
    token = make_token(app.config["SECRET_KEY"], 99999)       # a signed link to a run that is gone
    assert client.get(f"/driver/run/{token}").status_code == 404


def test_a_past_day_cannot_be_re_planned(app, client, session, town) -> None:  # noqa: F811
    from delivery.models import Plan
    # The test clock is 2026-12-01 08:00 JST: the 30th is over.

    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    session.rollback()
    _login(client)
    page = client.get("/staff/?date=2026-11-30").get_data(as_text=True)
    response = client.post("/staff/plan", data={"date": "2026-11-30", "csrf_token": _csrf(page)},
                           follow_redirects=True)
    assert "11月30日（月）は過ぎた日のため、計画は作り直せません。" in response.get_data(as_text=True)
    assert session.scalars(select(Plan.delivery_date)).all() == [DAY]
