"""APPI requests through the real app: a resident's data exported (staff page and command), erased on
request with the order rows kept, the retention sweep; on both databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

from sqlalchemy import select

from core.clock import JST
from core.models import AuditEntry, Conversation
from delivery.models import RunStop
from delivery.runner import plan_day
from orders.models import Order
from outbox.models import OutboxMessage, OutboxStatus
from residents.models import FamilyLink, Resident, VoiceMessage
from residents.privacy import ERASED_NAME
from tests.accounts_support import csrf_of, sign_in
from tests.test_planning import DAY, town  # noqa: F401  (fixture)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


def _held(session, town) -> int:  # noqa: F811
    """Give the first resident of the town a family link, a call record and a LINE conversation; plan the
    day so their order has a stop. Returns the resident's id."""
    order = session.get(Order, town["orders"][0])
    resident = order.resident
    order.note = "玄関の横の箱に入れてください"
    session.add(FamilyLink(resident_id=resident.id, line_user_id="Ufamily1", name="長井 一郎", relation="息子",
                           linked_at=NOW))
    session.add(VoiceMessage(call_sid="CAprivacy1", from_number=resident.phone, purpose="callback",
                             recording_url="https://api.twilio.example/rec/RE1", recording_seconds=12,
                             created_at=NOW - timedelta(days=1)))
    session.add(Conversation(channel="line", party=resident.line_user_id, state={"step": "menu"}, updated_at=NOW))
    session.commit()
    resident_id = resident.id
    session.rollback()
    return resident_id


def test_a_coordinator_sees_and_downloads_everything_held_about_one_resident(app, client, session,
                                                                          town) -> None:  # noqa: F811
    resident_id = _held(session, town)
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    sign_in(client)
    page = client.get(f"/staff/privacy/residents/{resident_id}")
    assert page.status_code == 200 and "個人情報を削除する" in page.get_data(as_text=True)
    assert client.get(f"/staff/privacy/?q={resident_id}").headers["Location"].endswith(f"/residents/{resident_id}")

    response = client.get(f"/staff/privacy/residents/{resident_id}/export.json")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    resident = session.get(Resident, resident_id)
    assert data["profile"][0]["name"] == resident.name and data["profile"][0]["address"] == resident.address
    assert [f["name"] for f in data["family_links"]] == ["長井 一郎"]
    assert [o["id"] for o in data["orders"]] == [town["orders"][0]]           # theirs only, not the neighbours'
    assert data["orders"][0]["lines"][0]["name"] == "大根" and data["orders"][0]["note"].startswith("玄関")
    assert [s["order_ids"] for s in data["delivery_stops"]] == [[town["orders"][0]]]
    assert data["call_records"][0]["recording_url"].endswith("RE1")
    assert data["conversations"][0]["state"] == {"step": "menu"}
    assert data["messages"] and {m["recipient"] for m in data["messages"]} == {resident.line_user_id}
    assert {(a["subject_type"], a["action"]) for a in data["audit"]} >= {("order", "order.placed")}
    session.rollback()

    table = list(csv.reader(io.StringIO(client.get(
        f"/staff/privacy/residents/{resident_id}/export.csv").get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0] == ["part", "row", "field", "value"]
    assert ["profile", "1", "name", resident.name] in table and ["family_links", "1", "relation", "息子"] in table
    exports = session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.export")).all()
    assert [(e.subject_id, e.data["format"], e.actor.startswith("account:")) for e in exports] == [
        (str(resident_id), "json", True), (str(resident_id), "csv", True)]
    assert resident.name not in json.dumps([e.data for e in exports], ensure_ascii=False)


def test_erasure_on_request_removes_the_person_and_keeps_the_order(app, client, session, town) -> None:  # noqa: F811
    resident_id = _held(session, town)
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    order_id = town["orders"][0]
    before = session.get(Order, order_id).total_yen
    line_id = session.get(Resident, resident_id).line_user_id
    session.query(OutboxMessage).filter(OutboxMessage.recipient == line_id).first().status = OutboxStatus.SENT
    session.commit()
    session.rollback()
    sign_in(client)
    page = client.get(f"/staff/privacy/residents/{resident_id}").get_data(as_text=True)
    # Without the confirmation word nothing happens.
    refused = client.post(f"/staff/privacy/residents/{resident_id}/erase", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 303 and session.get(Resident, resident_id).erased_at is None
    session.rollback()
    done = client.post(f"/staff/privacy/residents/{resident_id}/erase",
                       data={"csrf_token": csrf_of(page), "confirm": "削除"})
    assert done.status_code == 303
    resident = session.get(Resident, resident_id)
    assert (resident.name, resident.kana, resident.phone, resident.line_user_id, resident.address, resident.lat) == (
        ERASED_NAME, "", None, None, "", None)
    assert resident.erased_at is not None and not resident.active
    order = session.get(Order, order_id)
    assert order.total_yen == before and order.note == "" and order.lines          # accounting stays
    stop = session.scalars(select(RunStop).where(RunStop.kind == "delivery")).all()
    (theirs,) = [s for s in stop if order_id in s.order_ids]
    assert theirs.lat == round(theirs.lat, 2) and theirs.note == ""
    assert session.scalars(select(FamilyLink).where(FamilyLink.resident_id == resident_id)).all() == []
    call = session.scalar(select(VoiceMessage).where(VoiceMessage.call_sid == "CAprivacy1"))
    assert call.from_number == "" and call.recording_url is None
    assert session.scalars(select(Conversation).where(Conversation.party == line_id)).all() == []
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == line_id)).all() == []
    erased = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == "erased")).all()
    assert erased and all(m.payload == {} for m in erased)
    assert {m.status for m in erased} == {OutboxStatus.SENT, OutboxStatus.DEAD}       # the unsent one never goes
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase")).all()
    assert entry.subject_id == str(resident_id) and entry.data["rows"]["orders"] == 1
    # The neighbours keep everything.
    other = session.get(Order, town["orders"][1]).resident
    assert other.erased_at is None and other.line_user_id
    session.rollback()
    again = client.post(f"/staff/privacy/residents/{resident_id}/erase",
                        data={"csrf_token": csrf_of(page), "confirm": "削除"})
    assert again.status_code == 303
    assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.erase")).all()) == 1


