"""The scanner: an utterance's reading (``lexicon.reading_spans``) into product mentions and what was
said around each one (how many, set/add/remove), plus the words that named nothing. No catalogue
decision is made here: which product, and whether to ask, is ``understanding.resolver``.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from understanding import quantities as Q
from understanding.asking import trimmed
from understanding.catalogue import _Index, _Target, loose
from understanding.lexicon import canonical_counter, clean_reading


# What each intent means for the resident, and the shops/menu rule for "what is there?": words.csv.
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


# Between a product and its number: particles (not the は of はずして or はっぽん, not the も of もう), and three
# that count only before a number: 入り of 「10個入りを1パック」, お typed for を (「だいこんお2本」), and
# the Yamagata/Tohoku object particle ば for を (「キャベツば1玉けろ」「だいこんばごほん」); ば also
# begins ばなな, ばら, ばんそうこう. "A number" is what ``quantities`` reads as one, not a list kept here.
_PLAIN_PARTICLES = re.compile(r"^(?:を|は(?!ず|ん|っ)|が|も(?!う)|、|,|。|・|って|っていう|というの|のほう)")
_BEFORE_A_NUMBER = re.compile(r"^(?:いり(?:の|を|で)?|お|ば)")


def _number_ahead(text: str, at: int, starts: frozenset[int]) -> bool:
    """Whether a number begins ``text`` (found at ``at`` in the reading): one with its counter or in
    digits/kanji (「ごほん」「5本」「一本」「ひとつ」) always; a bare kana one (「に」「なな」) only where
    the analyser begins a word, so that the なな inside 「ばなな」 is not 7. Whether a bare kana number
    really is the quantity is decided later (``_quantity``), as after any other particle."""
    if Q.leading_quantity(text, bare_kana_ok=False) is not None:
        return True
    return at in starts and Q.leading_quantity(text, bare_kana_ok=True) is not None


def _strip_particles(text: str, at: int = 0, starts: frozenset[int] = frozenset()) -> str:
    """``text`` (at ``at`` in the reading, whose words begin at ``starts``) without the particles
    in front of its number."""
    whole, previous = len(text), None
    while previous != text:
        previous = text
        if _number_ahead(text, at + whole - len(text), starts):
            break   # the は of 「はち」 (8) after 「りんごば」 is the number, not a particle
        text = _PLAIN_PARTICLES.sub("", text)    # one at a time, so that the check above sees each
        head = _BEFORE_A_NUMBER.match(text)
        if head and _number_ahead(text[head.end():], at + whole - len(text) + head.end(), starts):
            text = text[head.end():]
    return text


_FILLER_WORDS = ("おねがいします", "おねがいいたします", "おねがい", "くださいな", "ください", "くれる", "くれ",
                 "ちょうだい", "ほしいです", "ほしい", "ほしいんですけど", "ほしいんだけど", "いただけますか",
                 "もらえますか", "もらえる", "たのみます", "たのむ", "とどけて", "おとどけ", "ですか", "です",
                 "ます", "でした", "だよ", "ね", "よ", "な", "えーと", "えっと", "えー", "あのう", "あのー", "あの",
                 "すみません", "すいません", "じゃあ", "では", "それから", "それと", "あとは", "かな", "けど",
                 "ずつ", "ぐらい", "くらい", "ほど", "を", "が", "は", "も", "と", "や", "の", "に", "で", "か",
                 "さん", "しゅるい", "お") + _w("please")   # Tohoku pleases (けろ, けらっしゃい): words.csv
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
    said_as: str = ""              # the mention and the words after it, as written (「牛乳を2本」)


def _mentions(said: str, index: _Index, starts: frozenset[int] = frozenset(),
              ends: frozenset[int] = frozenset(), breaks: frozenset[int] = frozenset()
              ) -> list[tuple[int, int, _Target]]:
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
            # Nor across a space the resident typed: 「りんごば なな」 is りんご ば なな, not ばなな.
            if len(key) <= 3 and any(pos < b < pos + len(key) for b in breaks):
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
            ahead = _strip_particles(said[end:], end, starts)
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


def _parse_segment(mention: _Said, segment: str, more_follows: bool, at: int = 0,
                   starts: frozenset[int] = frozenset()) -> None:
    if Q.is_fraction(segment[:5]):
        raise Q.refuse_fraction()
    s = segment if segment.startswith(_w("add_before")) else _strip_particles(segment, at, starts)
    for word in _w("add_before"):
        if s.startswith(word) and not s.startswith("もういい") and not s.startswith("もういら"):
            rest = s[len(word):]
            mention.op, s = "add", _strip_particles(rest, at + len(segment) - len(rest), starts)
            break
    if Q.is_fraction(s[:4]):
        raise Q.refuse_fraction()
    sized = Q.leading_quantity(s[1:], bare_kana_ok=False) if s.startswith("の") else None
    if sized is not None and canonical_counter(sized[1]) == "kg":
        s = s[1:]    # 「つや姫の5キロ」: the の of a size, as in 「5キロのつや姫」
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


def scan(said: str, spans: Sequence[tuple[int, int, str]], hits: list[tuple[int, int, _Target]],
         asking: Mapping[int, str] | None = None) -> tuple[list[_Said], list[str]]:
    """Each product mention (``hits``, from ``_mentions``) with what was said around it: how many,
    what to do, and the words that named nothing (as written), less a request at their end
    (``asking``: each word's role by where it begins, from ``lexicon.read_words``). Raises
    ``DomainError`` for a quantity that cannot be taken (a fraction, out of range)."""
    mentions: list[_Said] = []
    unmatched: list[str | None] = []
    asking = asking or {}
    starts = frozenset(start for start, _, _ in spans)
    cursor = 0
    for number, (start, end, target) in enumerate(hits):
        following = hits[number + 1][0] if number + 1 < len(hits) else len(said)
        mention = _Said(target, start, end, word=said[start:end],
                        said_as="".join(w for lo, hi, w in spans if lo < following and hi > start))
        before = said[cursor:start]
        _parse_segment(mention, said[end:following], more_follows=number + 1 < len(hits), at=end,
                       starts=starts)
        # 「2本の大根」: the quantity comes first, with の.
        if mention.quantity is None and before.endswith("の"):
            found = Q.leading_quantity(before[:-1], bare_kana_ok=True)
            if found is not None and found[2] == len(before) - 1:
                mention.quantity, mention.counter, before = found[0], found[1], ""
        head = _clean(before)
        if head and number == 0:
            # The words as said too: cleaning takes filler letters off a greeting (「こんにち(は)」, 「(お)ばん」).
            intent = _intent_of(head) if _intent_of(head) != "unknown" else _intent_of(before)
            if intent in ("cancel",) and mention.op == "order":
                mention.op = "remove"
            elif intent == "unknown":
                unmatched.append(_or_cleaned(_words_between(said, spans, cursor, start, asking), head))
        elif head:
            unmatched.append(_or_cleaned(_words_between(said, spans, cursor, start, asking), head))
        if mention.leftover:
            # Every word left over is said back (「メロン1個」は見つかりませんでした), never dropped; only
            # the words that ask (「買ってくなんしぇ」) are not words to look up.
            unmatched.append(_as_written(said, spans, mention.leftover, end, following, asking))
        if mention.quantity is not None:
            Q.check_range(mention.quantity)
        mentions.append(mention)
        cursor = following
    # 「あんパンとカレーパンを1個ずつ」: the last number is each one's.
    last = mentions[-1]
    if last.quantity is not None and said.rstrip("。、").endswith(("ずつ", "ずつください", "ずつおねがいします")):
        for mention in mentions[:-1]:
            if mention.quantity is None and mention.op == "order":
                mention.quantity, mention.counter = last.quantity, last.counter
    # Nothing is left of a fragment that was only asking (「買ってく」): it is not said back at all.
    return mentions, [words for words in unmatched if words is not None]


def _or_cleaned(words: str | None, cleaned: str) -> str | None:
    """The words as written, else (no whole word in the fragment) the cleaned fragment; None stays
    None (only words that ask were there)."""
    return None if words is None else words or cleaned


def _words_between(said: str, spans: Sequence[tuple[int, int, str]], lo: int, hi: int,
                   asking: Mapping[int, str] | None = None) -> str | None:
    """The words in ``said[lo:hi]`` as written, whole, without the filler words at either end and a
    request at the end; None when that was all there was. Not from the cleaned fragment: cleaning
    strips filler *letters* (「おおねさんぼん」 loses お, お, ね and さん and keeps only 「ぼん」), but
    what is said back must be the word the resident wrote."""
    words = [(said[start:end], surface, start) for start, end, surface in spans if start >= lo and end <= hi]
    while words and words[0][0] in _FILLER_WORDS:
        words.pop(0)
    while words and words[-1][0] in _FILLER_WORDS:
        words.pop()
    if not words:
        return ""
    return trimmed([(surface, (asking or {}).get(start, ""), True) for _, surface, start in words]) or None


def _as_written(said: str, spans: Sequence[tuple[int, int, str]], fragment: str, lo: int, hi: int,
                asking: Mapping[int, str] | None = None) -> str | None:
    """The words of ``fragment`` (found in ``said[lo:hi]``) as the resident wrote them, less a request
    at the end of what was said (「メロン1個買っ」 → 「メロン1個」); None when only that was left."""
    at = said.find(fragment, lo, hi)
    if at >= 0:
        letters = range(at, at + len(fragment))
    else:
        # Op words taken out of the middle (the だけ of 「ほしいんだけど」 leaves 「んど」): the words
        # holding the fragment's letters, matched from the end of the segment.
        letters = _letters_from_the_end(said, fragment, lo, hi)
        if not letters:
            return fragment
    # The whole segment: whether the fragment's end is a request is seen on the whole phrase (「んど」
    # is the end of 「ほしいんだけど」, 「でき」 of 「お願いできますか」), even where cleaning took its
    # first words off; only the fragment's own words are said.
    words = [(surface, (asking or {}).get(start, ""), any(start <= letter < end for letter in letters))
             for start, end, surface in spans if end > lo and start < hi]
    if not any(held for _, _, held in words):
        return fragment
    return trimmed(words) or None


def _letters_from_the_end(said: str, fragment: str, lo: int, hi: int) -> list[int]:
    """Where ``fragment``'s letters, in order but not together, last occur in ``said[lo:hi]``, or []."""
    at, found = hi, []
    for letter in reversed(fragment):
        at = said.rfind(letter, lo, at)
        if at < 0:
            return []
        found.append(at)
    return found[::-1]
