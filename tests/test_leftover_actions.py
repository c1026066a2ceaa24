"""The staff page's left-out orders: who to phone, and 「次の配達日へ」「この便の最後に追加」「取り消してお知らせ」,
each a signed-in, CSRF-checked POST that tells the resident."""

from __future__ import annotations

from tests.accounts_support import csrf_of, sign_in
import re
from datetime import date

import pytest
from sqlalchemy import select, update

from delivery.models import Plan, Run, RunStop, RunStopOrder, UnassignedOrder
from orders.models import Order, OrderStatus
from outbox.models import OutboxMessage
from residents.phones import national_format
from shops.models import Product, Shop
from tests.test_leftovers import DAY, _plan, _rows, small_van  # noqa: F401  (fixture)


def _login(client) -> None:  # type: ignore[no-untyped-def]
    sign_in(client)


def _dashboard(client) -> str:  # type: ignore[no-untyped-def]
    return client.get(f"/staff/?date={DAY.isoformat()}").get_data(as_text=True)


def _left_out_block(page: str) -> str:
    return page.split('id="left-out"')[1].split("<h2>")[0] if 'id="left-out"' in page else ""


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.fixture
def planned(app, client, session, small_van):  # type: ignore[no-untyped-def]
    """The small van's day planned, staff signed in and looking at it."""
    _plan(app, session)
    _login(client)
    page = _dashboard(client)
    return {**small_van, "page": page, "csrf": _csrf(page)}


def _post(client, path: str, csrf: str | None, **form: str):  # type: ignore[no-untyped-def]
    data = {"date": DAY.isoformat(), **form}
    if csrf is not None:
        data["csrf_token"] = csrf
    return client.post(path, data=data)


def _order(session, order_id: int) -> tuple[OrderStatus, date]:
    order = session.get(Order, order_id)
    found = (order.status, order.delivery_date)
    session.rollback()
    return found


def test_left_out_orders_are_listed_with_name_and_phone(session, planned) -> None:
    block = _left_out_block(planned["page"])
    big = planned["big"]
    for order_id, name in zip(big, planned["names"][1:3]):
        assert f"<td>{order_id}</td>" in block and f"{name} 様" in block
    assert national_format(planned["phone"]) in block and "荷物が車両に積みきれません" in block
    assert "次の配達日（12月2日（水））へ" in block and "この便の最後に追加" in block
    assert f"<td>{planned['orders'][0]}</td>" not in block            # on a run: not listed
    for order_id in big:   # each row's forms post to its own order (URLs built once per page)
        for action in ("move-next", "assign", "cancel"):
            assert f'action="/staff/orders/{order_id}/{action}"' in block


