"""The district windows' checks (orders/district_windows.py) as the service applies them: every row's
problems at once, blank and removed rows left out, and ``save_district`` refusing bad windows whoever
built its values (the page's checks are in tests/test_master_places.py)."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest
from sqlalchemy import select

from core.models import AuditEntry
from orders.district_windows import WindowRow, WindowsInvalid, check_window_rows, rows_of
from orders.districts import DistrictValues, save_district
from places.models import District
from tests.conftest import DEFAULT_NOW
from tests.factories import make_outer_district

AM = WindowRow("am", "午前", "09:00", "12:00")
PM = WindowRow("pm", "午後", "13:00", "17:00")


def test_good_rows_become_the_stored_windows_in_their_order() -> None:
    rows = [PM, WindowRow(), AM, WindowRow("ev", "夕方", "17:00", "18:00", remove=True)]
    assert check_window_rows(rows) == [{"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"},
                                       {"code": "am", "label": "午前", "start": "09:00", "end": "12:00"}]
    # Touching windows do not overlap, and the service day's own edges are inside it.
    assert len(check_window_rows([WindowRow("a", "朝", "08:00", "12:00"), WindowRow("b", "昼", "12:00", "20:00")])) == 2
    assert rows_of(check_window_rows([AM, PM])) == [AM, PM]


def test_every_bad_row_is_named_with_all_its_problems() -> None:
    rows = [AM, WindowRow("md", "昼", "11:00", "13:00"), WindowRow("x", "", "12:00", "10:00"), AM, PM]
    with pytest.raises(WindowsInvalid) as caught:
        check_window_rows(rows)
    assert caught.value.rows == {1: ["1行目（午前 09:00〜12:00）と時間が重なっています。"],
                                 2: ["名前を入力してください（例: 午前）。", "終了の時刻は開始より後にしてください。"],
                                 3: ["記号「am」は1行目でも使われています。",
                                     "2行目（昼 11:00〜13:00）と時間が重なっています。"]}
    assert caught.value.message == "配達の時間帯の2行目、3行目、4行目を直してください。まだ保存していません。"
    assert caught.value.http_status == 400


@pytest.mark.parametrize("row, message", [
    (WindowRow("am", "午前", "07:59", "09:00"), "08:00〜20:00の中に"),
    (WindowRow("ev", "夜", "19:00", "20:01"), "08:00〜20:00の中に"),
    (WindowRow("am", "午前", "9:00", "12:00"), "開始の時刻を 09:00 のように"),
    (WindowRow("am", "午前", "09:00", ""), "終了の時刻を 09:00 のように"),
    (WindowRow("AM", "午前", "09:00", "12:00"), "記号は英小文字と数字"),
    (WindowRow("am", "午" * 17, "09:00", "12:00"), "名前は16文字以内"),
])
def test_one_bad_row(row: WindowRow, message: str) -> None:
    with pytest.raises(WindowsInvalid) as caught:
        check_window_rows([row])
    assert message in caught.value.rows[0][0]


def test_no_window_left_is_refused() -> None:
    for rows in ([], [WindowRow()], [replace(AM, remove=True)]):
        with pytest.raises(WindowsInvalid, match="1つ以上"):
            check_window_rows(rows)


def test_save_district_checks_the_windows_it_is_given(app, session) -> None:  # type: ignore[no-untyped-def]
    """A caller that builds DistrictValues itself (not the form) cannot store overlapping windows."""
    outer = make_outer_district(session, code="isazawa")
    session.commit()
    values = DistrictValues(**{f.name: getattr(outer, f.name) for f in fields(DistrictValues)})
    overlapping = replace(values, windows=[*values.windows, {"code": "md", "label": "昼", "start": "11:00",
                                                             "end": "14:00"}])
    with pytest.raises(WindowsInvalid):
        save_district(session, overlapping, district_id=outer.id, actor="staff:test", now=DEFAULT_NOW,
                      today=DEFAULT_NOW.date())
    session.rollback()
    assert len(session.get(District, outer.id).windows) == 2
    assert list(session.scalars(select(AuditEntry))) == []
