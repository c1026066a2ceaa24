"""The Japanese analyser: SudachiPy with sudachidict_core, built once per process.

Everything the understanding layer compares is a *reading*: hiragana from Sudachi's ``reading_form``,
so 「大根」「だいこん」「ダイコン」「ﾀﾞｲｺﾝ」 are one word, and 「玉子」 and 「卵」 both read たまご. Numbers
keep their digits (Sudachi's normalised form, so 「十二」 is 12 and 「２」 is 2), because a reading of a
number (「に」) is also a particle; the quantity parser reads the digits and the counter after them.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Any

_KATAKANA_TO_HIRAGANA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}
_lock = threading.Lock()
_SMALL_KANA = re.compile(r"[ぁぃぅぇぉゃゅょゎァィゥェォャュョヮ]+")
_VOWEL_ROWS = {"ぁ": "あかさたなはまやらわがざだばぱゃゎ", "ぃ": "いきしちにひみりぎじぢびぴ",
               "ぅ": "うくすつぬふむゆるぐずづぶぷゅ", "ぇ": "えけせてねへめれげぜでべぺ", "ぉ": "おこそとのほもよろをごぞどぼぽょ"}


def _sound(small: str, before: str) -> str:
    """A small kana Sudachi split off as a symbol: part of the syllable before it (the しぇ of the
    Okitama 「くなんしぇ」, ください), or a drawn-out vowel (「ねぇ」「なぁ」), dropped as before."""
    first = hiragana(small)[0]
    return "" if before and before[-1] in _VOWEL_ROWS.get(first, "") else hiragana(small)


@functools.cache
def _tokenizer() -> Any:
    """Building the dictionary takes a tenth of a second and some memory: once per process."""
    from sudachipy import Dictionary, SplitMode   # lazy: with the dictionary, on the first text read
    return Dictionary(dict="core").create(SplitMode.C) if not hasattr(Dictionary, "tokenizer") \
        else Dictionary(dict="core").tokenizer(mode=SplitMode.C)


def warm() -> None:
    """Load the dictionary now (at app start) rather than on a resident's first message."""
    _tokenizer()


def hiragana(text: str) -> str:
    return text.translate(_KATAKANA_TO_HIRAGANA)


def width_fold(text: str) -> str:
    """NFKC width folding (全角 → 半角 digits and letters, ｶﾀｶﾅ → カタカナ), lower case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or "")).lower()


@dataclass(frozen=True)
class Token:
    surface: str        # as written (folded)
    reading: str        # hiragana; digits for numbers
    pos: str            # Sudachi's first part of speech (名詞, 助詞, 動詞 …)
    numeral: bool
    start: int          # offsets in the reading string
    end: int
    spaced: bool = False   # a space was typed (or heard) just before it
    lemma: str = ""        # Sudachi's normalised dictionary form (買う for 「買っ」), for ``asking``
    pos2: str = ""         # the second level of the part of speech (終助詞 for ね, ねぇ), for ``asking``


def _reading(morpheme: Any) -> tuple[str, bool]:
    pos = morpheme.part_of_speech()
    surface = morpheme.surface()
    if pos[1] == "数詞":
        norm = morpheme.normalized_form()
        if re.fullmatch(r"[0-9]+", norm):
            return norm, True
        if re.fullmatch(r"[0-9]+", surface):
            return surface, True
        return hiragana(surface), True
    reading = morpheme.reading_form()
    if pos[0] == "補助記号" and _SMALL_KANA.fullmatch(surface):
        return hiragana(surface), False    # kept or dropped in ``tokens``, by the kana before it
    if not reading or reading == "キゴウ" or pos[0] in ("補助記号", "空白"):
        # Symbols and unknown words: keep what was written (Sudachi reads 「・」 as キゴウ).
        return hiragana(surface) if pos[0] not in ("補助記号", "空白") else "", False
    if re.fullmatch(r"[a-z0-9]+", surface):
        return surface, False
    return hiragana(reading), False


@functools.lru_cache(maxsize=4096)
def tokens(text: str) -> tuple[Token, ...]:
    """The folded ``text`` as tokens with readings (cached: the same words come back all day)."""
    # A space the resident typed (or the recogniser heard) ends a word: Japanese is written without
    # them, so 「りんごば ななつ」 is りんご, ば, ななつ, never the ばなな Sudachi reads in 「りんごばななつ」.
    # Each part is read on its own and the readings are joined, still without spaces.
    parts = [width_fold(part) for part in unicodedata.normalize("NFKC", text or "").split()]
    parts = [part for part in parts if part]
    if not parts:
        return ()
    with _lock:   # one tokenizer per process; Sudachi's is not documented as thread-safe
        morphemes = [(m.surface(), *_reading(m), m.part_of_speech()[0], n > 0 and k == 0, m.normalized_form(),
                      m.part_of_speech()[1])
                     for n, part in enumerate(parts) for k, m in enumerate(_tokenizer().tokenize(part))]
    out, pos = [], 0
    for surface, reading, numeral, part, spaced, lemma, part2 in morphemes:
        if part == "補助記号" and reading:
            reading = _sound(reading, out[-1].reading if out else "")
        out.append(Token(surface, reading, part, numeral, pos, pos + len(reading), spaced, lemma, part2))
        pos += len(reading)
    return tuple(out)


def reading(text: str) -> str:
    """「大根を２本」 → 「だいこんを2ぽん」; 「十二個」 → 「12こ」."""
    return "".join(t.reading for t in tokens(text))
