"""The products nearest to words that matched nothing (「だいこを2本」, 「ぎゅうにゅ」), so a channel can
offer them as short numbered choices instead of only saying 「見つかりませんでした」.

Names are compared by reading, in the same loose form ``understand`` searches (``catalogue.loose``),
so speech recognition's near misses (a dropped ん, a lost voicing mark) still come close; the
quantity said with the word is carried over so that choosing adds what was asked for."""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Iterable, Sequence

from understanding import quantities as Q
from understanding.analyser import tokens
from understanding.catalogue import _base, loose
from understanding.lexicon import _clean_token, clean_reading
from understanding.result import Choice, Entry

MAX_NEAREST = 3          # three names are what a caller can hold in mind
NEAR_ENOUGH = 0.6        # below this the 「近いもの」 is a different word, and the menu is better
_PARTICLES = ("助詞", "助動詞", "補助記号", "空白")


def heard_name_and_quantity(words: str) -> tuple[str, int | None]:
    """「だいこを2本」 → (「だいこ」, 2): the reading before the first number, without particles."""
    name: list[str] = []
    quantity: int | None = None
    parts = list(tokens(words))
    for i, token in enumerate(parts):
        if token.numeral:
            rest = "".join(_clean_token(t.reading) for t in parts[i:])
            found = Q.leading_quantity(rest, bare_kana_ok=True)
            if found is not None and 1 <= found[0] <= Q.MAX_QUANTITY:
                quantity = found[0]
            break
        if token.pos not in _PARTICLES:
            name.append(_clean_token(token.reading))
    return "".join(name), quantity


def _score(heard: str, product: Entry) -> float:
    keys = {clean_reading(_base(product.name)), clean_reading(product.name)}
    kana = str(getattr(product, "kana", "") or "")
    if kana:
        keys |= {clean_reading(kana.replace(" ", "")), clean_reading(kana.split()[0])}
    said = loose(heard)
    return max((SequenceMatcher(None, said, loose(k)).ratio() for k in keys if k), default=0.0)


def nearest_products(catalogue: Iterable[Entry], words: str, *, limit: int = MAX_NEAREST,
                     cutoff: float = NEAR_ENOUGH) -> tuple[Choice, ...]:
    """Up to ``limit`` products whose name or reading is closest to ``words`` (best first, catalogue
    order between equals), as choices carrying the quantity said; () when none is near enough."""
    heard, quantity = heard_name_and_quantity(words)
    if len(heard) < 2:      # one syllable is near everything
        return ()
    scored: list[tuple[float, int, Entry]] = []
    seen: set[str] = set()
    for rank, product in enumerate(catalogue):
        score = _score(heard, product)
        if score >= cutoff:
            scored.append((score, rank, product))
    scored.sort(key=lambda row: (-row[0], row[1]))
    choices: list[Choice] = []
    for _, _, product in scored:
        if product.name in seen:     # the same name in two shops: the first (the shop being heard) is enough
            continue
        seen.add(product.name)
        choices.append(Choice(product.name, int(product.id), quantity, "order"))
        if len(choices) == limit:
            break
    return tuple(choices)


def heard_words(words: str) -> list[str]:
    """「めろん1個とだいこむを2本」 → 「めろん1個」, 「だいこむを2本」: an utterance that named nothing, cut
    where the analyser reads the particle と or a pause mark, so that each part is offered or said back
    (the name of the first part alone is not the whole utterance)."""
    parts: list[str] = []
    current = ""
    for token in tokens(words):
        if (token.pos == "助詞" and token.surface == "と") or token.surface in ("、", ",", "。", "・"):
            parts, current = parts + ([current] if current else []), ""
            continue
        current += token.surface
    return parts + ([current] if current else []) or ([words] if words else [])


def nearest_for(catalogue: Sequence[Entry], unmatched: Iterable[str]) -> tuple[str, tuple[Choice, ...]]:
    """The first unmatched words with anything near, and those choices; ("", ()) when none has."""
    for words in unmatched:
        choices = nearest_products(catalogue, words)
        if choices:
            return words, choices
    return "", ()
