"""``understand(catalogue, text)``: what a resident meant, as one typed result both channels render.

The text is read by the analyser (``understanding.analyser``) into hiragana with digits, and the
catalogue's names, kana readings and the synonym table (``synonyms.csv``) are read the same way, so
that spelling (kanji, kana, width) no longer matters. Products are found longest-match first; what
follows each one says how many (``quantities``) and what to do (order, set to, add, remove). Before a
quantity is placed it is checked against how the product is sold: 「卵2個」 when eggs come in packs of
10, 「りんご」 when three kinds are for sale, 「大根2本」 when 2 are already in the basket. Each such case
comes back as an ``Ambiguity`` with one short question and the likely answers, never as a guess.
"""

from __future__ import annotations

import csv
import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Iterable, Mapping, Protocol, Sequence

from otodoke.errors import DomainError
from understanding import quantities as Q
from understanding.analyser import width_fold as fold
from understanding.lexicon import canonical_counter, clean_reading, lexicon, reading_spans


class Entry(Protocol):
    """What the layer needs of a product (``shops.models.Product`` and the LINE word cache have it)."""

    id: int
    name: str
    kana: str
    unit: str
    category: str


@dataclass(frozen=True)
class Choice:
    label: str                 # what the resident sees or hears: 「1パック（10個）」
    product_id: int
    quantity: int | None       # None: ask how many next
    op: str = "order"          # order | set | add


@dataclass(frozen=True)
class Ambiguity:
    kind: str                  # product | unit | quantity (none said) | number (two said) | in_basket
    question: str
    choices: tuple[Choice, ...] = ()
    product_id: int | None = None
    category: str | None = None   # the resident named a kind of item (「お米」)


@dataclass(frozen=True)
class Item:
    product_id: int
    name: str
    unit: str
    quantity: int              # order/add: how many more; set: the new number; remove: 0
    op: str = "order"          # order | set | add | remove


@dataclass(frozen=True)
class Understood:
    intent: str                # greet menu shops basket back order_items usual check change_set change_add
    #                            change_remove cancel help talk_to_person yes no unknown
    items: tuple[Item, ...] = ()
    ambiguity: Ambiguity | None = None
    problem: str = ""          # a sentence to say as is (「半分などの量は承れません…」)
    unmatched: tuple[str, ...] = ()
    text: str = ""

    @property
    def asks(self) -> bool:
        return self.ambiguity is not None or bool(self.problem)


# --- intents without a product -----------------------------------------------------------------------

# Intents in the order they are tried: 「注文を取り消したい」 is a cancel, not a new order; 「人と話したい」
# beats help; a greeting is only a greeting when nothing else was asked (「こんにちは、いつもの」).
INTENT_ORDER = ("talk_to_person", "cancel", "check", "usual", "help", "menu", "basket", "shops", "back", "greet")
# These win over a product word (「人と話したい」 has 花 in it); cancel, order and greetings do not.
_STRONG = ("talk_to_person", "check", "usual", "help", "menu")
WORDS = Path(__file__).with_name("words.csv")


@functools.cache
def _words() -> dict[str, tuple[str, ...]]:
    """``words.csv``: kind → its words (readings), in file order."""
    table: dict[str, list[str]] = {}
    with WORDS.open(encoding="utf-8") as handle:
        for row in csv.reader(line for line in handle if line.strip() and not line.startswith("#")):
            table.setdefault(row[0], []).append(row[1])
    return {kind: tuple(words) for kind, words in table.items()}


def _w(kind: str) -> tuple[str, ...]:
    return _words().get(kind, ())


# Between a product and its number: particles (not the は of はずして, not the も of もう), 入り of
# 「10個入りを1パック」, and お typed for を before a number (「だいこんお2本」).
_NUMBER_AHEAD = r"(?=[0-9一二三四五六七八九十]|ひと|ふた|いち|いっ|に|さん|よん|みっ)"
_PARTICLES = re.compile(r"^(?:を|は(?!ず|ん)|が|も(?!う)|いり(?:の|を|で)?" + _NUMBER_AHEAD + r"|お" + _NUMBER_AHEAD
                        + r"|、|,|。|・|って|っていう|というの|のほう)+")
