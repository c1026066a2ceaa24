"""The free-text matcher's words: which products are on sale and their names and kana readings, kept
per process for a few seconds instead of loading the whole catalogue on every typed order.

Only words are cached, never what a resident is shown or charged. A typed order is matched in two
passes: the cached words pick the candidates, then the candidates are read fresh (still on sale? their
current name and reading?) and the text is matched again against those fresh rows only. So a cached
word can never put a product in the basket that is no longer on sale or no longer called that, and
the quote reads price and stock itself. What the cache can do: a product listed, renamed or put back
on sale in the last ``TTL_S`` seconds is not understood by its new words yet (the resident gets the
「分かりませんでした」 buttons, as for any unknown word).
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any, Sequence

from sqlalchemy.orm import Session

from shops.service import Word, on_sale_words, on_sale_words_among

__all__ = ["TTL_S", "Word", "fresh_words", "shop_first", "words"]

TTL_S = 10.0

# Per engine (tests make a database per app; ids mean nothing across databases).
_cache: weakref.WeakKeyDictionary[Any, tuple[float, tuple[Word, ...]]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def words(session: Session) -> tuple[Word, ...]:
    """The on-sale products' words, at most ``TTL_S`` seconds old."""
    engine = _engine(session)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(engine)
    if cached is not None and now - cached[0] < TTL_S:
        return cached[1]
    fresh = tuple(on_sale_words(session))
    with _lock:
        _cache[engine] = (now, fresh)
    return fresh


def _engine(session: Session) -> Any:
    # An Engine's ``.engine`` is itself; a Connection's (a session joined to one) is its engine.
    return session.get_bind().engine


def fresh_words(session: Session, ids: Sequence[int]) -> list[Word]:
    """The words of the products among ``ids`` that are on sale now, read from the database, in
    catalogue order."""
    return on_sale_words_among(session, ids)


def shop_first(words: Sequence[Word], shop_id: int | None) -> Sequence[Word]:
    """The shop being browsed first: between two products of one name, its own is the one meant."""
    if not shop_id:
        return words
    return [w for w in words if w.shop_id == shop_id] + [w for w in words if w.shop_id != shop_id]
