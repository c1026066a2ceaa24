"""Words that only ask for something: 「買ってくなんしぇ」, 「持ってきてけらっしゃい」, 「ちょうだいねぇ」.

After a product and its number, a resident says *how* they ask: a verb of buying, bringing or
sending with its endings (「買ってください」「届けてほしい」「頼むわ」), a Tohoku request ending
(けろ, けらっしゃい, くなんしぇ) and a sentence-final particle (ね, ねぇ, なぁ, わ). None of these can
name a product, so none is said back as 「見つかりませんでした」.

Decided on Sudachi's part of speech and the word's dictionary form, per word (not by cutting letters
off a reading): particles and auxiliaries always ask; a verb, adjective, noun or prefix only when its
dictionary form is one of the ``ask_word`` rows of ``words.csv`` (買う, 持つ, 来る, 届ける …). A word
Sudachi does not know, an adverb (it reads 「ばんそうこう」 as two) or any other noun never asks, so a
product name, even one Sudachi splits oddly, is still said back.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

WORDS = Path(__file__).with_name("words.csv")
# Grammar only: no product is a particle or an auxiliary (ね, ねぇ, よ, わ, て, ます, だ, ず, てけろ …).
_GRAMMAR = ("助詞", "助動詞", "補助記号", "空白")
# The parts of speech an ``ask_word`` may have. A 接尾辞 only by its own row (the やす of the Okitama
# 「おねがいしやす」): counters (本, 個) are 接尾辞 too, and 「メロン1本」 keeps its 本. A 副詞 too,
# only by its own row (Sudachi reads a kana 「かって」 as 嘗て): 「ばんそうこう」 is two adverbs to it.
_WORDS_THAT_ASK = ("動詞", "形容詞", "名詞", "接頭辞", "接尾辞", "副詞")


@functools.cache
def _rows(kind: str) -> frozenset[str]:
    with WORDS.open(encoding="utf-8") as handle:
        rows = csv.reader(line for line in handle if line.strip() and not line.startswith("#"))
        return frozenset(row[1] for row in rows if row[0] == kind)


def asks(pos: str, lemma: str, reading: str) -> bool:
    """Whether a word (Sudachi's first part of speech, its normalised dictionary form, its reading)
    only asks. The ``please`` readings cover a Tohoku ending Sudachi takes for another word: it
    reads 「けろ」 as 蹴る."""
    if pos in _GRAMMAR:
        return True
    if pos in _WORDS_THAT_ASK and lemma in _rows("ask_word"):
        return True
    return bool(pos) and reading in _rows("please")


def trimmed(words: list[tuple[str, bool]]) -> str:
    """The words (as written, and whether each only asks) without the asking ones at either end:
    「メロン1個買ってください」 → 「メロン1個」, 「買ってく」 → 「」. Only the ends: a word in the middle
    stays, so that nothing between two named things is lost."""
    lo, hi = 0, len(words)
    while lo < hi and words[lo][1]:
        lo += 1
    while hi > lo and words[hi - 1][1]:
        hi -= 1
    return "".join(surface for surface, _ in words[lo:hi])
