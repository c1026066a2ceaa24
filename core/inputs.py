"""Checking what arrives from outside before it reaches the database: ids, dates, free text.

Unchecked input used to surface as a 500 (issue 12, hole 11): an id past PostgreSQL's ``integer``
overflows the query, a date in year 9999 overflows ``date + 1 day``, a NUL character is refused by
PostgreSQL's text columns. These helpers turn such values into "absent" so each channel answers with
its usual 4xx or message, and the ``int`` URL converter below does it once for every ``<int:…>`` route.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from flask import abort, current_app, request
from typing import Any, TypeVar

from werkzeug.routing import IntegerConverter

# Every id column is a 32-bit signed integer on PostgreSQL (SQLite would take more, but one rule for both).
DB_INT_MAX = 2**31 - 1
# Dates the service can mean: the pilot's calendars, with room on both sides; outside this a date is a typo
# or a probe, and ``date.max + 1 day`` would overflow.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
F = TypeVar("F", bound=Callable[..., Any])


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` limited to the database's id range: a bigger number matches no route (404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - Werkzeug's name
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


def db_int(value: Any) -> int | None:
    """``value`` as an id the database can hold (0 … 2³¹−1), else None. Accepts ints and digit strings."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and 0 < len(value) <= 12 and value.strip().isascii() and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 0 <= number <= DB_INT_MAX else None


def parse_day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` date between 2000 and 2099, else None."""
    if not text or len(text) > 10:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None


def has_nul(value: Any) -> bool:
    """True when a string anywhere in ``value`` holds a NUL (PostgreSQL text and JSON columns refuse it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


BODY_LIMIT_ATTRIBUTE = "_otodoke_body_limit"


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Let one view take a larger body than ``MAX_CONTENT_LENGTH`` (a photo upload); every other route
    keeps the cap. Applied below the route decorator, so the registered view carries the mark."""
    def mark(view: F) -> F:
        setattr(view, BODY_LIMIT_ATTRIBUTE, max_bytes)
        return view
    return mark


def refuse_oversize_stream() -> None:
    """``before_request``: a chunked body (no Content-Length) at or past ``MAX_CONTENT_LENGTH`` is 413.

    Werkzeug's cap alone stops reading a chunked body at the limit but hands the view the first
    megabyte as if it were whole (a LINE body then fails its signature with 400, a Twilio form is cut).
    Reading it here, through the same capped stream, keeps memory at the cap and says what happened;
    the body is cached, so the view and the form parser read it from there."""
    view = current_app.view_functions.get(request.endpoint or "")
    larger = getattr(view, BODY_LIMIT_ATTRIBUTE, None)
    if larger is not None:
        request.max_content_length = larger     # before anything (the CSRF check) reads the form
    limit = request.max_content_length
    if limit is None or request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return
    if request.method in ("POST", "PUT", "PATCH") and len(request.get_data(cache=True)) >= limit:
        abort(413)
