"""Japanese quantities: 「２個」「二本」「みっつ」「ひとふくろ」「じゅっこ」 → a whole number 1–99.

Moved here from the old hand-written ``orders/ja_text.py`` parser: the analyser (SudachiPy) splits the
words and gives readings, but saying a number in Japanese (kanji, kana, native ひとつ, sokuon いっぽん)
is grammar, not vocabulary, so it stays code. Anything else (半分, 0, 100, 「少し」) is refused with a
short polite sentence the channel can say as is, never guessed.
"""

from __future__ import annotations

import re
import unicodedata

from core.errors import DomainError

MAX_QUANTITY = 99


class QuantityError(DomainError):
    """A quantity we will not guess. ``message`` is a sentence for the resident."""


def _half() -> QuantityError:
    return QuantityError("quantity_fraction", "半分などの量は承れません。1、2のように、まるごとの数でお願いします。")


def _zero() -> QuantityError:
    return QuantityError("quantity_zero", "0は承れません。1から99までの数でお願いします。")


def _too_many(value: int) -> QuantityError:
    return QuantityError("quantity_too_many", f"一度にご注文いただけるのは{MAX_QUANTITY}までです。",
                         value=value)


def _unclear() -> QuantityError:
    return QuantityError("quantity_unclear", "数がわかりませんでした。「2個」「3本」のように数でお願いします。")


_KATAKANA_TO_HIRAGANA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}


def fold(text: str) -> str:
    """NFKC (全角数字 → 0-9, ｶﾀｶﾅ → カタカナ), katakana → hiragana, every space removed: the cheap
    comparison form, without the analyser."""
    text = unicodedata.normalize("NFKC", text or "").translate(_KATAKANA_TO_HIRAGANA)
    return re.sub(r"\s+", "", text)


# --- numbers -----------------------------------------------------------------------------------

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5,
                 "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}

# Hiragana readings, longest first so that "じゅう" wins over "じゅっ" and "しち" over "し".
# Sokuon forms (いっ, ろっ, はっ, じゅっ) appear before counters: いっぽん, ろっこ, じゅっこ.
_KANA_DIGITS = [("きゅう", 9), ("いち", 1), ("いっ", 1), ("さん", 3), ("よん", 4), ("ろく", 6),
                ("ろっ", 6), ("なな", 7), ("しち", 7), ("はち", 8), ("はっ", 8), ("ぜろ", 0),
                ("れい", 0), ("に", 2), ("ご", 5)]
# Not 「し」「く」「よ」 alone: they begin ordinary words (ください, します) far more often than they mean 4 or 9.
_KANA_UNITS = [("じゅう", 10), ("じゅっ", 10), ("じっ", 10), ("ひゃく", 100), ("びゃく", 100),
               ("ぴゃく", 100)]

# Native counting words (ひとつ …) and ひと/ふた + counter (ひとふくろ, ふたたば, ひとぱっく).
_NATIVE = {"ひとつ": 1, "ふたつ": 2, "みっつ": 3, "よっつ": 4, "いつつ": 5, "むっつ": 6, "ななつ": 7,
           "やっつ": 8, "ここのつ": 9, "とお": 10, "ひとり": 1, "ふたり": 2}
_NATIVE_PREFIX = {"ひと": 1, "ふた": 2}

# Counters (after normalise, so katakana ones are hiragana), longest first.
_COUNTERS = sorted([
    "個", "こ", "本", "ほん", "ぼん", "ぽん", "つ", "袋", "ふくろ", "ぶくろ", "枚", "まい", "ぱっく",
    "束", "たば", "株", "かぶ", "玉", "たま", "だま", "房", "ふさ", "箱", "はこ", "ばこ", "缶", "かん",
    "瓶", "びん", "丁", "ちょう", "匹", "ひき", "びき", "ぴき", "切れ", "切", "きれ", "杯", "はい", "ばい",
    "ぱい", "点", "てん", "せっと", "組", "くみ", "足", "そく", "ぞく", "尾", "斤", "きん", "人前",
    "にんまえ", "食", "しょく", "皿", "さら", "箱", "ケース", "けーす", "kg", "きろ", "かい", "個入り",
    "ろーる", "りっとる",
], key=len, reverse=True)

_FRACTION_WORDS = ("半分", "はんぶん", "半", "はん", "0.5", ".5", "1/2", "½", "少し", "すこし", "ちょっと",
                   "適当", "てきとう", "少々", "しょうしょう")

# Politeness and particles around a quantity: 「を2本ください」「3つでお願いします」.
_LEADING = re.compile(r"^(?:を|:|、|,|。)+")   # not は: はっこ (8個), はんぶん
_TRAILING = re.compile(
    r"(?:を?(?:ください|下さい|くださいな|ちょうだい|お願いします|おねがいします|お願い|おねがい|です|ほしい|欲しい"
    r"|下さ|くれ)|で|だけ|ずつ|ぐらい|くらい|ほど|、|,|。|!|\?|です)+$")


