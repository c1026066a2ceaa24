"""The product-synonym table (``synonyms.csv``, data in the repo) read once, by reading."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

from understanding.analyser import tokens

SYNONYMS = Path(__file__).with_name("synonyms.csv")


@dataclass(frozen=True)
class Lexicon:
    products: dict[str, tuple[str, ...]]   # reading → product names (without the part in brackets)
    categories: dict[str, str]             # reading → category
    counters: dict[str, str]               # counter as the parser returns it (folded/reading) → canonical


_SIGNS = str.maketrans("", "", "・･、,。.!?「」『』()[]〜~♪")


def _clean_token(reading: str) -> str:
    return reading.translate(_SIGNS).replace("きろぐらむ", "kg").replace("きろ", "kg")


def reading_spans(text: str) -> tuple[str, tuple[tuple[int, int, str], ...]]:
    """The clean reading and its words (Sudachi's tokens) as (start, end, as written)."""
    out, spans, pos = [], [], 0
    for token in tokens(text):
        part = _clean_token(token.reading)
        if not part:
            continue
        spans.append((pos, pos + len(part), token.surface))
        pos += len(part)
        out.append(part)
    return "".join(out), tuple(spans)


def reading_with_bounds(text: str) -> tuple[str, frozenset[int], frozenset[int]]:
    """The clean reading and where its words (Sudachi's tokens) start and end."""
    said, spans = reading_spans(text)
    return said, frozenset(s for s, _, _ in spans), frozenset(e for _, e, _ in spans)


def clean_reading(text: str) -> str:
    """A reading for comparing: no dots or punctuation, キロ/キログラム as kg."""
    return reading_with_bounds(text)[0]


@functools.cache
def lexicon() -> Lexicon:
    products: dict[str, tuple[str, ...]] = {}
    categories: dict[str, str] = {}
    counters: dict[str, str] = {}
    with SYNONYMS.open(encoding="utf-8") as handle:
        rows = [row for row in csv.reader(line for line in handle if line.strip() and not line.startswith("#"))]
    for word, kind, target in rows:
        if kind == "counter":
            counters[word] = target
            counters[clean_reading(word)] = target
            continue
        key = clean_reading(word)
        if kind == "product":
            products[key] = tuple(dict.fromkeys(products.get(key, ()) + tuple(target.split("|"))))
        elif kind == "category":
            categories[key] = target
    return Lexicon(products, categories, counters)


def canonical_counter(counter: str | None) -> str | None:
    if counter is None:
        return None
    table = lexicon().counters
    return table.get(counter) or table.get(clean_reading(counter)) or counter
