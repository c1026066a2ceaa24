"""What the phone line says, and how it understands short spoken answers.

Sentences are short and polite, one idea each, numbers said with their counters (「2本」), times said
the way people say them (「午後1時」, never 「13:00」), because a caller cannot scroll back.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Sequence

from understanding import fold as normalise

WEEKDAYS = "月火水木金土日"

GREETING = "お電話ありがとうございます。お届けサービスです。"
MENU = ("いつものご注文は1を、新しいご注文は2を、ご注文の確認と取り消しは3を押してください。"
        "もう一度聞くには9、オペレーターは0です。")
NOT_UNDERSTOOD = "すみません、うまく聞き取れませんでした。"
SILENCE = "もう一度ご案内します。"
OPERATOR = "オペレーターにおつなぎします。そのまま少しお待ちください。"
UNKNOWN_CALLER = ("このお電話番号は、まだ登録されていないようです。"
                  "オペレーターと話すには0を、お名前とご住所を録音して登録をお申し込みになるには1を押してください。")
RECORD_REGISTRATION = ("ピーという音のあとに、お名前、ご住所、お電話番号をお話しください。"
                       "終わりましたらシャープを押すか、そのままお待ちください。")
NOBODY_ANSWERED = "ただいま担当者が電話に出られません。"
RECORD_CALLBACK = (NOBODY_ANSWERED + "ピーという音のあとに、ご用件とお名前をお話しください。"
                   "担当者から折り返しお電話します。")
RECORDED = "ありがとうございました。担当者から折り返しご連絡します。失礼いたします。"
GOODBYE = "ご利用ありがとうございました。失礼いたします。"
ERROR = "申し訳ありません。ただいまうまくお受けできません。オペレーターにおつなぎします。"
NO_RECORDING = "録音できませんでした。担当者からご連絡しますので、お待ちください。失礼いたします。"

# Not 「ひと」/「人」 alone: 「ひとつ」「一人」 are quantities.
OPERATOR_WORDS = ("おぺれーたー", "人と話", "ひととはな", "係の", "かかりの", "担当", "たんとう", "助けて",
                  "たすけて", "窓口", "まどぐち")
REPEAT_WORDS = ("もう一度", "もういちど", "もういっかい", "くりかえ", "繰り返")
YES_WORDS = ("はい", "確定", "かくてい", "お願い", "おねがい", "それで", "いいです", "ok", "おっけー", "注文する")
NO_WORDS = ("いいえ", "修正", "しゅうせい", "変更", "へんこう", "ちがう", "違う", "やめ", "直")


def yen(amount: int) -> str:
    return f"{amount:,}円".replace(",", "")   # TTS reads 「1500円」 better than 「1,500円」


def clock_ja(hhmm: str) -> str:
    """「13:00」 → 「午後1時」, 「09:30」 → 「午前9時30分」, 「12:00」 → 「正午」."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    if (hours, minutes) == (12, 0):
        return "正午"
    half = "午前" if hours < 12 else "午後"
    hour = hours if hours <= 12 else hours - 12
    return f"{half}{hour}時" + (f"{minutes}分" if minutes else "")


def day_ja(d: date) -> str:
    return f"{d.month}月{d.day}日、{WEEKDAYS[d.weekday()]}曜日"


def delivery_sentence(d: date, label: str, start: str, end: str) -> str:
    # 「午後、午後1時から」 says it twice: a plain 午前/午後 label is already in the times, and
    # 「時間指定なし」 is just the whole span.
    part = "" if label in ("午前", "午後", "時間指定なし") else f"{label}、"
    return f"お届けは{day_ja(d)}の、{part}{clock_ja(start)}から{clock_ja(end)}のあいだです。"


# 「卵（6個）」: how many come in the pack, read 「卵 6個入り」; a size or weight 「牛乳（1リットル）」
# 「砂糖（1kg）」 is read 「牛乳 1リットル」「砂糖 1キロ」; anything else in brackets 「塩鮭（切り身）」 as
# 「塩鮭 切り身」. Text-to-speech reads brackets as written (or not at all), never naturally.
_COUNT = "個|本|枚|袋|パック|玉|束|切れ|切|尾|匹|粒|杯|缶|ロール|箱|食|人前|組|足"
_PACK = re.compile(rf"^[0-9０-９]+(?:{_COUNT})$")
_BRACKETED = re.compile(r"[（(]([^（）()]*)[）)]")
_WEIGHTS = ((re.compile(r"([0-9])\s*(?:kg|ｋｇ|KG)"), r"\1キロ"), (re.compile(r"([0-9])\s*(?:g|ｇ)(?![a-zA-Z])"), r"\1グラム"),
            (re.compile(r"([0-9])\s*(?:ml|ｍｌ|mL)"), r"\1ミリリットル"), (re.compile(r"([0-9])\s*[lLℓ](?![a-zA-Z])"), r"\1リットル"))


def _unbracket(match: re.Match[str]) -> str:
    inner = match.group(1).strip()
    if not inner:
        return ""
    return f" {inner}入り" if _PACK.match(inner) else f" {inner}"


def speakable(sentence: str) -> str:
    """A sentence as it should be heard: nothing in round brackets read out as written, weights and
    volumes in words (「1kg」 → 「1キロ」)."""
    said = _BRACKETED.sub(_unbracket, sentence).replace("  ", " ")
    for pattern, words in _WEIGHTS:
        said = pattern.sub(words, said)
    return said


def spoken_name(name: str, shop: str | None = None) -> str:
    """「卵（6個）」 → 「卵 6個入り」; with ``shop`` (another shop sells the same name) 「あやめ青果店の大根」."""
    said = speakable(name).strip()
    return f"{shop}の{said}" if shop else said


def line_sentence(name: str, quantity: int, unit: str, total_yen: int | None = None) -> str:
    price = f"、{yen(total_yen)}" if total_yen is not None else ""
    return f"{name}、{quantity}{unit}{price}。"


def numbered(options: Sequence[str], *, start: int = 1) -> list[str]:
    """「大根は1、」 style: one short sentence per option, the key last so it is what the caller remembers."""
    return [f"{label}は{n}。" for n, label in enumerate(options, start=start)]


def _has(text: str, words: Sequence[str]) -> bool:
    n = normalise(text).lower()
    return any(normalise(w) in n for w in words)


def wants_operator(speech: str) -> bool:
    return bool(speech) and _has(speech, OPERATOR_WORDS)


def wants_repeat(speech: str) -> bool:
    return bool(speech) and _has(speech, REPEAT_WORDS)


def says_yes(speech: str) -> bool:
    return bool(speech) and _has(speech, YES_WORDS) and not _has(speech, ("いいえ",))


def says_no(speech: str) -> bool:
    return bool(speech) and _has(speech, NO_WORDS)


_SPOKEN_DIGITS = {"いち": "1", "に": "2", "さん": "3", "よん": "4", "し": "4", "ご": "5", "ろく": "6",
                  "なな": "7", "しち": "7", "はち": "8", "きゅう": "9", "く": "9", "ぜろ": "0", "れい": "0",
                  "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8",
                  "九": "9", "〇": "0", "零": "0"}


def spoken_digit(speech: str) -> str | None:
    """「1番」「いちばん」「3」 → "1" / "3": callers often say the key instead of pressing it."""
    n = re.sub(r"(番|ばん|を|です|でお願いします|おねがいします|お願いします|。|、)", "", normalise(speech))
    if re.fullmatch(r"[0-9]", n):
        return n
    return _SPOKEN_DIGITS.get(n)