_FILLER_WORDS = ("おねがいします", "おねがいいたします", "おねがい", "くださいな", "ください", "くれる", "くれ",
                 "ちょうだい", "ほしいです", "ほしい", "ほしいんですけど", "ほしいんだけど", "いただけますか",
                 "もらえますか", "もらえる", "たのみます", "たのむ", "とどけて", "おとどけ", "ですか", "です",
                 "ます", "でした", "だよ", "ね", "よ", "な", "えーと", "えっと", "えー", "あのう", "あのー", "あの",
                 "すみません", "すいません", "じゃあ", "では", "それから", "それと", "あとは", "かな", "けど",
                 "ずつ", "ぐらい", "くらい", "ほど", "を", "が", "は", "も", "と", "や", "の", "に", "で", "か",
                 "さん", "しゅるい", "お")
_FILLER = re.compile("^(?:" + "|".join(sorted(map(re.escape, _FILLER_WORDS), key=len, reverse=True)) + ")+")
_PACK = re.compile(r"[（(]\s*([0-9０-９]+)\s*(個|本|枚|パック|ロール|箱|食|玉)(?:入り)?\s*[)）]")


def _clean(fragment: str) -> str:
    """Drop politeness, particles and fillers from both ends; what is left means something."""
    previous = None
    while previous != fragment:
        previous = fragment
        fragment = _FILLER.sub("", fragment)
        for word in sorted(_FILLER_WORDS, key=len, reverse=True):
            if fragment.endswith(word) and len(fragment) > len(word):
                fragment = fragment[: -len(word)]
                break
        fragment = fragment.strip("、,。.!?ー〜 ")
    return fragment if fragment not in _FILLER_WORDS else ""


def normalise(text: str) -> str:
    """The comparison form of an utterance: NFKC width folding, readings (hiragana, digits for
    numbers), no punctuation, no polite fillers (お願いします, ください, を)."""
    return _clean(clean_reading(text))


# --- the catalogue, indexed by reading --------------------------------------------------------------

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


@dataclass(frozen=True)
class _Target:
    product_ids: tuple[int, ...]
    category: str | None = None


@dataclass
class _Index:
    products: dict[int, _Product]
    keys: list[tuple[str, _Target]]   # longest first
    by_base: dict[str, list[int]] = field(default_factory=dict)


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
        product = _Product(pid, name, _base(name), unit, category or "", pack, rank, clean_reading(name), exact)
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
    return _Index(products, keys, by_base)


def _rows(catalogue: Iterable[Entry]) -> tuple[tuple[int, str, str, str, str], ...]:
    return tuple((int(p.id), str(p.name), str(getattr(p, "kana", "") or ""), str(getattr(p, "unit", "") or ""),
                  str(getattr(p, "category", "") or "")) for p in catalogue)


# --- understanding ---------------------------------------------------------------------------------

def _intent_of(said: str) -> str:
    core = _clean(said)
    if core in _w("yes") or said in _w("yes"):
        return "yes"
    if core in _w("no") or said in _w("no"):
        return "no"
    for intent in INTENT_ORDER:
        if any(word in said for word in _w(intent)):
            return intent
    return "unknown"


def _has(text: str, words: Sequence[str]) -> bool:
    return any(word in text for word in words)


@dataclass
class _Said:
    """One product mention and what was said around it."""

    target: _Target
    start: int
    end: int
    quantity: int | None = None
    counter: str | None = None
    size_kg: int | None = None
    op: str = "order"
    leftover: str = ""
    word: str = ""
    second: int | None = None      # 「大根2本、やっぱり3本」: another number after the first


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


def _mentions(said: str, index: _Index, starts: frozenset[int] = frozenset(),
              ends: frozenset[int] = frozenset()) -> list[tuple[int, int, _Target]]:
    relaxed = loose(said)
    hits, pos = [], 0
    while pos < len(said):
        if pos:
            # 「油揚げをさんまい」: a number with its counter is not the さんま in it.
            counted = Q.leading_quantity(said[pos:], bare_kana_ok=False)
            if counted is not None and counted[1] is not None:
                pos += counted[2]
                continue
        for key, target in index.keys:
            # A short word counts only as a whole word: the かし (菓子) in 「ついかして」 does not.
            if len(key) <= 3 and starts and (pos not in starts or pos + len(key) not in ends):
                continue
            if (relaxed if len(key) >= 3 else said).startswith(key, pos):
                hits.append((pos, pos + len(key), target))
                pos += len(key)
                break
        else:
            pos += 1
    return hits


def _quantity(text: str, more_follows: bool) -> tuple[int, str | None, int] | None:
    found = Q.leading_quantity(text, bare_kana_ok=False)
    if found is not None:
        return found
    loose = Q.leading_quantity(text, bare_kana_ok=True)
    if loose is None:
        return None
    rest = text[loose[2]:]
    # 「大根をに」 at the end is 2; 「大根に人参」 is a particle.
    if _clean(rest) or (more_follows and loose[2] == 1):
        return None
    return loose


