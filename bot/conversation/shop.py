"""Shop owners keep their products up to date in plain chat. The words are read here; every rule
(never below zero, concurrent changes kept, the ledger) is in ``shops.service``.

・「大根 20」 → stock 20          ・「大根 +5」「白菜を5個追加」 → 5 more   ・「大根 -2」「大根を2本減らす」 → 2 fewer
・「大根 150円」 → price 150円    ・「売り切れ 大根」「大根 売り切れ」 → sold out
・「大根 入荷」 → back on sale    ・「在庫」 → the list          ・「今日の注文」 → today's picking list
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot import messages as m
from bot.messages import Message
from bot.conversation.common import error_text
from bot.conversation.state import Ctx
from core.clock import JST
from core.errors import DomainError
from delivery.picking import shop_day_text
from shops import service
from shops.models import Product
from understanding import parse_quantity

USAGE = ("商品の変え方：\n"
         "・「大根 20」→ 在庫を20にします\n"
         "・「大根 +5」「白菜を5個追加」→ 在庫をふやします\n"
         "・「大根 -2」「大根を2本減らす」→ 在庫をへらします\n"
         "・「大根 150円」→ 値段を変えます\n"
         "・「売り切れ 大根」→ 売り切れにします／「大根 入荷」→ 販売を再開します\n"
         "・「在庫」→ 商品と在庫の一覧\n"
         "・「今日の注文」→ 今日の集荷リスト")
SOLD_OUT_WORDS = ("売り切れ", "うりきれ", "売切れ", "売切", "品切れ", "しなぎれ", "なし")
BACK_WORDS = ("入荷", "にゅうか", "再開", "さいかい", "あり")
LIST_WORDS = ("在庫", "ざいこ", "一覧", "いちらん")
TODAY_WORDS = ("今日の注文", "きょうの注文", "きょうのちゅうもん", "今日の集荷", "集荷リスト", "注文")
PLUS_VERBS = ("追加", "ついか", "足す", "たす", "増やす", "ふやす", "入荷", "にゅうか")
MINUS_VERBS = ("減らす", "へらす", "引く", "ひく", "マイナス")
COUNTERS = "個本袋つ束パック玉枚斤尾匹切れ箱kgg"
_NUM = r"([0-9]+|[一二三四五六七八九十百千〇]+)"


@dataclass(frozen=True)
class Command:
    kind: str            # list | today | set | adjust | price | sold_out | back | usage
    name: str = ""
    number: int = 0


def _clean(text: str) -> str:
    """NFKC (full-width digits and signs), one kind of minus, single spaces."""
    text = unicodedata.normalize("NFKC", text).strip()
    text = re.sub(r"[−–—‐]", "-", text)
    return re.sub(r"\s+", " ", text)


def _number(value: str) -> int:
    if value.isdigit():
        return int(value)
    return parse_quantity(value)


def parse(text: str) -> Command:
    """What the owner asked for (the words only; the product is looked up afterwards)."""
    body = _clean(text)
    bare = body.replace(" ", "")
    if bare in LIST_WORDS:
        return Command("list")
    if bare in TODAY_WORDS:
        return Command("today")
    counter = rf"(?:[{COUNTERS}]|パック)?"
    for word in SOLD_OUT_WORDS + BACK_WORDS:
        kind = "sold_out" if word in SOLD_OUT_WORDS else "back"
        if body.startswith(word + " ") and len(body) > len(word) + 1:
            return Command(kind, body[len(word) + 1:].strip())
        if kind == "back" and (match := re.fullmatch(rf"(.+?)を? ?{_NUM}{counter} ?{word}", body)):
            return Command("adjust", match.group(1).strip(), _number(match.group(2)))
        if body.endswith(" " + word) or (bare.endswith(word) and len(bare) > len(word) and word not in ("なし", "あり")):
            name = body[: -len(word)].strip()
            return Command(kind, name.removesuffix("を").removesuffix("は").strip())
    if match := re.fullmatch(rf"(.+?) ?([+-]) ?{_NUM}{counter}", body):
        sign = 1 if match.group(2) == "+" else -1
        return Command("adjust", match.group(1).strip(), sign * _number(match.group(3)))
    verbs = "|".join(PLUS_VERBS + MINUS_VERBS)
    if match := re.fullmatch(rf"(.+?)(?:を|は)? ?{_NUM} ?{counter} ?({verbs})(?:する|します|して)?", body):
        sign = -1 if match.group(3) in MINUS_VERBS else 1
        return Command("adjust", match.group(1).strip(), sign * _number(match.group(2)))
    if match := re.fullmatch(rf"(.+?)(?:を|は)? ?([0-9]+) ?円(?:に)?(?:する|します|して|にする)?", body):
        return Command("price", match.group(1).strip(), int(match.group(2)))
    if match := re.fullmatch(rf"(.+?)(?:を|は)? ?{_NUM} ?{counter}(?:に)?(?:する|します)?", body):
        return Command("set", match.group(1).strip(), _number(match.group(2)))
    return Command("usage")


def _products(ctx: Ctx) -> list[Product]:
    return service.products_of_shop(ctx.session, ctx.extra["shop_id"])


def _quick() -> m.QuickReply:
    return m.quick_reply([m.say("在庫"), m.say("今日の注文")], start_over=False)


def usage(ctx: Ctx, intro: str = "") -> list[Message]:
    shop = service.shop_by_id(ctx.session, ctx.extra["shop_id"])
    head = f"{shop.name}のご担当さま\n" if shop else ""
    return [m.text(head + (intro + "\n" if intro else "") + USAGE, quick=_quick())]


def stock_list(ctx: Ctx) -> list[Message]:
    rows = []
    for p in _products(ctx):
        if not p.available:
            state = "お休み"
        elif p.stock is None:
            state = "制限なし"
        else:
            state = "売り切れ" if p.stock <= 0 else f"{p.stock}{p.unit}"
        rows.append(f"・{p.name}：{state}（{p.price_yen:,}円）")
    body = "いまの在庫：\n" + ("\n".join(rows) if rows else "（商品がありません）")
    return [m.text(body, quick=_quick())]


def today(ctx: Ctx) -> list[Message]:
    return [m.text(shop_day_text(ctx.session, ctx.extra["shop_id"], ctx.now.astimezone(JST).date()), quick=_quick())]


def _unknown(ctx: Ctx, name: str) -> list[Message]:
    names = "、".join(p.name for p in _products(ctx)[:12])
    return [m.text(f"「{name}」という商品は、このお店に見つかりませんでした。\n"
                   f"商品の名前をお確かめください。\nこのお店の商品：{names or 'ありません'}", quick=_quick())]


def _left(p: Product) -> str:
    return "数えていません" if p.stock is None else f"{p.stock}{p.unit}"


def typed(ctx: Ctx, text: str) -> list[Message]:
    try:
        command = parse(text)
    except DomainError as exc:
        return usage(ctx, error_text(exc))
    if command.kind == "list":
        return stock_list(ctx)
    if command.kind == "today":
        return today(ctx)
    if command.kind == "usage":
        return usage(ctx)
    product = service.find_shop_product(ctx.session, shop_id=ctx.extra["shop_id"], name=command.name)
    if product is None:
        return _unknown(ctx, command.name)
    who = dict(actor=ctx.actor, channel="line", now=ctx.now)
    name, n = product.name, command.number
    try:
        with ctx.session.begin_nested():
            if command.kind == "sold_out":
                service.mark_sold_out(ctx.session, product_id=product.id, **who)
                reply = f"{name}を売り切れにしました。"
            elif command.kind == "back":
                p = service.mark_back(ctx.session, product_id=product.id, **who)
                reply = f"{name}の販売を再開しました。"
                if p.stock is not None and p.stock <= 0:
                    reply += f"\nいまの在庫は0{p.unit}です。「{name} 10」のように数も送ってください。"
            elif command.kind == "adjust":
                p = service.adjust_stock(ctx.session, product_id=product.id, delta=n, **who)
                verb = "ふやしました" if n > 0 else "へらしました"
                reply = f"{name}の在庫を{abs(n)}{p.unit}{verb}。いまの在庫は{_left(p)}です。"
            elif command.kind == "price":
                service.set_price(ctx.session, product_id=product.id, price_yen=n, **who)
                reply = f"{name}の値段を{n:,}円にしました。\nこれからのご注文からこの値段です（受付済みのご注文は変わりません）。"
            else:
                service.set_stock(ctx.session, product_id=product.id, new_stock=n, **who)
                if not product.available:
                    service.set_available(ctx.session, product_id=product.id, available=True, **who)
                reply = f"{name}の在庫を{n}{product.unit}にしました。"
    except DomainError as exc:
        current = service.product_by_id(ctx.session, product.id)
        now_left = f"\nいまの在庫は{_left(current)}です。" if current is not None and command.kind == "adjust" else ""
        return [m.text(f"{name}：{error_text(exc)}{now_left}", quick=_quick())]
    return [m.text(reply, quick=_quick())]
