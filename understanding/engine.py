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
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Iterable, Mapping, Sequence

from core.errors import DomainError
from understanding import quantities as Q
from understanding.catalogue import _base, _Index, _Product, _Target, _index, _rows, loose
from understanding.lexicon import canonical_counter, clean_reading, reading_spans
from understanding.result import Ambiguity, Choice, Entry, Item, Understood


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
# 「10個入りを1パック」, お typed for を before a number (「だいこんお2本」), and the Yamagata/Tohoku
# object particle ば for を (「キャベツば1玉けろ」), only before a number: ば begins ばら, ばんそうこう.
_NUMBER_AHEAD = r"(?=[0-9一二三四五六七八九十]|ひと|ふた|いち|いっ|に|さん|よん|みっ)"
_PARTICLES = re.compile(r"^(?:を|は(?!ず|ん)|が|も(?!う)|いり(?:の|を|で)?" + _NUMBER_AHEAD + r"|お" + _NUMBER_AHEAD
                        + r"|ば" + _NUMBER_AHEAD + r"|、|,|。|・|って|っていう|というの|のほう)+")
_FILLER_WORDS = ("おねがいします", "おねがいいたします", "おねがい", "くださいな", "ください", "くれる", "くれ",
                 "ちょうだい", "ほしいです", "ほしい", "ほしいんですけど", "ほしいんだけど", "いただけますか",
                 "もらえますか", "もらえる", "たのみます", "たのむ", "とどけて", "おとどけ", "ですか", "です",
                 "ます", "でした", "だよ", "ね", "よ", "な", "えーと", "えっと", "えー", "あのう", "あのー", "あの",
                 "すみません", "すいません", "じゃあ", "では", "それから", "それと", "あとは", "かな", "けど",
                 "ずつ", "ぐらい", "くらい", "ほど", "を", "が", "は", "も", "と", "や", "の", "に", "で", "か",
                 "さん", "しゅるい", "お",
                 # Yamagata/Tohoku for くれ (「大根1本けろ」): a please, not a word to look up.
                 "けろ", "けれ")
_FILLER = re.compile("^(?:" + "|".join(sorted(map(re.escape, _FILLER_WORDS), key=len, reverse=True)) + ")+")


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
            stem = _stem_at(said, pos, index, starts, ends)
            if stem is not None:
                hits.append(stem)
                pos = stem[1]
            else:
                pos += 1
    return hits


def _stem_at(said: str, pos: int, index: _Index, starts: frozenset[int],
             ends: frozenset[int]) -> tuple[int, int, _Target] | None:
    """A clipped name (「だいこ2本」「がんも3こ」): whole words, and a number said right after it, so that
    an ordinary word that happens to begin a name (「ほうれん」 in a sentence) is not an order."""
    if not starts or pos not in starts:
        return None
    for stem, target in index.stems:
        end = pos + len(stem)
        if end in ends and said.startswith(stem, pos):
            ahead = _PARTICLES.sub("", said[end:])
            if Q.leading_quantity(ahead, bare_kana_ok=False) is not None:
                return pos, end, target
    return None


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
    rest = re.sub(r"(?:し|して|した|する|しい|たい|ます|まし|ください|ほしい|おねがい|です|ちょうだい|けろ|けれ|て|だ)+$",
                  "", rest)
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
    pending: list[str] = []     # one question at a time: the others are named, not dropped
    for mention in mentions:
        found = _candidates(index, mention, basket, shown)
        said_word = mention.word
        op = "set" if mention.op == "reduce" else mention.op
        if len(found) != 1:
            bases = {_base(p.name) for p in found}
            what = mention.target.category or (bases.pop() if len(bases) == 1 else said_word)
            if ambiguity is None:
                choices = tuple(Choice(_label(p, mention.quantity if _fits(p, mention.counter) else None), p.id,
                                       mention.quantity if _fits(p, mention.counter) else None,
                                       "order" if op == "remove" else op) for p in found)
                ambiguity = Ambiguity("product", f"{what}は{len(found)}種類あります。どれにしますか？", choices,
                                      category=mention.target.category)
            else:
                pending.append(what)
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
            else:
                pending.append(_base(p.name))
            continue
        if mention.quantity is None and loose(said_word) in p.one:
            # 「食パン一斤」「牛乳1リットル」: the size in the name's brackets, said with no other number, is one.
            mention.quantity = 1
        if mention.quantity is None:
            if ambiguity is None:
                ambiguity = Ambiguity("quantity", f"{p.name}をいくつにしますか？",
                                      tuple(Choice(f"{n}{p.unit}", p.id, n, op if held else "order")
                                            for n in (1, 2, 3, 4, 5)), product_id=p.id)
            else:
                pending.append(_base(p.name))
            continue
        unit_question = _unit_question(p, mention.quantity, mention.counter, op if held else "order")
        if unit_question is not None:
            if ambiguity is not None:
                pending.append(_base(p.name))
            ambiguity = ambiguity or unit_question
            continue
        if held and op == "order":
            if ambiguity is None:
                q = mention.quantity
                ambiguity = Ambiguity(
                    "in_basket", f"{p.name}は、かごに{current}{p.unit}入っています。どうしますか？",
                    (Choice(f"合わせて{current + q}{p.unit}にする", pid, q, "add"),
                     Choice(f"{q}{p.unit}にする", pid, q, "set")), product_id=pid)
            else:
                pending.append(_base(p.name))
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
    return Understood(intent, tuple(items), ambiguity, problem, unmatched, text, tuple(dict.fromkeys(pending)))


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
