"""Ordering by buttons: shops → categories → products → quantity → basket → date/window → confirm.

Every screen has 戻る (to the screen before) and 最初から. The basket lives in the conversation state;
nothing is reserved until the order is confirmed by ``orders.service.place_order``.
"""

from __future__ import annotations

from typing import Any

from bot import messages as m
from bot.messages import Message
from bot.conversation.common import date_ja, error_text, menu, remember_back, yen
from bot.conversation.state import Ctx
from orders.basket import Wanted, apply_changes
from orders.calendar import ANY_TIME, delivery_choices
from orders.placing import MAX_QUANTITY
from core.errors import DomainError
from orders.service import LineItem, change_order, order_or_add, order_or_none, quote_for_door, quote_order
from residents.service import resident_with_district
from shops.models import Product
from shops.service import list_categories, list_products, list_shops, normalise_text, product_by_id
from understanding import parse_quantity

PAGE = 11          # bubbles per carousel page, leaving the 12th for 「次へ」
QUICK_QTYS = (1, 2, 3, 4, 5, 10)
CARD_QTYS = (1, 2, 3)   # quantity buttons on each product card
KIND_JA = {"farm_stand": "直売所", "shop": "商店"}


def _stock_line(p: Product) -> str:
    if not p.available:
        return "ただいまお休み"
    if p.stock is None:
        return "在庫あり"
    return "売り切れ" if p.stock <= 0 else f"残り{p.stock}{p.unit}"


def _orderable(p: Product) -> bool:
    return p.available and (p.stock is None or p.stock > 0)


def _page(items: list[Any], page: int) -> tuple[list[Any], bool]:
    """One carousel page: 11 and a 「次へ」 bubble, or all 12 when the rest fits (no 次へ needed)."""
    start = page * PAGE
    if len(items) - start <= m.MAX_BUBBLES:
        return items[start:], False
    return items[start:start + PAGE], True


def shops(ctx: Ctx, page: int = 0) -> list[Message]:
    ctx.state["step"] = "shops"
    back = remember_back(ctx, "menu")
    all_shops = [s for s in list_shops(ctx.session) if getattr(s, "active", True)]
    if not all_shops:
        return [m.text("ただいまご注文いただけるお店がありません。", quick=m.quick_reply([], back=back))]
    shown, more = _page(all_shops, page)
    # Straight to the shop's products (categories are a filter there): one tap fewer than a
    # category question first.
    bubbles = [m.bubble(s.name, [KIND_JA.get(s.kind, "")], [m.postback("このお店を見る", "prods", s=s.id)])
               for s in shown]
    if more:
        bubbles.append(m.bubble("ほかのお店", ["続きを見る"], [m.postback("次へ", "shops", pg=page + 1)]))
    actions = [m.postback("かごを見る", "basket")] if ctx.basket() else []
    return [m.flex("お店を選んでください", bubbles, quick=m.quick_reply(actions, back=back))]


def categories(ctx: Ctx, shop_id: int) -> list[Message]:
    """Kept for postbacks already in chats (「このお店を見る」 used to ask for a category first)."""
    return products(ctx, shop_id, None)


def _quantity_buttons(p: Product) -> list[m.Action]:
    """1, 2, 3 on the card itself (no stock shown beyond what is left), then 「ほかの数」 for the
    quantity question: the common amounts go into the basket in one tap."""
    room = MAX_QUANTITY if p.stock is None else min(MAX_QUANTITY, p.stock)
    quick = [m.postback(f"{n}{p.unit}", "add", p=p.id, q=n) for n in CARD_QTYS if n <= room]
    return quick + [m.postback("ほかの数", "qty", p=p.id)]


PRODUCTS_PAGE = 10  # products per page: room in the 13 quick replies for paging, shops, 戻る, 最初から
MORE_PRODUCTS = "ほかの商品を見る"
PREVIOUS_PAGE = "前へ"
# Typed on a products page: 「ほか」「次」 turn the page, 「前」 goes back one (normalised, no spaces).
TYPED_NEXT = frozenset({"ほか", "ほかの", "ほかの商品", "ほかの商品を見る", "次", "つぎ", "次へ", "つぎへ"})
TYPED_PREVIOUS = frozenset({"前", "まえ", "前へ", "まえへ"})


