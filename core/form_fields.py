"""Reading a posted master-data form's fields: each helper returns the checked value or raises a
DomainError with a Japanese sentence naming the field, so every master-data page (vehicles, drivers,
shops, districts) words the same mistake the same way."""

from __future__ import annotations

import re
from typing import Mapping

from core.errors import DomainError

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def text(form: Mapping[str, str], key: str, label: str, max_length: int, required: bool = True) -> str | None:
    value = (form.get(key) or "").strip()
    if not value:
        if required:
            raise DomainError("missing_" + key, f"{label}を入力してください。")
        return None
    if len(value) > max_length:
        raise DomainError("long_" + key, f"{label}は{max_length}文字以内で入力してください。")
    return value


def whole(form: Mapping[str, str], key: str, label: str, low: int, high: int, default: int | None = None) -> int:
    value = (form.get(key) or "").strip()
    if not value and default is not None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise DomainError("bad_" + key, f"{label}は{low}〜{high}の整数で入力してください。")
    return int(value)


def is_hhmm(value: str) -> bool:
    return bool(_HHMM.match(value))


def time(form: Mapping[str, str], key: str, label: str, required: bool = True) -> str | None:
    value = (form.get(key) or "").strip()
    if not value and not required:
        return None
    if not is_hhmm(value):
        raise DomainError("bad_" + key, f"{label}は 09:00 のように「時:分」で入力してください。")
    return value


def coordinate(form: Mapping[str, str], key: str, label: str, low: float, high: float) -> float:
    value_text = (form.get(key) or "").strip()
    try:
        value = float(value_text)
    except ValueError:
        raise DomainError("bad_" + key, f"{label}は数字で入力してください。") from None
    if not low <= value <= high:  # also refuses nan and inf
        raise DomainError("bad_" + key, f"{label}は{low}〜{high}の範囲で入力してください。")
    return value


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)
