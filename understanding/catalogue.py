"""The catalogue as ``understand`` searches it: every product under its names, kana readings,
synonyms and category words, in the loose form that typing and speech recognition leave."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Iterable

from understanding.analyser import width_fold as fold
from understanding.lexicon import clean_reading, has_kanji, lexicon
from understanding.result import Entry

# 「食パン（1斤）」「牛乳（1リットル）」: the brackets give the size of one, so 「食パン一斤」 names one of it.
_ONE_PIECE = re.compile(r"[（(]\s*[1１]\s*[^0-9０-９.．）)][^）)]*[)）]")
_PACK = re.compile(r"[（(]\s*([0-9０-９]+)\s*(個|本|枚|パック|ロール|箱|食|玉)(?:入り)?\s*[)）]")


# Typed on a phone by an older hand, and read by Sudachi with or without rendaku: 「ぎゅうにゆう」,
# 「はくさいつけ」 for 白菜漬 (はくさいづけ). Names are found in a loose form (small kana as large,
# no voicing marks) that keeps every character's position, so numbers are still read from the text.
_LOOSE = str.maketrans(
    "ぁぃぅぇぉっゃゅょゎがぎぐげござじずぜぞだぢづでどばびぶべぼぱぴぷぺぽゔ",
    "あいうえおつやゆよわかきくけこさしすせそたちつてとはひふへほはひふへほう")


def loose(text: str) -> str:
    return text.translate(_LOOSE)


def _match_form(key: str) -> str:
    # Short keys stay exact: loose 「ぱん」 would be the 「はん」 of 「はんぶん」.
    return loose(key) if len(key) >= 3 else key


@dataclass(frozen=True)
class _Product:
    id: int
    name: str
    base: str           # the name without the part in brackets
    unit: str
    category: str
    pack: tuple[int, str] | None   # 「卵（10個）」 → (10, "個")
    rank: int           # catalogue order: the earlier wins between equals
    reading: str
    exact: frozenset[str] = frozenset()   # loose readings of the full name and the full kana
    one: frozenset[str] = frozenset()     # the full name when its brackets say one piece: 食パン（1斤）


@dataclass(frozen=True)
class _Target:
    product_ids: tuple[int, ...]
    category: str | None = None


@dataclass
class _Index:
    products: dict[int, _Product]
    keys: list[tuple[str, _Target]]   # longest first
    by_base: dict[str, list[int]] = field(default_factory=dict)
    stems: list[tuple[str, _Target]] = field(default_factory=list)   # clipped names, longest first
    # Names and synonyms in kanji as written (folded) → the reading they are found by (``reading_spans``).
    written: dict[str, str] = field(default_factory=dict)


# A name said with its end clipped (「だいこ」 for だいこん, 「がんも」 for がんもどき, 「ほうれん」): at most
# two kana dropped, three kept, and only a clip that one product name alone begins with. Clips are of
# the exact readings, not the loose form: a clip and a lost voicing mark together (「たいこ」) is too far.
STEM_MIN, STEM_DROP = 3, 2


def _stems(keys: Iterable[tuple[str, _Target]], products: dict[int, _Product]) -> list[tuple[str, _Target]]:
    keys = list(keys)
    full = {key for key, _ in keys} | {loose(key) for key, _ in keys}
    found: dict[str, dict[frozenset[str], _Target]] = {}
    for key, target in keys:
        if target.category is not None:
            continue
        names = frozenset(products[i].name for i in target.product_ids)
        for length in range(max(STEM_MIN, len(key) - STEM_DROP), len(key)):
            found.setdefault(key[:length], {}).setdefault(names, target)
    # A clip that is itself a name is that name; a clip two products begin with is neither of them.
    stems = [(stem, next(iter(by_names.values()))) for stem, by_names in found.items()
             if stem not in full and len(by_names) == 1]
    return sorted(stems, key=lambda kv: len(kv[0]), reverse=True)


def _base(name: str) -> str:
    return re.sub(r"[（(\[].*?[)）\]]", "", name).strip()


def _keys_of(p: _Product, kana: str) -> set[str]:
    keys = {clean_reading(p.base), clean_reading(re.sub(r"[（）()]", "", p.name)), clean_reading(p.name)}
    if kana:
        keys.add(clean_reading(kana.replace(" ", "")))
        keys.add(clean_reading(kana.split()[0]))
        # 「りんご ふじ」 is said 「ふじのりんご」 too; 「はえぬき ごきろ」 with digits
        keys.add(clean_reading(fold(kana)))
    # One hiragana syllable would match inside ordinary words.
    return {k for k in keys if len(k) >= 2}


@functools.lru_cache(maxsize=32)    # one per catalogue order (a shop's own products first)
def _index(rows: tuple[tuple[int, str, str, str, str], ...]) -> _Index:
    products: dict[int, _Product] = {}
    table: dict[str, set[int]] = {}
    by_base: dict[str, list[int]] = {}
    categories: dict[str, list[int]] = {}
    for rank, (pid, name, kana, unit, category) in enumerate(rows):
        pack_match = _PACK.search(fold(name).replace("(", "（").replace(")", "）")) or _PACK.search(name)
        pack = (int(fold(pack_match.group(1))), pack_match.group(2)) if pack_match else None
        exact = frozenset(loose(k) for k in (clean_reading(name), clean_reading((kana or "").replace(" ", ""))) if k)
        one = frozenset({loose(clean_reading(name))}) if _ONE_PIECE.search(name) else frozenset()
        product = _Product(pid, name, _base(name), unit, category or "", pack, rank, clean_reading(name), exact, one)
        products[pid] = product
        for key in _keys_of(product, kana or ""):
            table.setdefault(key, set()).add(pid)
        by_base.setdefault(fold(product.base), []).append(pid)
        if category:
            categories.setdefault(category, []).append(pid)
    lex = lexicon()
    targets: dict[str, _Target] = {key: _Target(tuple(sorted(ids, key=lambda i: products[i].rank)))
                                   for key, ids in table.items()}
    for word, names in lex.products.items():
        ids = [pid for name in names for pid in by_base.get(fold(name), [])]
        if ids and word not in targets:
            targets[word] = _Target(tuple(dict.fromkeys(ids)))
        elif ids:
            merged = dict.fromkeys(targets[word].product_ids + tuple(ids))
            targets[word] = _Target(tuple(merged))
    for category, ids in categories.items():
        for part in re.split(r"[・/]", category):
            key = clean_reading(part)
            if len(key) >= 2 and key not in targets:
                targets[key] = _Target(tuple(ids), category)
    for word, category in lex.categories.items():
        ids = categories.get(category)
        if ids and word not in targets:
            targets[word] = _Target(tuple(ids), category)
    merged: dict[str, _Target] = {}
    for key, target in targets.items():
        lkey = _match_form(key)
        if lkey in merged and merged[lkey].category is None and target.category is None:
            ids = dict.fromkeys(merged[lkey].product_ids + target.product_ids)
            merged[lkey] = _Target(tuple(sorted(ids, key=lambda i: products[i].rank)))
        elif lkey not in merged or (merged[lkey].category is not None and target.category is None):
            merged[lkey] = target
    keys = sorted(merged.items(), key=lambda kv: len(kv[0]), reverse=True)
    # A size in the name (「つや姫 5kg」) is said as two words, each read on its own: not one word.
    written = dict(lex.written) | {fold(p.base): clean_reading(p.base) for p in products.values()
                                   if has_kanji(p.base) and not re.search(r"[0-9０-９\s]", p.base)}
    return _Index(products, keys, by_base, _stems(targets.items(), products), written)


def _rows(catalogue: Iterable[Entry]) -> tuple[tuple[int, str, str, str, str], ...]:
    return tuple((int(p.id), str(p.name), str(getattr(p, "kana", "") or ""), str(getattr(p, "unit", "") or ""),
                  str(getattr(p, "category", "") or "")) for p in catalogue)
