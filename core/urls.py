"""URLs built once per page: a table of N rows with a form each would otherwise call ``url_for`` N
times, and Werkzeug's route building is a visible share of a big page's CPU."""

from __future__ import annotations

from collections.abc import Callable

from flask import url_for

# An id no row has: it is swapped for each row's id in the URL built once.
_MARK = 987654321987


def id_url(endpoint: str, key: str, **values: object) -> Callable[[int], str]:
    """``url_for(endpoint, **{key: id}, **values)`` for any integer id, from one ``url_for`` call.

    Only for ``<int:…>`` parts: an int renders the same in a URL whatever its position, so
    replacing the marker is exact (no quoting differs)."""
    head, mark, tail = url_for(endpoint, **{key: _MARK}, **values).partition(str(_MARK))
    if not mark:
        raise ValueError(f"{endpoint}: {key} is not in its URL")
    return lambda value: f"{head}{int(value)}{tail}"