def _parse_kanji(text: str) -> int | None:
    """十二 → 12, 二十 → 20, 百 → 100, 三 → 3; digits written positionally (一二) are refused."""
    if not text or any(ch not in _KANJI_DIGITS and ch not in _KANJI_UNITS for ch in text):
        return None
    total, digit = 0, None
    for ch in text:
        if ch in _KANJI_DIGITS:
            if digit is not None:
                return None
            digit = _KANJI_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _KANJI_UNITS[ch]
            digit = None
    return total + (digit or 0)


def _parse_kana(text: str) -> int | None:
    """じゅうに → 12, にじゅう → 20, さん → 3, いっ (before a counter) → 1."""
    total, digit, pos = 0, None, 0
    if not text:
        return None
    while pos < len(text):
        for word, value in _KANA_UNITS:
            if text.startswith(word, pos):
                total += (1 if digit is None else digit) * value
                digit, pos = None, pos + len(word)
                break
        else:
            for word, value in _KANA_DIGITS:
                if text.startswith(word, pos):
                    if digit is not None:
                        return None
                    digit, pos = value, pos + len(word)
                    break
            else:
                return None
    return total + (digit or 0)


def _number(text: str) -> int | None:
    """The value of a bare number (no counter) in digits, kanji, kana or native form, or None."""
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    if text in _NATIVE:
        return _NATIVE[text]
    if text in _NATIVE_PREFIX:
        return _NATIVE_PREFIX[text]
    if text.endswith("つ") and text[:-1] in ("一", "二", "三", "四", "五", "六", "七", "八", "九"):
        return _KANJI_DIGITS[text[:-1]]
    mixed = re.fullmatch(r"([0-9]+)([十百])?", text)   # 「1十」 does not happen; 「2百」 might
    if mixed and mixed.group(2):
        return int(mixed.group(1)) * _KANJI_UNITS[mixed.group(2)]
    kanji = _parse_kanji(text)
    return kanji if kanji is not None else _parse_kana(text)


def _value_counter(text: str) -> tuple[int | None, str | None]:
    """Number plus optional counter (as written); (None, None) when it is not a quantity at all."""
    if not text:
        return None, None
    value = _number(text)
    if value is not None:
        return value, ("つ" if text in _NATIVE or text.endswith("つ") else None)
    for counter in _COUNTERS:
        if text.endswith(counter) and len(text) > len(counter):
            head = text[: -len(counter)]
            value = _NATIVE_PREFIX.get(head) if head in _NATIVE_PREFIX else _number(head)
            if value is not None:
                return value, counter
    return None, None


def _value(text: str) -> int | None:
    """Number plus optional counter; None when it is not a quantity at all."""
    return _value_counter(text)[0]


def _is_fraction(text: str) -> bool:
    return any(word in text for word in _FRACTION_WORDS) or bool(re.search(r"[0-9]+[./][0-9]+", text))


def parse_quantity(text: str) -> int:
    """「２個」「二本」「3つ」「十二」「みっつ」「三袋」 → a whole number 1–99, else ``QuantityError``."""
    core = _TRAILING.sub("", _LEADING.sub("", fold(text)))
    if _is_fraction(core):
        raise _half()
    value = _value(core)
    if value is None:
        raise _unclear()
    if value == 0:
        raise _zero()
    if value > MAX_QUANTITY:
        raise _too_many(value)
    return value


def leading_quantity(text: str, *, bare_kana_ok: bool) -> tuple[int, str | None, int] | None:
    """The longest prefix of ``text`` (folded or a reading) that is a quantity: (value, counter or
    None, length), or None. ``bare_kana_ok``: whether a counter-less kana number (「に」「ご」, also a
    particle or the start of a word) may count; the caller knows what follows it."""
    for end in range(min(len(text), 12), 0, -1):
        head = text[:end]
        value, counter = _value_counter(head)
        if value is None:
            continue
        bare_kana = counter is None and all("ぁ" <= ch <= "ん" for ch in head) and head not in _NATIVE
        if bare_kana and not bare_kana_ok:
            continue
        return value, counter, end
    return None


def is_fraction(text: str) -> bool:
    return _is_fraction(text)


def check_range(value: int) -> None:
    """0 and over ``MAX_QUANTITY`` are refused with a sentence (``QuantityError``)."""
    if value == 0:
        raise _zero()
    if value > MAX_QUANTITY:
        raise _too_many(value)


def refuse_fraction() -> QuantityError:
    return _half()