def test_only_admin_and_coordinator_reach_a_residents_data(app, client, session, town) -> None:  # noqa: F811
    resident_id = _held(session, town)
    sign_in(client, "readonly")
    for path in (f"/staff/privacy/residents/{resident_id}", f"/staff/privacy/residents/{resident_id}/export.json",
                 f"/staff/privacy/residents/{resident_id}/export.csv", "/staff/privacy/"):
        assert client.get(path).status_code == 403, path
    assert client.post(f"/staff/privacy/residents/{resident_id}/erase", data={"confirm": "削除"}).status_code in (400, 403)
    assert session.get(Resident, resident_id).erased_at is None
    assert session.scalars(select(AuditEntry).where(AuditEntry.action.like("privacy.%"))).all() == []
    session.rollback()
    client.post("/staff/logout")
    anonymous = app.test_client()
    assert anonymous.get(f"/staff/privacy/residents/{resident_id}/export.json").status_code == 302


def test_erasure_needs_the_forms_csrf_token(app, client, session, town) -> None:  # noqa: F811
    resident_id = _held(session, town)
    sign_in(client)
    response = client.post(f"/staff/privacy/residents/{resident_id}/erase", data={"confirm": "削除"})
    assert response.status_code == 400
    assert session.get(Resident, resident_id).erased_at is None


def test_an_unknown_resident_is_a_404(app, client, session) -> None:
    sign_in(client)
    assert client.get("/staff/privacy/residents/999999").status_code == 404
    assert client.get("/staff/privacy/residents/999999/export.json").status_code == 404
    assert client.get("/staff/privacy/?q=0238-99-9999").status_code == 404