def _parse_segment(mention: _Said, segment: str, more_follows: bool) -> None:
    if Q.is_fraction(segment[:5]):
        raise Q.refuse_fraction()
    s = segment if segment.startswith(_w("add_before")) else _PARTICLES.sub("", segment)
    for word in _w("add_before"):
        if s.startswith(word) and not s.startswith("もういい") and not s.startswith("もういら"):
            mention.op, s = "add", _PARTICLES.sub("", s[len(word):])
            break
    if Q.is_fraction(s[:4]):
        raise Q.refuse_fraction()
    found = _quantity(s, more_follows)
    if found is not None:
        value, counter, length = found
        s = s[length:]
        if canonical_counter(counter) == "kg":
            mention.size_kg = value
            s = re.sub(r"^(?:の|を|が|は|、)+", "", s)
            again = _quantity(s, more_follows)
            if again is not None:
                value, counter, length = again
                s = s[length:]
                mention.quantity, mention.counter = value, counter
        else:
            mention.quantity, mention.counter = value, counter
    rest = s
    if _has(rest, _w("reduce")):
        mention.op = "reduce"
    elif _has(rest, _w("remove")) and not _has(rest, ("やめないで",)):
        mention.op = "remove"
    elif _has(rest, _w("add_after")):
        mention.op = "add"
    elif mention.quantity is not None and (_has(rest, _w("set")) or rest in ("に", "にね")) and mention.op != "add":
        mention.op = "set"
    for words in (_w("reduce"), _w("remove"), _w("add_after"), _w("set")):
        for word in sorted(words, key=len, reverse=True):
            rest = rest.replace(word, "")
    rest = re.sub(r"(?:し|して|した|する|しい|たい|ます|まし|ください|ほしい|おねがい|です|ちょうだい|て|だ)+$", "", rest)
    mention.leftover = _clean(rest)
    if mention.quantity is not None:
        for start in range(len(rest)):
            again = Q.leading_quantity(rest[start:], bare_kana_ok=False)
            if again is not None and (again[1] is not None or rest[start].isdigit()):
                # Only a correction (「やっぱり3本」「いや、3本」); 「とメロン1個」 is another item.
                between = re.sub(r"やっぱり|やっぱ|いや|じゃなくて|ではなくて|ちがう|ちがった|まちがえ|あっ|あ", "",
                                 rest[:start])
                if not _clean(between):
                    mention.second = again[0]
                break


def understand(catalogue: Sequence[Entry] | Iterable[Entry], text: str, *,
               basket: Mapping[int, int] | None = None, shown: Collection[int] = ()) -> Understood:
    """What ``text`` asks for, against ``catalogue`` (on-sale products, in catalogue order) and the
    resident's ``basket`` (product id → quantity), for change/remove and for 「already in the basket」.
    ``shown``: the products on the screen or in the list just heard; of two that fit the words, the
    one the resident is looking at (or listening to) is the one meant."""
    said, spans = reading_spans(text)
    starts, ends = frozenset(s for s, _, _ in spans), frozenset(e for _, e, _ in spans)
    basket = dict(basket or {})
    if not said:
        return Understood("unknown", text=text)
    index = _index(_rows(catalogue))
    hits = _mentions(said, index, starts, ends)
    intent = _intent_of(said)
    # 「人と話したい」 has 花 (はな) in it, 「いつもの注文」 and 「注文の確認」 no product at all: these
    # intents win over a product word; cancel, order and greetings do not (「大根をキャンセル」).
    if not hits or intent in _STRONG:
        return Understood(intent, text=text)
    mentions: list[_Said] = []
    unmatched: list[str] = []
    cursor = 0
    try:
        for number, (start, end, target) in enumerate(hits):
            mention = _Said(target, start, end, word=said[start:end])
            before = said[cursor:start]
            following = hits[number + 1][0] if number + 1 < len(hits) else len(said)
            _parse_segment(mention, said[end:following], more_follows=number + 1 < len(hits))
            # 「2本の大根」: the quantity comes first, with の.
            if mention.quantity is None and before.endswith("の"):
                found = Q.leading_quantity(before[:-1], bare_kana_ok=True)
                if found is not None and found[2] == len(before) - 1:
                    mention.quantity, mention.counter, before = found[0], found[1], ""
            head = _clean(before)
            if head and number == 0:
                intent = _intent_of(head)
                if intent in ("cancel",) and mention.op == "order":
                    mention.op = "remove"
                elif intent == "unknown":
                    unmatched.append(_as_written(said, spans, head, cursor, start))
            elif head:
                unmatched.append(_as_written(said, spans, head, cursor, start))
            if mention.leftover:
                # Every word left over is said back (「メロン1個」は見つかりませんでした), never dropped.
                unmatched.append(_as_written(said, spans, mention.leftover, end, following))
            if mention.quantity is not None:
                Q.check_range(mention.quantity)
            mentions.append(mention)
            cursor = following
    except DomainError as error:
        return Understood("order_items", problem=error.message, text=text)
    # 「あんパンとカレーパンを1個ずつ」: the last number is each one's.
    last = mentions[-1]
    if last.quantity is not None and said.rstrip("。、").endswith(("ずつ", "ずつください", "ずつおねがいします")):
        for mention in mentions[:-1]:
            if mention.quantity is None and mention.op == "order":
                mention.quantity, mention.counter = last.quantity, last.counter
    return _resolve(index, mentions, basket, frozenset(shown), tuple(unmatched), text)


