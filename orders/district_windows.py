"""A district's delivery windows as staff edit them: one row per window (code, name, start, end).

The district editor shows each window as its own row; the page reads the posted rows into ``WindowRow``
values as typed (strings, not yet checked) and ``check_window_rows`` checks them all at once, so a
coordinator sees every row's mistake together and nothing is saved while one row is wrong.
``save_district`` checks the windows it is given again, so a caller that builds ``DistrictValues``
itself (a script, a test) cannot store a window the form would refuse.

A window applies on every delivery weekday of its district (``District.windows`` holds no weekday), so
"two windows overlap" means they overlap on each delivery day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from core.errors import DomainError
from core.form_fields import is_hhmm, minutes
from orders.calendar import ANY_TIME

_WINDOW_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")   # orders.window_code is 16 characters
MAX_WINDOWS = 6
MAX_LABEL = 16
# The service day: doors are visited by daylight-ish hours only. An elderly resident does not expect
# (or open to) a knock before 08:00 or after 20:00, and no van shift reaches further.
SERVICE_DAY_START, SERVICE_DAY_END = "08:00", "20:00"


@dataclass(frozen=True)
class WindowRow:
    """One window row as posted: strings as typed, ``remove`` when its 「削除」 box is ticked."""
    code: str = ""
    label: str = ""
    start: str = ""
    end: str = ""
    remove: bool = False

    @property
    def blank(self) -> bool:
        return not (self.code or self.label or self.start or self.end)


class WindowsInvalid(DomainError):
    """One row or more is wrong. ``rows`` maps a row's position (0-based, as given) to its messages;
    ``message`` names the rows, or says what is wrong with the windows as a whole."""

    def __init__(self, message: str, rows: dict[int, list[str]]) -> None:
        super().__init__("bad_windows", message, rows=rows)
        self.rows = rows


def rows_of(windows: Sequence[dict[str, Any]] | None) -> list[WindowRow]:
    """A district's stored windows as the editor's rows."""
    return [WindowRow(code=str(w["code"]), label=str(w.get("label") or w["code"]), start=str(w["start"]),
                      end=str(w["end"])) for w in windows or []]


def windows_text(windows: Sequence[dict[str, Any]] | None) -> str:
    """The windows on one line each, 「am 午前 09:00-12:00」 (for lists and logs)."""
    return "\n".join(f"{w['code']} {w.get('label') or w['code']} {w['start']}-{w['end']}" for w in windows or [])


def _row_problems(row: WindowRow) -> list[str]:
    problems = []
    if not row.code:
        problems.append("記号を入力してください（例: am）。")
    elif not _WINDOW_CODE.fullmatch(row.code) or row.code == ANY_TIME:
        problems.append(f"記号は英小文字と数字（16文字まで、「{ANY_TIME}」以外）にしてください。")
    if not row.label:
        problems.append("名前を入力してください（例: 午前）。")
    elif len(row.label) > MAX_LABEL:
        problems.append(f"名前は{MAX_LABEL}文字以内にしてください。")
    times_ok = True
    for value, what in ((row.start, "開始"), (row.end, "終了")):
        if not is_hhmm(value):
            problems.append(f"{what}の時刻を 09:00 のように入力してください。")
            times_ok = False
    if times_ok:
        if minutes(row.end) <= minutes(row.start):
            problems.append("終了の時刻は開始より後にしてください。")
        elif minutes(row.start) < minutes(SERVICE_DAY_START) or minutes(row.end) > minutes(SERVICE_DAY_END):
            problems.append(f"時間帯は配達をする{SERVICE_DAY_START}〜{SERVICE_DAY_END}の中にしてください。")
    return problems


def check_window_rows(rows: Sequence[WindowRow]) -> list[dict[str, str]]:
    """The rows to keep (not ticked for removal, not blank), checked, as ``District.windows`` holds them.
    Raises ``WindowsInvalid`` with every row's problems: a bad code, name or time, an end not after its
    start, a window outside the service day, a code used twice, two windows that overlap (touching, as
    12:00 and 12:00, is fine); and when no window or more than ``MAX_WINDOWS`` would be left."""
    kept = [(index, row) for index, row in enumerate(rows) if not row.remove and not row.blank]
    problems: dict[int, list[str]] = {index: found for index, row in kept if (found := _row_problems(row))}
    good = [(index, row) for index, row in kept if index not in problems]
    for position, (index, row) in enumerate(good):
        for earlier_index, earlier in good[:position]:
            if earlier.code == row.code:
                problems.setdefault(index, []).append(f"記号「{row.code}」は{earlier_index + 1}行目でも使われています。")
            elif minutes(row.start) < minutes(earlier.end) and minutes(earlier.start) < minutes(row.end):
                problems.setdefault(index, []).append(
                    f"{earlier_index + 1}行目（{earlier.label} {earlier.start}〜{earlier.end}）と時間が重なっています。")
    if problems:
        numbers = "、".join(f"{index + 1}行目" for index in sorted(problems))
        raise WindowsInvalid(f"配達の時間帯の{numbers}を直してください。まだ保存していません。", problems)
    if not kept:
        raise WindowsInvalid("配達の時間帯を1つ以上入力してください。", {})
    if len(kept) > MAX_WINDOWS:
        raise WindowsInvalid(f"配達の時間帯は{MAX_WINDOWS}つまでにしてください。", {})
    return [{"code": row.code, "label": row.label, "start": row.start, "end": row.end} for _, row in kept]
