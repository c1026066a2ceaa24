"""Staff master data for the fleet (/staff/master/vehicles, /staff/master/drivers): list, add, edit,
Japanese validation with the form again (400), audit of every change, read-only and CSRF refused."""

from __future__ import annotations

from sqlalchemy import select

from core.models import AuditEntry
from delivery.models import Driver, Vehicle
from tests.accounts_support import csrf_of, sign_in
from tests.factories import make_driver, make_vehicle

VAN = {"name": "軽バン3号", "capacity_crates": "18", "capacity_cold": "2", "depot_lat": "38.1075",
       "depot_lon": "140.0405", "shift_start": "09:00", "shift_end": "16:00", "break_start": "12:00",
       "break_minutes": "45", "active": "yes"}


def _post(client, url: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/staff/master/").get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def test_a_coordinator_adds_lists_and_edits_a_vehicle(app, client, session) -> None:
    sign_in(client, "coordinator")
    added = _post(client, "/staff/master/vehicles/new", VAN)
    assert added.status_code == 302 and added.headers["Location"] == "/staff/master/vehicles"
    (van,) = session.scalars(select(Vehicle)).all()
    assert (van.capacity_crates, van.capacity_cold, van.shift_end, van.break_start, van.break_minutes, van.active) \
        == (18, 2, "16:00", "12:00", 45, True)
    van_id = van.id
    session.rollback()
    listing = client.get("/staff/master/vehicles").get_data(as_text=True)
    assert "軽バン3号" in listing and "09:00〜16:00" in listing and "12:00から45分" in listing
    edit_page = client.get(f"/staff/master/vehicles/{van_id}").get_data(as_text=True)
    assert 'value="18"' in edit_page
    # Taking it out of service: no "active" box ticked, and no break.
    edited = _post(client, f"/staff/master/vehicles/{van_id}",
                   {**VAN, "capacity_crates": "25", "break_start": "", "break_minutes": "0", "active": ""})
    assert edited.status_code == 302
    van = session.get(Vehicle, van_id)
    assert (van.capacity_crates, van.break_start, van.active) == (25, None, False)
    audits = session.scalars(select(AuditEntry).where(AuditEntry.subject_type == "vehicle")
                             .order_by(AuditEntry.id)).all()
    assert [a.action for a in audits] == ["vehicle.add", "vehicle.edit"]
    assert audits[1].actor != "anonymous" and set(audits[1].data["fields"]) == {
        "capacity_crates", "break_start", "break_minutes", "active"}
    session.rollback()
    assert "使わない" in client.get("/staff/master/vehicles").get_data(as_text=True)


def test_bad_vehicle_input_shows_the_form_again_in_japanese(app, client, session) -> None:
    sign_in(client, "admin")
    cases = [({"capacity_crates": "abc"}, "積める箱の数は1〜500の整数"),
             ({"capacity_crates": "0"}, "積める箱の数は1〜500の整数"),
             ({"shift_start": "9時"}, "勤務の開始は 09:00 のように"),
             ({"shift_start": "17:00", "shift_end": "09:00"}, "勤務の終了は開始より後"),
             ({"break_start": "18:00"}, "休憩は勤務時間の中に"),
             ({"break_start": ""}, "休憩の開始時刻も入力"),
             ({"depot_lat": "nan"}, "車庫の緯度は-90.0〜90.0の範囲"),
             ({"name": ""}, "車両の名前を入力してください")]
    for change, message in cases:
        response = _post(client, "/staff/master/vehicles/new", {**VAN, **change})
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and message in page, (change, response.status_code)
        assert 'name="csrf_token"' in page and "軽バン3号" in page or change == {"name": ""}
    assert session.scalars(select(Vehicle)).all() == []
    assert session.scalars(select(AuditEntry).where(AuditEntry.subject_type == "vehicle")).all() == []


def test_a_coordinator_adds_and_edits_a_driver_and_sees_the_line_status(app, client, session) -> None:
    van = make_vehicle(session, name="白い軽バン")
    linked = make_driver(session, name="配達 二郎", line_user_id="U" + "2" * 32)
    session.commit()
    van_id, linked_id = van.id, linked.id
    session.rollback()
    sign_in(client, "coordinator")
    added = _post(client, "/staff/master/drivers/new", {"name": "配達 花子", "kana": "はいたつ はなこ",
                                                         "phone": "0238-00-5678", "vehicle_id": str(van_id),
                                                         "active": "yes"})
    assert added.status_code == 302
    hanako = session.scalars(select(Driver).where(Driver.name == "配達 花子")).one()
    assert (hanako.kana, hanako.phone, hanako.vehicle_id, hanako.active, hanako.line_user_id) == \
        ("はいたつ はなこ", "+81238005678", van_id, True, None)   # stored as the SMS sender dials it
    hanako_id = hanako.id
    session.rollback()
    listing = client.get("/staff/master/drivers").get_data(as_text=True)
    assert "配達 花子" in listing and "白い軽バン" in listing and "連携済み" in listing and "未連携" in listing
    assert "0238005678" in listing and "+81" not in listing
    assert 'value="0238005678"' in client.get(f"/staff/master/drivers/{hanako_id}").get_data(as_text=True)
    assert "連携済み" in client.get(f"/staff/master/drivers/{linked_id}").get_data(as_text=True)
    edited = _post(client, f"/staff/master/drivers/{hanako_id}", {"name": "配達 花子", "kana": "はいたつ はなこ",
                                                                  "phone": "", "vehicle_id": "", "active": ""})
    assert edited.status_code == 302
    hanako = session.get(Driver, hanako_id)
    assert (hanako.phone, hanako.vehicle_id, hanako.active) == (None, None, False)
    actions = [a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.subject_type == "driver")
                                                 .order_by(AuditEntry.id))]
    assert actions == ["driver.add", "driver.edit"]
    session.rollback()