def _as_written(said: str, spans: Sequence[tuple[int, int, str]], fragment: str, lo: int, hi: int) -> str:
    """The words of ``fragment`` (found in ``said[lo:hi]``) as the resident wrote them."""
    at = said.find(fragment, lo, hi)
    if at < 0:
        return fragment
    words = [surface for start, end, surface in spans if start < at + len(fragment) and end > at]
    return "".join(words) or fragment


def _in_basket(index: _Index, ids: Sequence[int], basket: Mapping[int, int]) -> list[int]:
    names = {index.products[i].name for i in ids}
    return [pid for pid in basket if pid in index.products and (pid in ids or index.products[pid].name in names)]


def _candidates(index: _Index, mention: _Said, basket: Mapping[int, int], shown: frozenset[int]) -> list[_Product]:
    """One product per distinct name (大根 sold by three shops is one thing to the resident): the one in
    the basket, else the first in the catalogue (the caller's order)."""
    ids = list(mention.target.product_ids)
    chosen: dict[str, _Product] = {}
    for pid in ids:
        p = index.products[pid]
        current = chosen.get(p.name)
        if current is None or _preference(p, basket) < _preference(current, basket):
            chosen[p.name] = p
    found = sorted(chosen.values(), key=lambda p: p.rank)
    if mention.size_kg is not None:
        sized = [p for p in found if f"{mention.size_kg}kg" in p.reading]
        if sized:
            found = sized
            if mention.quantity is None or canonical_counter(mention.counter) == "kg":
                mention.counter = None
    if len(found) > 1 and mention.counter is not None:
        wanted = canonical_counter(mention.counter)
        same = [p for p in found if p.unit == wanted]
        if not same and wanted in ("個", "つ"):
            same = [p for p in found if p.unit == "個" and p.pack is None]
        if same:
            found = same
    if len(found) > 1:
        # 「青菜漬」 is the one called exactly that, not 「青菜漬（手づくり）」.
        exact = [p for p in found if loose(mention.word) in p.exact]
        if len(exact) == 1:
            found = exact
    if len(found) > 1 and mention.op != "order":
        held = [p for p in found if _in_basket(index, [p.id], basket)]
        if held:
            found = held
    if len(found) > 1 and shown:
        # 「卵を2パック」 while hearing a list with 「卵 6個入り」 in it: that one.
        looking = [p for p in found if p.id in shown]
        if len(looking) == 1:
            found = looking
    return found


def _preference(p: _Product, basket: Mapping[int, int]) -> tuple[int, int]:
    return (0 if p.id in basket else 1, p.rank)


def _label(p: _Product, quantity: int | None) -> str:
    return f"{p.name} {quantity}{p.unit}" if quantity else p.name


