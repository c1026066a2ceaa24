"""Words that only ask for something: 「買ってくなんしぇ」, 「持ってきてけらっしゃい」, 「ちょうだいねぇ」.

After a product and its number, a resident says *how* they ask: a verb of buying, bringing or
sending with its endings (「買ってください」「届けてほしい」「頼むわ」), a Tohoku request ending
(けろ, けらっしゃい, くなんしぇ) and a sentence-final particle (ね, ねぇ, なぁ, わ). None of these can
name a product, so none is said back as 「見つかりませんでした」.

Decided per word on Sudachi's part of speech and dictionary form, not by cutting letters off a
reading, and only as a phrase at the end of what was left over: the phrase begins with a word that
asks (``ask_word`` rows of ``words.csv``: 下さる, 欲しい, 頂戴 …; or a verb of buying or bringing,
``ask_verb``: 買う, 持つ, 届ける …), and what follows it is grammar (particles, auxiliaries) or the
verbs that go on such a phrase (``ask_after``: 来る, 為る …). Alone, only sentence-final particles
go (「大根2本よ」). Sudachi splits a kana word it does not know into whatever fits (「かし」 is か + し,
「くず」 とく + ず, 「もち」 the verb 持つ), so grammar and ``ask_after`` never begin a phrase, and a
verb of buying written in kana begins one only when it is conjugated (「かって」, 「もってきて」): a
word that could be a product is still said back.
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path
from typing import Sequence

WORDS = Path(__file__).with_name("words.csv")
_GRAMMAR = ("助詞", "助動詞", "補助記号", "空白")
_KANJI = re.compile(r"[\u3400-\u9fff々]")

# The roles, per word.
BEGINS = "begins"      # a word that asks begins the phrase: 買っ, ください, ちょうだい, ほしい
PREFIX = "prefix"      # お of お願い, only right before one that begins
GOES_ON = "goes_on"    # grammar and ask_after: て, ます, てけろ, き (来る), し (為る)
FINAL = "final"        # a sentence-final particle or a sign: ね, ねぇ, よ, わ, 「。」
NONE = ""


@functools.cache
def _rows(kind: str) -> frozenset[str]:
    with WORDS.open(encoding="utf-8") as handle:
        rows = csv.reader(line for line in handle if line.strip() and not line.startswith("#"))
        return frozenset(row[1] for row in rows if row[0] == kind)


def roles(words: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """Each word's role; ``words``: (surface, part of speech, its second level, normalised dictionary
    form), in order. A written product name (no part of speech) has none."""
    out = []
    for k, (surface, pos, pos2, lemma) in enumerate(words):
        after = words[k + 1][1] if k + 1 < len(words) else ""
        if pos == "補助記号" or pos2 == "終助詞":
            out.append(FINAL)
        elif pos in _GRAMMAR:
            out.append(GOES_ON)
        elif not pos:
            out.append(NONE)
        elif lemma in _rows("ask_word") or surface in _rows("please"):
            out.append(BEGINS)      # 「けろ」 is 蹴る to Sudachi: the Tohoku please by its reading
        elif lemma in _rows("ask_verb") and (_KANJI.search(surface) or surface.endswith(("て", "で"))
                                             or after in ("助詞", "助動詞")):
            out.append(BEGINS)
        elif pos == "接頭辞" and lemma == "御" and k + 1 < len(words) and words[k + 1][3] in ("願う", "届ける"):
            out.append(PREFIX)       # お願い, お届け; not the お of 「しお」 before ちょうだい or 買って
        elif lemma in _rows("ask_after") or lemma in _rows("ask_verb"):
            out.append(GOES_ON)
        else:
            out.append(NONE)
    return out


def cut(words_roles: Sequence[str]) -> int:
    """Where the asking phrase at the end begins (``len`` when there is none)."""
    end = len(words_roles)
    first = end
    while first > 0 and words_roles[first - 1] != NONE:
        first -= 1
    begins = next((k for k in range(first, end) if words_roles[k] == BEGINS), None)
    finals = end
    while finals > 0 and words_roles[finals - 1] == FINAL:
        finals -= 1
    if begins is None:
        return finals
    if begins > first and words_roles[begins - 1] == PREFIX:
        begins -= 1
    return min(begins, finals)


def trimmed(words: Sequence[tuple[str, str, bool]]) -> str:
    """The words to say back: (as written, role, whether the leftover holds it), from the leftover's
    first word to the end of what was said about that product; those of the asking phrase at the end
    are not said (「メロン1個買ってください」 → 「メロン1個」, 「買ってく」 → 「」)."""
    at = cut([role for _, role, _ in words])
    return "".join(surface for k, (surface, _, held) in enumerate(words) if held and k < at)
