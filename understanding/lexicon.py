"""The product-synonym table (``synonyms.csv``, data in the repo) read once, by reading."""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from understanding.analyser import tokens, width_fold
from understanding.asking import roles

SYNONYMS = Path(__file__).with_name("synonyms.csv")


@dataclass(frozen=True)
class Lexicon:
    products: dict[str, tuple[str, ...]]   # reading → product names (without the part in brackets)
    categories: dict[str, str]             # reading → category
    counters: dict[str, str]               # counter as the parser returns it (folded/reading) → canonical
    # (counter, category) → canonical: 「しおざけ2切れ」 is 2枚 of fish, not of everything sold by the 枚.
    scoped_counters: dict[tuple[str, str], str]
    written: dict[str, str]                # a word in kanji as written (folded) → its reading alone


_SIGNS = str.maketrans("", "", "・･、,。.!?「」『』()[]〜~♪")


def _clean_token(reading: str) -> str:
    return reading.translate(_SIGNS).replace("きろぐらむ", "kg").replace("きろ", "kg")


_KANJI = re.compile(r"[\u3400-\u9fff々]")
_LONGEST_WORD = 4    # tokens a name written in kanji is split into (「木綿」「豆腐」), at most


def has_kanji(word: str) -> bool:
    return bool(_KANJI.search(word))


def reading_spans(text: str, written: Mapping[str, str] | None = None
                  ) -> tuple[str, tuple[tuple[int, int, str], ...]]:
    """The clean reading and its words (Sudachi's tokens) as (start, end, as written); see ``read``."""
    said, spans, _ = read(text, written)
    return said, spans


def read(text: str, written: Mapping[str, str] | None = None
         ) -> tuple[str, tuple[tuple[int, int, str], ...], frozenset[int]]:
    """The clean reading, its words (Sudachi's tokens) as (start, end, as written), and where in the
    reading the resident typed a space (a word boundary no product word spans); see ``read_words``."""
    said, spans, breaks, _ = read_words(text, written)
    return said, spans, breaks


def read_words(text: str, written: Mapping[str, str] | None = None
               ) -> tuple[str, tuple[tuple[int, int, str], ...], frozenset[int], dict[int, str]]:
    """``read``, and each word's role in asking (by where it begins: 「買っ」 begins a request,
    「てけろ」 goes on one, 「ねぇ」 ends a sentence; ``understanding.asking``), so that a request is
    never said back as not found; a run read as one written word has no role.

    ``written``: known words in kanji (folded) → their reading. Sudachi picks a kanji word's reading
    from its neighbours (「大根」 alone is だいこん, but おおね in 「大根さんぼん」「大根ばなな」), so a
    word written exactly as a product or synonym is read the way that word reads alone, whatever the
    context; the longest run of tokens that spells one wins."""
    words = tokens(text)
    parts = [(token.surface, _clean_token(token.reading)) for token in words]
    out, spans, breaks, tags, pos, i = [], [], set(), [], 0, 0
    while i < len(parts):
        surface, part = parts[i]
        word = words[i]
        tag = (word.surface, "" if word.numeral else word.pos, word.pos2, word.lemma)
        if words[i].spaced:
            breaks.add(pos)
        # A run of tokens is one written word only within what was typed without a space.
        longest = next((k for k in range(i + 1, len(parts)) if words[k].spaced), len(parts))
        for j in range(min(longest, i + _LONGEST_WORD), i, -1):
            run = "".join(s for s, _ in parts[i:j])
            if written and run in written:
                surface, part, i, tag = run, written[run], j, (run, "", "", "")
                break
        else:
            i += 1
        if not part:
            continue
        tags.append(tag)
        spans.append((pos, pos + len(part), surface))
        pos += len(part)
        out.append(part)
    return "".join(out), tuple(spans), frozenset(breaks), {
        start: role for (start, _, _), role in zip(spans, roles(tags))}


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
    scoped: dict[tuple[str, str], str] = {}
    written: dict[str, str] = {}
    with SYNONYMS.open(encoding="utf-8") as handle:
        rows = [row for row in csv.reader(line for line in handle if line.strip() and not line.startswith("#"))]
    for word, kind, target, *scope in rows:
        if kind == "counter" and scope and scope[0]:
            scoped[(word, scope[0])] = target
            scoped[(clean_reading(word), scope[0])] = target
            continue
        if kind == "counter":
            counters[word] = target
            counters[clean_reading(word)] = target
            continue
        key = clean_reading(word)
        if has_kanji(word):
            written[width_fold(word)] = key
        if kind == "product":
            products[key] = tuple(dict.fromkeys(products.get(key, ()) + tuple(target.split("|"))))
        elif kind == "category":
            categories[key] = target
    return Lexicon(products, categories, counters, scoped, written)


def canonical_counter(counter: str | None, category: str = "") -> str | None:
    """The counter as the catalogue's units name it; ``category``: the product's, for a counter that
    means a unit only for some goods (切れ is a 枚 of fish)."""
    if counter is None:
        return None
    lex = lexicon()
    if category:
        for form in (counter, clean_reading(counter)):
            if (form, category) in lex.scoped_counters:
                return lex.scoped_counters[(form, category)]
    table = lex.counters
    return table.get(counter) or table.get(clean_reading(counter)) or counter