def test_bad_driver_input_shows_the_form_again_in_japanese(app, client, session) -> None:
    sign_in(client, "coordinator")
    good = {"name": "配達 花子", "kana": "はいたつ はなこ", "phone": "", "vehicle_id": "", "active": "yes"}
    for change, message in [({"kana": ""}, "ふりがなを入力してください"),
                            ({"phone": "でんわ"}, "電話番号は 0238-00-1234 のように"),
                            # digits and hyphens, but one digit too many: no SMS could ever reach it
                            ({"phone": "090-1234-56789"}, "電話番号は 0238-00-1234 のように市外局番から"),
                            ({"vehicle_id": "999"}, "いつもの車両は一覧から選んでください")]:
        response = _post(client, "/staff/master/drivers/new", {**good, **change})
        assert response.status_code == 400 and message in response.get_data(as_text=True), change
    assert session.scalars(select(Driver)).all() == []


def test_a_readonly_account_sees_the_lists_but_cannot_change(app, client, session) -> None:
    van = make_vehicle(session, name="軽バン9号")
    session.commit()
    van_id = van.id
    session.rollback()
    sign_in(client, "readonly")
    listing = client.get("/staff/master/vehicles")
    assert listing.status_code == 200 and "軽バン9号" in listing.get_data(as_text=True)
    assert "変更</a>" not in listing.get_data(as_text=True)
    token = csrf_of(listing.get_data(as_text=True))
    refused = client.post(f"/staff/master/vehicles/{van_id}", data={**VAN, "capacity_crates": "1", "csrf_token": token})
    assert refused.status_code == 403
    assert client.post("/staff/master/drivers/new", data={"name": "x", "kana": "x", "csrf_token": token}).status_code == 403
    assert session.get(Vehicle, van_id).capacity_crates == 20
    assert session.scalars(select(Driver)).all() == []


def test_a_change_without_the_csrf_token_is_refused(app, client, session) -> None:
    sign_in(client, "admin")
    response = client.post("/staff/master/vehicles/new", data=VAN)
    assert response.status_code in (400, 403)
    assert session.scalars(select(Vehicle)).all() == []


def test_an_unknown_vehicle_or_driver_is_404(app, client, session) -> None:
    sign_in(client, "admin")
    assert client.get("/staff/master/vehicles/4242").status_code == 404
    assert _post(client, "/staff/master/drivers/4242", {"name": "a", "kana": "a"}).status_code in (404,)


def test_the_dashboard_links_to_the_master_data(app, client) -> None:
    sign_in(client, "coordinator")
    page = client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/master/"' in page and "基本データ" in page
