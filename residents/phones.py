"""Japanese telephone numbers: whatever form people type or Twilio reports, stored as E.164 (+81...).

Caller ID only finds a resident if the number on file and the number Twilio reports are written the same
way, so every number goes through ``normalise_phone`` before it is stored or compared.

Rules (Japanese numbering plan, trunk prefix 0):
* mobile, IP and 0800 numbers (070/080/090/050/0800) have 11 digits with the leading 0;
* every other number (landlines such as 0238-84-xxxx, 0120 free dial) has 10;
* "+81", "+81 (0)", "0081" and "81" followed by a full-length national number are accepted;
* full-width digits, spaces, hyphens of every kind (－ ー ‐ − ―), dots and brackets are ignored.
Local numbers without the area code, other countries' numbers and short codes (110, 119) are refused:
we would otherwise store a number that can never match a caller.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Mapping

from core.errors import DomainError
from core.form_fields import text

BAD_PHONE_MESSAGE = "電話番号の形がちがうようです。市外局番から、もう一度お知らせください。"

# Separators people use between digit groups; NFKC already maps full-width forms to ASCII.
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−ー－.()（）\[\]・/]")
_ELEVEN_DIGIT_PREFIXES = ("050", "070", "080", "090", "0800")


class PhoneError(DomainError):
    def __init__(self) -> None:
        super().__init__("bad_phone", BAD_PHONE_MESSAGE)


def normalise_phone(text: str) -> str:
    """Return the number in E.164 (``+81238841234``); raise ``PhoneError`` (code ``bad_phone``)."""
    if not isinstance(text, str):
        raise PhoneError()
    compact = unicodedata.normalize("NFKC", text).strip()
    compact = compact.replace("(0)", "").replace("（0）", "")
    compact = _SEPARATORS.sub("", compact)
    national = compact
    for prefix in ("+81", "0081", "81"):
        if compact.startswith(prefix):
            if prefix == "81" and len(compact) not in (11, 12):
                break  # only a caller ID whose plus sign was lost looks like this
            rest = compact[len(prefix):]
            # "+81 0238...": people often keep the trunk 0 after the country code.
            national = rest if rest.startswith("0") else "0" + rest
            break
    if not national.isascii() or not national.isdigit() or not national.startswith("0"):
        raise PhoneError()
    if national[1] == "0":
        raise PhoneError()  # 00x is an international or carrier prefix, never a subscriber number
    expected = 11 if national.startswith(_ELEVEN_DIGIT_PREFIXES) else 10
    if len(national) != expected:
        raise PhoneError()
    return "+81" + national[1:]


def try_normalise_phone(text: str | None) -> str | None:
    """Like ``normalise_phone`` but None for missing or malformed input (caller ID may be "anonymous")."""
    if not text:
        return None
    try:
        return normalise_phone(text)
    except PhoneError:
        return None


def form_phone(form: Mapping[str, str], key: str = "phone", label: str = "電話番号") -> str | None:
    """A master-data form's optional phone field, stored in E.164 like every other number.

    Stored as typed, a shop's or driver's number that cannot be normalised would only show up when their
    picking-list SMS or run link silently found no number to send to; refusing it here tells the
    coordinator while they can still fix it."""
    value = text(form, key, label, 32, required=False)
    if value is None:
        return None
    try:
        return normalise_phone(value)
    except PhoneError:
        raise DomainError("bad_" + key, f"{label}は 0238-00-1234 のように市外局番から入力してください。") from None


def national_format(e164: str) -> str:
    """``+81238841234`` → ``0238841234`` (digits only; for reading a number back on the phone)."""
    return "0" + e164[3:] if e164.startswith("+81") else e164


def is_mobile(e164: str) -> bool:
    """A mobile number (070/080/090), the only kind that reliably receives SMS in Japan."""
    return e164.startswith(("+8170", "+8180", "+8190"))


def mask_phone(number: str | None) -> str:
    """For logs and staff lists that need no full number: keep the last four digits only."""
    if not number:
        return ""
    digits = re.sub(r"\D", "", number)
    return "*" * max(len(digits) - 4, 0) + digits[-4:]