def test_move_to_the_next_delivery_day(client, session, planned) -> None:
    order_id = planned["big"][0]
    stock = session.get(Product, planned["radish"]).stock
    session.rollback()
    response = _post(client, f"/staff/orders/{order_id}/move-next", planned["csrf"])
    assert response.status_code == 302
    assert _order(session, order_id) == (OrderStatus.CONFIRMED, date(2026, 12, 2))
    assert session.get(Product, planned["radish"]).stock == stock       # the goods stay set aside
    session.rollback()
    told = {m.recipient: m.text for m in _rows(session, "order_moved")}
    assert set(told) == {"Usmall1", "Ufamily1"}
    assert "12月1日（火）のお届けの便に入りきりませんでした" in told["Usmall1"] and "12月2日（水）" in told["Usmall1"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "12月2日（水）のお届けに移し" in page
    assert f"<td>{order_id}</td>" not in _left_out_block(page)


def test_assign_by_hand_puts_it_on_the_run_and_tells_driver_and_resident(client, session, planned) -> None:
    order_id = planned["big"][0]
    run_id = session.scalars(select(Run.id)).one()
    plan_id = session.scalars(select(Plan.id).where(Plan.active.is_(True))).one()
    # the farm has no LINE: its changed picking list goes by SMS with the link to its page
    session.execute(update(Shop).values(phone="+819000007777"))
    session.commit()
    response = _post(client, f"/staff/orders/{order_id}/assign", planned["csrf"], to=f"run:{run_id}")
    assert response.status_code == 302
    stops = list(session.scalars(select(RunStop).where(RunStop.run_id == run_id).order_by(RunStop.seq)))
    assert [s.seq for s in stops] == list(range(1, len(stops) + 1))
    assert (stops[-1].kind, stops[-1].order_ids) == ("delivery", [order_id])
    assert stops[-2].kind == "pickup" and order_id in stops[-2].picks and stops[-2].eta < stops[-1].eta
    assert session.scalars(select(UnassignedOrder).where(UnassignedOrder.order_id == order_id)).all() == []
    session.rollback()
    hand = f"plan:{plan_id}:hand:{order_id}:"
    driver = [m for m in _rows(session, "driver_run") if m.key.startswith(hand)]
    assert len(driver) == 1 and driver[0].recipient == "Udriver" and driver[0].text.startswith("（更新）")
    picking = [m for m in _rows(session, "picking_list") if m.key.startswith(hand)]
    assert [(m.channel, m.recipient) for m in picking] == [("sms", "+819000007777")] and "/picking/" in picking[0].text
    etas = {m.recipient: m.text for m in _rows(session, "eta") if m.key.startswith(hand)}
    assert set(etas) == {"Usmall1", "Ufamily1"} and "ごろにお届けします" in etas["Usmall1"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "最後に追加しました" in page and f"<td>{order_id}</td>" not in _left_out_block(page)
    # Twice is refused, not doubled.
    _post(client, f"/staff/orders/{order_id}/assign", planned["csrf"], to=f"run:{run_id}")
    assert len(list(session.scalars(select(RunStop).join(RunStopOrder).where(RunStopOrder.order_id == order_id)))) == 1


def test_cancel_with_a_message_gives_the_stock_back(client, session, planned) -> None:
    order_id = planned["big"][1]                                   # the landline customer
    stock = session.get(Product, planned["radish"]).stock
    session.rollback()
    response = _post(client, f"/staff/orders/{order_id}/cancel", planned["csrf"])
    assert response.status_code == 302
    assert _order(session, order_id)[0] is OrderStatus.CANCELLED
    assert session.get(Product, planned["radish"]).stock == stock + 9
    session.rollback()
    (call,) = [m for m in _rows(session, "order_cancelled")]
    assert call.channel == "voice" and call.recipient == planned["phone"]
    assert "お届けの便に入りきらなかったため、ご注文を取り消しました" in call.text
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"<td>{order_id}</td>" not in _left_out_block(page)


@pytest.mark.parametrize("action", ["move-next", "assign", "cancel"])
def test_actions_need_sign_in_and_the_forms_token(app, client, session, planned, action) -> None:
    order_id = planned["big"][0]
    run_id = f"run:{session.scalars(select(Run.id)).one()}"
    session.rollback()
    path = f"/staff/orders/{order_id}/{action}"
    assert _post(client, path, None, to=run_id).status_code == 400                    # no token
    assert _post(client, path, "forged", to=run_id).status_code == 400
    other = app.test_client()                         # not signed in, with a valid token of its own
    token = csrf_of(other.get("/staff/login").get_data(as_text=True))
    refused = other.post(path, data={"date": DAY.isoformat(), "csrf_token": token, "to": run_id})
    assert refused.status_code == 302 and "/staff/login" in refused.headers["Location"]
    assert _order(session, order_id) == (OrderStatus.CONFIRMED, DAY)
    assert len(list(session.scalars(select(RunStop).join(RunStopOrder).where(RunStopOrder.order_id == order_id)))) == 0
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind.in_(
        ["order_moved", "order_cancelled"]))).all() == []
