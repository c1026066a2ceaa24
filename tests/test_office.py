"""The coordinator's office pages: register a phone-only resident from a registration voicemail, and
the day's order list with cancel (stock back, the resident told)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from orders.models import Order, OrderStatus
from core.clock import JST
from core.models import AuditEntry
from outbox.models import OutboxMessage
from residents.models import Resident, VoiceMessage
from tests.accounts_support import csrf_of, sign_in
from tests.factories import make_district
from tests.test_planning import town  # noqa: F401  (fixture)


def test_a_coordinator_registers_a_phone_only_resident_from_a_voicemail(app, client, session) -> None:
    district = make_district(session)
    message = VoiceMessage(call_sid="CA1", from_number="+81238001234", purpose="registration",
                           created_at=datetime(2026, 12, 1, 7, 0, tzinfo=JST))
    session.add(message)
    session.commit()
    district_id, message_id = district.id, message.id
    session.rollback()
    sign_in(client)
    page = client.get(f"/staff/residents/new?message={message_id}").get_data(as_text=True)
    assert "0238001234" in page and "中央" in page
    bad = client.post(f"/staff/residents/new?message={message_id}", data={
        "csrf_token": csrf_of(page), "name": "山田 花子", "kana": "yamada", "phone": "0238-00-1234",
        "address": "長井市本町1-1", "district_id": str(district_id)})
    assert bad.status_code == 400 and "ふりがな" in bad.get_data(as_text=True)
    assert session.scalars(select(Resident)).all() == []
    session.rollback()
    done = client.post(f"/staff/residents/new?message={message_id}", data={
        "csrf_token": csrf_of(page), "name": "山田 花子", "kana": "やまだ はなこ", "phone": "0238-00-1234",
        "address": "長井市本町1-1", "district_id": str(district_id), "consent": "yes"})
    assert done.status_code == 302 and done.headers["Location"] == "/voice/messages"
    (resident,) = session.scalars(select(Resident)).all()
    assert resident.phone == "+81238001234" and resident.line_user_id is None and resident.consented_at
    assert session.get(VoiceMessage, message_id).handled_at is not None
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {"resident.register", "voice_message.handled"} <= actions
    session.rollback()


def test_a_readonly_account_cannot_register(app, client, session) -> None:
    sign_in(client, "readonly")
    assert client.get("/staff/residents/new").status_code == 403


def test_the_order_list_cancels_an_order_for_a_resident(app, client, session, town) -> None:  # noqa: F811
    order_id = town["orders"][0]
    session.rollback()
    sign_in(client)
    page = client.get("/staff/orders?date=2026-12-01").get_data(as_text=True)
    assert page.count("取り消す</button>") == 4
    response = client.post(f"/staff/orders/{order_id}/cancel-order",
                           data={"csrf_token": csrf_of(page), "date": "2026-12-01"}, follow_redirects=True)
    assert "取り消し、在庫を戻して" in response.get_data(as_text=True)
    assert session.get(Order, order_id).status is OrderStatus.CANCELLED
    kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert "order_cancelled" in kinds
    session.rollback()
    assert client.get("/staff/orders?date=2026-12-01").get_data(as_text=True).count("取り消す</button>") == 3
    assert client.get("/staff/orders?date=not-a-date").status_code == 400


def test_the_dashboard_opens_on_the_next_day_with_orders(app, client, session, clock, town) -> None:  # noqa: F811
    from datetime import timedelta
    clock.advance(timedelta(days=-1))            # the evening before: today (Nov 30) has no orders
    session.rollback()
    sign_in(client)
    page = client.get("/staff/").get_data(as_text=True)
    assert "<strong>12月1日</strong>" in page and "注文のある次の配達日（12月1日）" in page
    clock.advance(timedelta(days=1))             # the day itself
    page = client.get("/staff/").get_data(as_text=True)
    assert "<strong>12月1日</strong>" in page and "注文のある次の配達日" not in page
    clock.advance(timedelta(days=1))             # nothing later: today it is
    page = client.get("/staff/").get_data(as_text=True)
    assert "<strong>12月2日</strong>" in page and "注文のある次の配達日" not in page
    # a date asked for is shown as asked
    assert "<strong>11月30日</strong>" in client.get("/staff/?date=2026-11-30").get_data(as_text=True)


def test_a_registration_voicemail_links_to_the_form(app, client, session) -> None:
    session.add(VoiceMessage(call_sid="CA2", from_number="+81238009999", purpose="registration",
                             created_at=datetime(2026, 12, 1, 7, 0, tzinfo=JST)))
    session.commit()
    message_id = session.scalars(select(VoiceMessage.id)).one()
    session.rollback()
    sign_in(client)
    page = client.get("/voice/messages").get_data(as_text=True)
    assert f"/staff/residents/new?message={message_id}" in page
