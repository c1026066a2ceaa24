"""Shop owners keep stock up to date in plain chat: 「大根 20」, 「大根 売り切れ」, 「在庫」."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import select

from bot import messages as m
from bot.messages import Message
from bot.conversation.common import error_text
from bot.conversation.state import Ctx
from otodoke.errors import DomainError
from shops.models import Product, Shop

USAGE = ("在庫の変え方：\n・「大根 20」→ 在庫を20にします\n・「大根 売り切れ」→ 売り切れにします\n"
         "・「在庫」→ 商品と在庫の一覧")
SOLD_OUT_WORDS = ("売り切れ", "うりきれ", "売切れ", "売切", "品切れ", "なし")


def _products(ctx: Ctx) -> list[Product]:
    return list(ctx.session.scalars(select(Product).where(Product.shop_id == ctx.extra["shop_id"])
                                    .order_by(Product.id)))


def _find(ctx: Ctx, name: str) -> Product | None:
    from orders.ja_text import normalise
    wanted = normalise(name)
    for p in _products(ctx):
        if wanted in (normalise(p.name), normalise(p.kana)):
            return p
    return None


def _stock_number(value: str, parse_quantity) -> int:  # type: ignore[no-untyped-def]
    """Stock may exceed the 99 an order allows: plain digits (full-width too) go straight through."""
    digits = unicodedata.normalize("NFKC", value).rstrip("個本袋つ束パック")
    if digits.isdigit():
        return int(digits)
    return 0 if value in ("ゼロ", "れい") else parse_quantity(value)


def usage(ctx: Ctx, intro: str = "") -> list[Message]:
    shop = ctx.session.get(Shop, ctx.extra["shop_id"])
    head = f"{shop.name}のご担当さま\n" if shop else ""
    return [m.text(head + (intro + "\n" if intro else "") + USAGE,
                   quick=m.quick_reply([m.say("在庫")], start_over=False))]


def stock_list(ctx: Ctx) -> list[Message]:
    rows = []
    for p in _products(ctx):
        if not p.available:
            state = "お休み"
        elif p.stock is None:
            state = "制限なし"
        else:
            state = "売り切れ" if p.stock <= 0 else f"{p.stock}{p.unit}"
        rows.append(f"・{p.name}：{state}")
    body = "いまの在庫：\n" + ("\n".join(rows) if rows else "（商品がありません）")
    return [m.text(body, quick=m.quick_reply([m.say("在庫")], start_over=False))]


def typed(ctx: Ctx, text: str) -> list[Message]:
    from orders.ja_text import normalise, parse_quantity
    from shops.service import set_available, set_stock
    body = text.strip()
    if normalise(body) in ("在庫", "ざいこ", "一覧"):
        return stock_list(ctx)
    match = re.match(r"^(.+?)[\s　]+(\S+)$", body)
    if not match:
        return usage(ctx)
    name, value = match.group(1).strip(), match.group(2).strip()
    product = _find(ctx, name)
    if product is None:
        return usage(ctx, f"「{name}」という商品が見つかりませんでした。")
    actor = ctx.actor
    try:
        with ctx.session.begin_nested():
            if value in SOLD_OUT_WORDS:
                if product.stock is None:
                    set_available(ctx.session, product_id=product.id, available=False, actor=actor,
                                  channel="line", now=ctx.now)
                else:
                    set_stock(ctx.session, product_id=product.id, new_stock=0, actor=actor,
                              channel="line", now=ctx.now)
                reply = f"{product.name}を売り切れにしました。"
            else:
                quantity = _stock_number(value, parse_quantity)
                set_stock(ctx.session, product_id=product.id, new_stock=quantity, actor=actor,
                          channel="line", now=ctx.now)
                if not product.available:
                    set_available(ctx.session, product_id=product.id, available=True, actor=actor,
                                  channel="line", now=ctx.now)
                reply = f"{product.name}の在庫を{quantity}{product.unit}にしました。"
    except DomainError as exc:
        return usage(ctx, error_text(exc))
    return [m.text(reply, quick=m.quick_reply([m.say("在庫")], start_over=False))]
