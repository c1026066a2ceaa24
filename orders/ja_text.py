"""Japanese quantities and free-text orders, shared by the LINE bot and the phone line.

Residents type or say things like 「大根2本とりんご3個」, 「だいこんをにほん」, 「卵ひとパック」. Speech
recognition gives kanji, hiragana or digits unpredictably, so everything is compared after
``normalise`` (NFKC, katakana → hiragana, no spaces). Quantities are whole numbers 1–99: anything
else (半分, 0, 100, 「少し」) is refused with a short polite sentence the channel can say as is, never
guessed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, Sequence

from otodoke.errors import DomainError

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


# --- normalisation -----------------------------------------------------------------------------

_KATAKANA_TO_HIRAGANA = {cp: cp - 0x60 for cp in range(0x30A1, 0x30F7)}


def normalise(text: str) -> str:
    """NFKC (全角数字 → 0-9, ｶﾀｶﾅ → カタカナ), katakana → hiragana, every space removed."""
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


def _value(text: str) -> int | None:
    """Number plus optional counter; None when it is not a quantity at all."""
    if not text:
        return None
    value = _number(text)
    if value is not None:
        return value
    for counter in _COUNTERS:
        if text.endswith(counter) and len(text) > len(counter):
            value = _number(text[: -len(counter)])
            if value is not None:
                return value
    return None


def _is_fraction(text: str) -> bool:
    return any(word in text for word in _FRACTION_WORDS) or bool(re.search(r"[0-9]+[./][0-9]+", text))


def parse_quantity(text: str) -> int:
    """「２個」「二本」「3つ」「十二」「みっつ」「三袋」 → a whole number 1–99, else ``QuantityError``."""
    core = _TRAILING.sub("", _LEADING.sub("", normalise(text)))
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


def _leading_quantity(text: str, more_follows: bool = False) -> tuple[int, int] | None:
    """The longest prefix of normalised ``text`` that is a quantity: (value, length), or None.

    A bare kana number (「に」「ご」) is also a particle or the start of a word, so it only counts
    when nothing but politeness follows it (「大根をにほん」 and 「大根に」 end differently).
    """
    for end in range(min(len(text), 12), 0, -1):
        head = text[:end]
        value = _value(head)
        if value is None:
            continue
        bare_kana = all("ぁ" <= ch <= "ん" for ch in head) and _number(head) is not None \
            and head not in _NATIVE
        # 「大根に人参」: a one-syllable に/ご right before another product is a particle.
        if bare_kana and (_clean(text[end:]) or (more_follows and len(head) == 1)):
            continue
        return value, end
    return None


# --- free text against the catalogue -------------------------------------------------------------

class Named(Protocol):
    name: str
    kana: str


@dataclass(frozen=True)
class ParsedItem:
    product: Any
    quantity: int
    matched_text: str
    quantity_stated: bool = True    # False: no number was given and 1 was assumed (read it back)


class Extraction(NamedTuple):
    """``items, unmatched = extract_items(...)``; ``unmatched`` holds leftover text (normalised)."""

    items: list[ParsedItem]
    unmatched: list[str]


def _names(product: Named) -> set[str]:
    names = set()
    for raw in (product.name, getattr(product, "kana", "") or ""):
        for variant in (raw, re.sub(r"[(（\[].*?[)）\]]", "", raw)):
            n = normalise(variant)
            # One hiragana syllable would match inside ordinary words; one kanji (米, 卵) is fine.
            if len(n) >= 2 or (n and not ("ぁ" <= n[0] <= "ん")):
                names.add(n)
    return names


_FILLER = re.compile(r"^(?:と|や|に|を|は|が|も|の|それから|あと|あとは|それと|、|,|。|・|/|\+|&|および|及び)+|"
                     r"(?:と|や|を|は|が|も|の|、|,|。|・)+$")


def _clean(fragment: str) -> str:
    previous = None
    while previous != fragment:
        previous = fragment
        fragment = _TRAILING.sub("", _FILLER.sub("", fragment))
    return fragment


def extract_items(text: str, products: Sequence[Named]) -> Extraction:
    """Find products and their quantities in 「大根2本とりんご3個」 (names or kana readings).

    The longest name wins at each position; when two products share a name, the one earlier in
    ``products`` wins (callers pass the shop's or category's list first). A quantity follows the
    name (「大根を2本」) or precedes it with の (「2本の大根」); without one, 1 is assumed and
    ``quantity_stated`` is False. A fraction (「大根半分」), 0 or over 99 raises ``QuantityError``.
    """
    source = normalise(text)
    table: list[tuple[str, Any]] = []
    for product in products:
        for name in _names(product):
            table.append((name, product))
    table.sort(key=lambda entry: len(entry[0]), reverse=True)

    hits: list[tuple[int, int, Any]] = []   # (start, end, product)
    pos = 0
    while pos < len(source):
        for name, product in table:
            if source.startswith(name, pos):
                hits.append((pos, pos + len(name), product))
                pos += len(name)
                break
        else:
            pos += 1

    items: list[ParsedItem] = []
    unmatched: list[str] = []
    cursor = 0
    for index, (start, end, product) in enumerate(hits):
        before = source[cursor:start]
        after_end = hits[index + 1][0] if index + 1 < len(hits) else len(source)
        after = _LEADING.sub("", source[end:after_end])
        quantity, stated, consumed = 1, False, end
        if _is_fraction(after[:3]):
            raise _half()
        lead = _leading_quantity(after, more_follows=index + 1 < len(hits))
        if lead is not None:
            quantity, stated = lead[0], True
            consumed = end + (len(source[end:after_end]) - len(after)) + lead[1]
        else:
            pre = re.sub(r"の$", "", before)
            if before.endswith("の") and _leading_quantity(pre) == (_value(pre), len(pre)) and pre:
                quantity, stated, before = _value(pre) or 1, True, ""
        leftover = _clean(before)
        if leftover:
            unmatched.append(leftover)
        if quantity == 0:
            raise _zero()
        if quantity > MAX_QUANTITY:
            raise _too_many(quantity)
        items.append(ParsedItem(product, quantity, source[start:consumed], stated))
        cursor = consumed
    tail = _clean(source[cursor:])
    if tail:
        if hits and _is_fraction(tail):
            raise _half()
        unmatched.append(tail)
    return Extraction(items, unmatched)