def _resolve(index: _Index, mentions: list[_Said], basket: Mapping[int, int], shown: frozenset[int],
             unmatched: tuple[str, ...], text: str) -> Understood:
    items: list[Item] = []
    ambiguity: Ambiguity | None = None
    problem = ""
    for mention in mentions:
        found = _candidates(index, mention, basket, shown)
        said_word = mention.word
        op = "set" if mention.op == "reduce" else mention.op
        if len(found) != 1:
            if ambiguity is None:
                bases = {_base(p.name) for p in found}
                what = mention.target.category or (bases.pop() if len(bases) == 1 else said_word)
                choices = tuple(Choice(_label(p, mention.quantity if _fits(p, mention.counter) else None), p.id,
                                       mention.quantity if _fits(p, mention.counter) else None,
                                       "order" if op == "remove" else op) for p in found)
                ambiguity = Ambiguity("product", f"{what}は{len(found)}種類あります。どれにしますか？", choices,
                                      category=mention.target.category)
            continue
        p = found[0]
        held = _in_basket(index, [p.id], basket)
        current = basket.get(held[0], 0) if held else 0
        pid = held[0] if held else p.id
        if mention.op == "remove":
            if not held:
                problem = problem or f"かごに{_base(p.name)}は入っていません。"
                continue
            items.append(Item(pid, p.name, p.unit, 0, "remove"))
            continue
        if mention.op == "reduce":
            if not held:
                problem = problem or f"かごに{_base(p.name)}は入っていません。"
                continue
            new = current - (mention.quantity or 1)
            items.append(Item(pid, p.name, p.unit, max(new, 0), "remove" if new <= 0 else "set"))
            continue
        if mention.second is not None and mention.second != mention.quantity:
            if ambiguity is None:
                ambiguity = Ambiguity("number", f"{p.name}は{mention.quantity}{p.unit}と{mention.second}{p.unit}の"
                                      "どちらにしますか？",
                                      tuple(Choice(f"{n}{p.unit}", p.id, n, op if held else "order")
                                            for n in (mention.quantity, mention.second)), product_id=p.id)
            continue
        if mention.quantity is None:
            if ambiguity is None:
                ambiguity = Ambiguity("quantity", f"{p.name}をいくつにしますか？",
                                      tuple(Choice(f"{n}{p.unit}", p.id, n, op if held else "order")
                                            for n in (1, 2, 3, 4, 5)), product_id=p.id)
            continue
        unit_question = _unit_question(p, mention.quantity, mention.counter, op if held else "order")
        if unit_question is not None:
            ambiguity = ambiguity or unit_question
            continue
        if held and op == "order":
            if ambiguity is None:
                q = mention.quantity
                ambiguity = Ambiguity(
                    "in_basket", f"{p.name}は、かごに{current}{p.unit}入っています。どうしますか？",
                    (Choice(f"合わせて{current + q}{p.unit}にする", pid, q, "add"),
                     Choice(f"{q}{p.unit}にする", pid, q, "set")), product_id=pid)
            continue
        if not held:
            op = "order"
        items.append(Item(pid, p.name, p.unit, mention.quantity, op))
    ops = [i.op for i in items] + ([ambiguity.choices[0].op] if ambiguity and ambiguity.choices
                                   and ambiguity.kind != "in_basket" else [])
    changed = next((o for o in ops if o != "order"), "order")
    intent = "order_items" if changed == "order" else f"change_{changed}"
    if not items and ambiguity is None and problem and all(m.op in ("remove", "reduce") for m in mentions):
        intent = "change_remove"
    return Understood(intent, tuple(items), ambiguity, problem, unmatched, text)


def _fits(p: _Product, counter: str | None) -> bool:
    c = canonical_counter(counter)
    return c is None or c == p.unit or (c in ("個", "つ") and p.pack is None)


def _unit_question(p: _Product, quantity: int, counter: str | None, op: str) -> Ambiguity | None:
    """「卵2個」 when a pack holds 10: 1 pack or 2? 「牛乳2パック」 when milk is sold by the 本: 2本?"""
    c = canonical_counter(counter)
    if c is None or c == p.unit:
        return None
    base = _base(p.name)
    # 「トイレットペーパー1つ」 is one pack; 「卵ふたつ」 may be two eggs: ask when the pieces are counted
    # the way the resident counted.
    if p.pack is not None and (c == p.pack[1] or (c in ("個", "つ") and p.pack[1] == "個")):
        size, piece = p.pack
        likely = sorted({max(1, math.ceil(quantity / size)), quantity})
        return Ambiguity("unit", f"{base}は{size}{piece}入り1{p.unit}です。何{p.unit}にしますか？",
                         tuple(Choice(f"{n}{p.unit}（{n * size}{piece}）", p.id, n, op) for n in likely),
                         product_id=p.id)
    if c == "個" and p.unit in ("パック", "袋"):
        # 「卵2個」 of eggs sold by the パック, 「みかん2個」 by the 袋: pieces or packs?
        return Ambiguity("unit", f"{base}は1{p.unit}ずつのお届けです。{quantity}{p.unit}にしますか？",
                         (Choice(f"{quantity}{p.unit}", p.id, quantity, op),), product_id=p.id)
    if c in ("個", "つ"):
        return None   # 「大根2個」「納豆ふたつ」: 個 and つ count anything else
    return Ambiguity("unit", f"{base}は1{p.unit}ずつのお届けです。{quantity}{p.unit}にしますか？",
                     (Choice(f"{quantity}{p.unit}", p.id, quantity, op),), product_id=p.id)