def _products_page(count: int, page: int) -> int:
    """A page number from postback data anyone can craft, clamped to the pages that exist."""
    last = max(0, (count - 1) // PRODUCTS_PAGE) if _paged(count) else 0
    return max(0, min(page, last))


def _paged(count: int) -> bool:
    # Up to a full carousel (12) is shown at once: a demo shop of 12 is not split, which would cost
    # a tap on the two-item order (issue 11's tap targets); past that, pages of 10.
    return count > m.MAX_BUBBLES


def products(ctx: Ctx, shop_id: int, category: str | None, page: int = 0) -> list[Message]:
    ctx.state["step"] = "prods"
    items = list(list_products(ctx.session, shop_id=shop_id, category=category))
    page = _products_page(len(items), page)
    ctx.state["browse"] = {"s": shop_id, "c": category, "pg": page}
    back = remember_back(ctx, "prods", s=shop_id) if category else remember_back(ctx, "shops")
    if not items:
        return [m.text("いまは商品がありません。", quick=m.quick_reply([m.postback("ほかのお店を見る", "shops")],
                                                                    back=back))]
    start = page * PRODUCTS_PAGE
    shown = items[start:start + PRODUCTS_PAGE] if _paged(len(items)) else items
    bubbles = []
    for p in shown:
        buttons = _quantity_buttons(p) if _orderable(p) else []
        bubbles.append(m.bubble(p.name, [f"{yen(p.price_yen)}（1{p.unit}）", _stock_line(p)], buttons,
                                image_url=p.photo_url))
    # Paging goes first among the quick replies so the 13-item trim below never drops it.
    paging: list[Any] = []
    if _paged(len(items)) and start + PRODUCTS_PAGE < len(items):
        paging.append(m.postback(MORE_PRODUCTS, "prods", s=shop_id, c=category, pg=page + 1))
    if page > 0:
        paging.append(m.postback(PREVIOUS_PAGE, "prods", s=shop_id, c=category, pg=page - 1))
    actions: list[Any] = [m.postback("かごを見る", "basket")] if ctx.basket() else []
    if category is None:
        cats = [str(c) for c in list_categories(ctx.session, shop_id=shop_id)]
        actions += [m.postback(c, "prods", s=shop_id, c=c) for c in cats] if len(cats) > 1 else []
    else:
        actions.append(m.postback("このお店の全部", "prods", s=shop_id))
    # The way back to all shops must survive the 13-button limit: categories give way first.
    room = m.MAX_QUICK_REPLY - 2 - len(paging) - 1   # 戻る, 最初から, paging, ほかのお店を見る
    actions = paging + actions[:room] + [m.postback("ほかのお店を見る", "shops")]
    flex = m.flex("商品を選んでください", bubbles, quick=m.quick_reply(actions, back=back))
    if not _paged(len(items)):
        return [flex]
    where = f"{len(items)}種類のうち{start + 1}〜{start + len(shown)}番目"
    return [m.text(where), flex]


def typed_page(ctx: Ctx, text: str) -> list[Message] | None:
    """「ほか」「次」 / 「前」 typed while a products page is shown: the next or previous page."""
    browse = ctx.state.get("browse") or {}
    if not browse.get("s"):
        return None
    word = normalise_text(text).rstrip("。、！!")
    page = int(browse.get("pg") or 0)
    if word in {normalise_text(w) for w in TYPED_NEXT}:
        return products(ctx, int(browse["s"]), browse.get("c") or None, page + 1)
    if word in {normalise_text(w) for w in TYPED_PREVIOUS}:
        return products(ctx, int(browse["s"]), browse.get("c") or None, page - 1)
    return None


def _back_to_products(ctx: Ctx) -> m.Action:
    browse = ctx.state.get("browse") or {}
    if browse.get("s"):
        return remember_back(ctx, "prods", s=browse["s"], c=browse.get("c"), pg=browse.get("pg"))
    return remember_back(ctx, "shops")


def _shop_in_use(ctx: Ctx) -> int | None:
    """The shop being browsed, else the shop of the basket's last item (a typed order)."""
    browse = ctx.state.get("browse") or {}
    if browse.get("s"):
        return int(browse["s"])
    for pid, _qty in reversed(ctx.basket()):
        p = product_by_id(ctx.session, pid)
        if p is not None:
            return p.shop_id
    return None


def more_actions(ctx: Ctx) -> list[m.Action]:
    """「ほかの商品も買う」 stays in the shop in use; 「ほかのお店を見る」 goes back to all shops."""
    shop_id = _shop_in_use(ctx)
    same = (m.postback("ほかの商品も買う", "prods", s=shop_id) if shop_id
            else m.postback("ほかの商品も買う", "shops"))
    return [same, m.postback("ほかのお店を見る", "shops")]


def ask_quantity(ctx: Ctx, product_id: int, problem: str = "") -> list[Message]:
    product = product_by_id(ctx.session, product_id)
    if product is None:
        return menu(ctx, "その商品は見つかりませんでした。")
    ctx.state["step"] = "qty"
    ctx.state["pid"] = product.id
    back = _back_to_products(ctx)
    actions = [m.postback(f"{n}{product.unit}", "add", p=product.id, q=n) for n in QUICK_QTYS]
    body = (problem + "\n" if problem else "") + (
        f"{product.name}（{yen(product.price_yen)}／{product.unit}）をいくつにしますか？\n"
        "下のボタンか、数字（例：3、三）を送ってください。")
    return [m.text(body, quick=m.quick_reply(actions, back=back))]


def typed_quantity(ctx: Ctx, text: str) -> list[Message] | None:
    """A number typed at 「いくつにしますか？」; None when the text is not a number at all (the
    caller then reads it as a new request: 「やっぱりいつもの」)."""
    pid = int(ctx.state.get("pid") or 0)
    try:
        quantity = parse_quantity(text)
    except DomainError as exc:
        if exc.code == "quantity_unclear":
            return None
        return ask_quantity(ctx, pid, error_text(exc))
    return add(ctx, pid, quantity)


def set_quantity(ctx: Ctx, product_id: int, quantity: int) -> list[Message]:
    """「2本にする」 after 「大根は、かごに2本入っています」: the line becomes that number."""
    basket = [line for line in ctx.basket() if line[0] != product_id]
    position = next((i for i, line in enumerate(ctx.basket()) if line[0] == product_id), len(basket))
    basket.insert(position, [product_id, quantity])
    ctx.set_basket(basket)
    product = product_by_id(ctx.session, product_id)
    name, unit = (product.name, product.unit) if product is not None else ("", "")
    return _then(ctx, product_id, [f"{name}を{quantity}{unit}にしました。"])


def add(ctx: Ctx, product_id: int, quantity: int) -> list[Message]:
    """Into the basket, and straight to the order card: confirming is one tap from here, and
    「ほかの商品も買う」 (same shop) / 「ほかのお店を見る」 sit under it. Nothing counts before 注文する."""
    product = product_by_id(ctx.session, product_id)
    if product is None:
        return menu(ctx, "その商品は見つかりませんでした。")
    basket = ctx.basket()
    apply_changes(basket, [Wanted("add", product_id, quantity)])
    ctx.set_basket(basket)
    return _then(ctx, product_id, [f"{product.name}を{quantity}{product.unit}、かごに入れました。"])


def _then(ctx: Ctx, product_id: int, notes: list[str]) -> list[Message]:
    # Products said with the answer and waiting behind its question come first (``extra`` holds
    # ``understood.after_answer``, set by the conversation root: it imports this module), else the card.
    going_on = ctx.extra.get("after_answer")
    return (going_on(ctx, product_id, notes) if going_on else None) or quote(ctx, notes=notes)


def _basket_lines(ctx: Ctx) -> tuple[list[str], int]:
    lines, subtotal = [], 0
    for pid, qty in ctx.basket():
        p = product_by_id(ctx.session, pid)
        if p is None:
            continue
        subtotal += p.price_yen * qty
        lines.append(f"・{p.name} {qty}{p.unit}　{yen(p.price_yen * qty)}")
    return lines, subtotal


def show_basket(ctx: Ctx, intro: str = "") -> list[Message]:
    ctx.state["step"] = "basket"
    back = remember_back(ctx, "shops")
    lines, subtotal = _basket_lines(ctx)
    if not lines:
        return [m.text("かごは空です。", quick=m.quick_reply([m.postback("注文する", "shops")]))]
    head = [intro] if intro else []
    if ctx.state.get("changing"):
        head.append(f"注文番号{ctx.state['changing']}の変更です。")
    body = "\n".join(head + ["いまのかご："] + lines + [f"小計 {yen(subtotal)}（配達料は次に表示します）"])
    actions = [m.postback("注文に進む", "quote"), *more_actions(ctx), m.postback("かごを空にする", "clear")]
    return [m.text(body, quick=m.quick_reply(actions, back=back))]


def clear(ctx: Ctx) -> list[Message]:
    ctx.set_basket([])
    if ctx.state.get("changing"):
        # Still changing that order: choose its items again (最初から gives up the change).
        return [m.text(f"かごを空にしました。注文番号{ctx.state['changing']}の商品を選び直してください。",
                       quick=m.quick_reply([m.postback("お店を選ぶ", "shops")]))]
    return menu(ctx, "かごを空にしました。")


def _items(ctx: Ctx) -> list[Any]:
    return [LineItem(product_id=pid, quantity=qty) for pid, qty in ctx.basket()]


def quote_bubble(quote: Any, *, title: str, confirm: dict[str, Any] | list[dict[str, Any]],
                 cancel: dict[str, Any], notes: list[str] | None = None,
                 choose_window: bool = False) -> dict[str, Any]:
    """The show-before-confirm card: items, total, delivery day and time window, cutoff.
    ``choose_window``: the district has several windows and none was chosen; the card names the day
    and each confirm button names its window (one tap chooses and confirms)."""
    lines = [f"{getattr(l, 'name', '')} {getattr(l, 'quantity', '')}{getattr(l, 'unit', '')}　"
             f"{yen(int(getattr(l, 'line_total_yen', 0)))}" for l in quote.lines]
    window = quote.window
    delivery = (f"お届け：{date_ja(quote.delivery_date)}（時間帯は下のボタンで選んで注文します）" if choose_window
                else f"お届け：{date_ja(quote.delivery_date)} {window.label}（{window.start}〜{window.end}）")
    lines += [f"商品 {yen(quote.subtotal_yen)}／配達料 {yen(quote.fee_yen)}",
              f"合計 {yen(quote.total_yen)}", delivery,
              f"締め切り：{quote.cutoff_at.month}月{quote.cutoff_at.day}日 {quote.cutoff_at:%H:%M}"]
    lines += notes or []
    confirms = confirm if isinstance(confirm, list) else [confirm]
    return m.bubble(title, lines, [*confirms, cancel])


def quote(ctx: Ctx, window_code: str | None = None, notes: list[str] | None = None) -> list[Message]:
    """Show date, window and total before anything counts; ask for the window first if there is a choice.
    With an open order for that day, the card says the items go into it, with no second fee."""
    if not ctx.basket():
        return show_basket(ctx)
    # Held until the end: quote_order then finds the resident and district in the session.
    resident = resident_with_district(ctx.session, ctx.resident_id)
    changing = ctx.state.get("changing")
    into = None
    try:
        if changing:
            # The card shows the window the order keeps (a change does not move it).
            kept = order_or_none(ctx.session, int(changing))
            q = quote_order(ctx.session, resident_id=ctx.resident_id, items=_items(ctx), now=ctx.now,
                            window_code=window_code or (kept.window_code if kept is not None else None))
        else:
            q, into = quote_for_door(ctx.session, resident_id=ctx.resident_id, items=_items(ctx), now=ctx.now,
                                     window_code=window_code)
    except DomainError as exc:
        return show_basket(ctx, error_text(exc))
    # The district's windows are the same on every delivery day. With a choice (and no window chosen
    # yet, not an addition: that comes with the order it joins), each confirm button names its window.
    # A change keeps its order's window (change_order takes none): no window buttons then either.
    windows = (list(delivery_choices(resident.district))
               if window_code is None and resident is not None and into is None and not changing else [])
    ctx.state["step"] = "confirm"
    back = remember_back(ctx, "basket")
    quick = m.quick_reply([*more_actions(ctx), m.postback("かごを見る", "basket")], back=back)
    cancel = m.postback("かごに戻る", "basket")
    if into is not None:
        bubble = quote_bubble(q, title=f"注文番号 {into} に追加しますか？", notes=(notes or []) + addition_notes(into),
                              confirm=m.postback(f"注文番号{into}に追加する", "confirm", w=q.window.code, into=into),
                              cancel=cancel)
        return [m.flex("ご注文の確認", [bubble], quick=quick)]
    title = "この内容でよろしいですか？" if not changing else "この内容に変更しますか？"
    if len(windows) > 1:
        confirms = [m.postback(f"{w.label} {w.start}〜{w.end}で注文" if w.code != ANY_TIME else f"{w.label}で注文",
                               "confirm", w=w.code) for w in windows]
        bubble = quote_bubble(q, title=title, notes=notes, confirm=confirms, cancel=cancel, choose_window=True)
    else:
        bubble = quote_bubble(q, title=title, notes=notes,
                              confirm=m.postback("この内容で注文する", "confirm", w=q.window.code), cancel=cancel)
    return [m.flex("ご注文の確認", [bubble], quick=quick)]


def addition_notes(into: int) -> list[str]:
    return [f"同じ日にお届けするご注文（注文番号 {into}）に追加します。",
            "お届けは1回、配達料は追加でかかりません。"]


def repeat_question(ctx: Ctx, question: str, yes: m.Action) -> list[Message]:
    """「さきほど同じご注文…追加しますか？」 with はい／いいえ: nothing is placed until はい."""
    ctx.state["step"] = "repeat"
    return [m.text(question, quick=m.quick_reply([yes, m.postback("いいえ", "norep")]))]


def no_repeat(ctx: Ctx) -> list[Message]:
    ctx.set_basket([])
    return menu(ctx, "追加はしませんでした。")


def confirm(ctx: Ctx, window_code: str | None, *, into: int | None = None,
            repeat_ok: bool = False) -> list[Message]:
    """Place the order, add it to the open order of that day (``into``, as the card said), or change an
    order; the confirming event's id is the idempotency key."""
    if not ctx.basket():
        return menu(ctx, "かごが空です。")
    changing = ctx.state.get("changing")
    added = False
    try:
        with ctx.session.begin_nested():
            if changing:
                order = change_order(ctx.session, order_id=int(changing), items=_items(ctx), actor=ctx.actor,
                                     channel="line", now=ctx.now, resident_id=ctx.resident_id)
            else:
                placed = order_or_add(ctx.session, resident_id=ctx.resident_id, items=_items(ctx),
                                      placed_by=ctx.actor, channel="line", now=ctx.now,
                                      idempotency_key=f"line:{ctx.event_id}", window_code=window_code,
                                      into=into, repeat_ok=repeat_ok)
                order, added = placed.order, placed.added
    except DomainError as exc:
        if exc.code == "repeat_order":
            return repeat_question(ctx, exc.message, m.postback("はい", "confirm", w=window_code, into=into, rep=1))
        return show_basket(ctx, error_text(exc))
    ctx.set_basket([])
    ctx.state.pop("changing", None)
    if added:
        head = f"注文番号 {order.id} のご注文に追加しました。ありがとうございます。\n配達料は1回分のままです。"
    else:
        verb = "変更しました" if changing else "承りました"
        head = f"ご注文を{verb}。ありがとうございます。\n注文番号 {order.id}"
    done = (f"{head}\n"
            f"お届け：{date_ja(order.delivery_date)} {order.window_start}〜{order.window_end}\n"
            f"合計 {yen(order.total_yen)}（お届けの時にお支払いください）")
    return menu(ctx, done)
