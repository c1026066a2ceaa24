"""The LINE conversation: who is writing (guest, resident, family, shop owner, driver), where their chat
stands, and which screen answers this event. Calls the same services as every other channel.

``handle(session, incoming, now=..., config=...)`` returns the messages to send back; it writes only
through services and the conversation row, inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl

from bot import messages as m
from bot.conversation import common, driver, my_orders, ordering, registration, shop, understood
from bot.conversation.state import Ctx
from bot.events import Incoming
from bot.messages import Message
from core.conversations import save_state
from core.errors import DomainError
from core.inputs import db_int
from links.roles import LineRoles, line_roles, open_line_conversation
from orders.placing import MAX_QUANTITY
from residents.service import family_link_id, residents_for_family
from understanding import waiting

__all__ = ["handle"]


def _identify(ctx: Ctx, roles: LineRoles | None = None) -> None:
    """Fill in the role, the resident served and the actor string recorded on orders (``roles``:
    when the caller already read them with the conversation row)."""
    if roles is None:
        roles = line_roles(ctx.session, ctx.user_id)
    if roles.owner_id is not None:
        ctx.role, ctx.actor, ctx.extra["shop_id"] = "shop", f"shop_owner:{roles.owner_id}", roles.shop_id
        return
    if roles.driver_id is not None:
        ctx.role, ctx.actor, ctx.extra["driver_id"] = "driver", f"driver:{roles.driver_id}", roles.driver_id
        return
    if roles.resident_id is not None:
        ctx.role, ctx.resident_id, ctx.actor = "resident", roles.resident_id, f"resident:{roles.resident_id}"
        return
    family = residents_for_family(ctx.session, ctx.user_id)
    if family:
        chosen = next((r for r in family if r.id == ctx.state.get("for")), family[0])
        link_id = family_link_id(ctx.session, resident_id=chosen.id, line_user_id=ctx.user_id)
        ctx.role, ctx.resident_id = "family", chosen.id
        ctx.actor = f"family:{link_id or 0}"
        ctx.state["for"] = chosen.id
        ctx.extra.update(for_name=chosen.name, family_count=len(family),
                         family=[(r.id, r.name) for r in family])


def _int(value: Any) -> int:
    # Postback data is text anyone with a LINE client can craft: an id past the database's range is 0.
    return db_int(value) or 0


def _customer_action(ctx: Ctx, action: str, d: Mapping[str, str]) -> list[Message] | None:
    """Postback actions of residents and family members."""
    table: dict[str, Callable[[], list[Message]]] = {
        "menu": lambda: common.menu(ctx),
        "help": lambda: common.help_(ctx),
        "shops": lambda: ordering.shops(ctx, _int(d.get("pg"))),
        "cats": lambda: ordering.categories(ctx, _int(d.get("s"))),
        "prods": lambda: ordering.products(ctx, _int(d.get("s")), d.get("c") or None, _int(d.get("pg"))),
        "qty": lambda: ordering.ask_quantity(ctx, _int(d.get("p"))),
        "add": lambda: ordering.add(ctx, _int(d.get("p")), max(1, min(MAX_QUANTITY, _int(d.get("q"))))),
        "set": lambda: ordering.set_quantity(ctx, _int(d.get("p")), max(1, min(MAX_QUANTITY, _int(d.get("q"))))),
        "basket": lambda: ordering.show_basket(ctx),
        "clear": lambda: ordering.clear(ctx),
        "quote": lambda: ordering.quote(ctx, d.get("w") or None),
        "confirm": lambda: ordering.confirm(ctx, d.get("w") or None, into=_int(d.get("into")) or None,
                                            repeat_ok=d.get("rep") == "1"),
        "norep": lambda: ordering.no_repeat(ctx),
        "usual": lambda: my_orders.usual(ctx),
        "usualok": lambda: my_orders.usual_confirm(ctx, into=_int(d.get("into")) or None,
                                                   repeat_ok=d.get("rep") == "1"),
        "status": lambda: my_orders.status(ctx),
        "cancel": lambda: my_orders.ask_cancel(ctx, _int(d.get("o"))),
        "cancelok": lambda: my_orders.cancel(ctx, _int(d.get("o"))),
        "change": lambda: my_orders.change(ctx, _int(d.get("o"))),
        "who": lambda: _choose_resident(ctx),
        "for": lambda: _switch_resident(ctx, _int(d.get("r"))),
    }
    fn = table.get(action)
    return fn() if fn else None


def _choose_resident(ctx: Ctx) -> list[Message]:
    actions = [m.postback(f"{name}さん", "for", r=rid) for rid, name in ctx.extra.get("family", [])]
    return [m.text("どなたのご注文ですか？", quick=m.quick_reply(actions))]


def _switch_resident(ctx: Ctx, resident_id: int) -> list[Message]:
    if any(rid == resident_id for rid, _ in ctx.extra.get("family", [])):
        ctx.state["for"] = resident_id
        ctx.set_basket([])
        _identify(ctx)
    return common.menu(ctx)


def _guest_action(ctx: Ctx, action: str, d: Mapping[str, str]) -> list[Message] | None:
    reg = ctx.state.setdefault("reg", {})
    if action == "regd":
        reg["district_id"] = _int(d.get("d"))
        return registration.ask_address(ctx)
    if action == "regskip":
        return registration.ask_phone(ctx) if d.get("f") == "loc" else registration.ask_consent(ctx)
    table: dict[str, Callable[[], list[Message]]] = {
        "reg": lambda: registration.start(ctx), "link": lambda: registration.ask_code(ctx),
        "regok": lambda: registration.finish(ctx), "help": lambda: common.help_(ctx),
        "regback": lambda: registration.back_to(ctx, d.get("to", "")),
        "menu": lambda: registration.greeting(ctx),
        "first": lambda: registration.register_first(ctx),
        "callme": lambda: registration.ask_callback_phone(ctx),
    }
    fn = table.get(action)
    # Anything else (注文する, いつもの, a rich-menu tile, an old button): register first.
    return fn() if fn else registration.register_first(ctx)


def _action(ctx: Ctx, d: Mapping[str, str]) -> list[Message]:
    """A postback (or a typed keyword turned into one)."""
    action = d.get("a", "")
    if action == "back":
        previous = dict(parse_qsl(ctx.state.get("back") or "a=menu"))
        return _action(ctx, previous if previous.get("a") != "back" else {"a": "menu"})
    if action == "link" or (ctx.role == "guest" and action != "help"):
        if action == "link":
            return registration.ask_code(ctx)
        return _guest_action(ctx, action, d)
    if ctx.role == "shop":
        return shop.stock_list(ctx) if action == "stock" else shop.usage(ctx)
    if ctx.role == "driver":
        return driver.action(ctx, action, d)
    if action == "menu":
        ctx.set_basket(ctx.basket() if not ctx.state.get("changing") else [])
        ctx.state.pop("changing", None)
    # Only the open question's own answer (a quantity or a choice tapped on its screen) keeps the
    # products waiting behind it; any other tap abandons it (understanding.waiting.keep_for).
    step = ctx.state.get("step")
    answering = (action in ("add", "set") and step in ("qty", "ask")) or (action == "qty" and step == "ask")
    waiting.keep_for(ctx.state, _int(d.get("p")) if answering else None)
    return _customer_action(ctx, action, d) or common.not_understood(ctx)


def _text(ctx: Ctx, text: str) -> list[Message]:
    """Typed text: read by the understanding layer (shared with the phone line), then shown."""
    if ctx.role == "shop":
        return shop.typed(ctx, text)
    if ctx.role == "driver":
        return driver.typed(ctx, text)
    if ctx.role == "guest":
        # Short words only (「戻る」「最初から」「相談」): a name or an address is registration's to read.
        said = understood.read(ctx, text)
        if said.intent in ("menu", "back", "help", "talk_to_person") and len(text.strip()) <= 10:
            return _action(ctx, {"a": "help" if said.intent == "talk_to_person" else said.intent})
        answer = registration.typed(ctx, text)
        if answer is not None:
            return answer
        return registration.register_first(ctx)
    if ctx.state.get("step") == "qty":
        answer = ordering.typed_quantity(ctx, text)
        if answer is not None:
            return answer
    if ctx.state.get("step") == "prods":
        answer = ordering.typed_page(ctx, text)
        if answer is not None:
            return answer
    if ctx.state.get("step") == "ask":
        answer = understood.typed_answer(ctx, text)
        if answer is not None:
            return answer
    said = understood.read(ctx, text)
    if said.intent == "back":
        return _action(ctx, {"a": "back"})
    if said.intent == "menu":
        return _action(ctx, {"a": "menu"})
    return understood.render(ctx, said)


def handle(session: Any, incoming: Incoming, *, now: Any, config: Mapping[str, Any]) -> list[Message]:
    """Answer one event (the caller has already claimed its id in this transaction)."""
    if incoming.kind == "unfollow" or incoming.user_id is None:
        return []   # blocked: nothing can be sent; the conversation row is kept for a return
    conv, roles = open_line_conversation(session, line_user_id=incoming.user_id, now=now)
    ctx = Ctx(session=session, incoming=incoming, now=now, config=config, state=dict(conv.state or {}),
              user_id=incoming.user_id)
    ctx.extra["after_answer"] = understood.after_answer   # ordering goes on to products said with an answer
    _identify(ctx, roles)
    try:
        # A rule broken somewhere unexpected is answered politely instead of failing the event
        # (which LINE would redeliver, failing again); the savepoint drops any partial change.
        with session.begin_nested():
            answer = _route(ctx, incoming)
    except DomainError as exc:
        answer = common.menu(ctx, common.error_text(exc))
    save_state(session, conv, ctx.state, now)
    return answer


def _route(ctx: Ctx, incoming: Incoming) -> list[Message]:
    if incoming.kind == "follow":
        return registration.greeting(ctx) if ctx.role == "guest" else _action(ctx, {"a": "menu"})
    if incoming.kind == "postback":
        return _action(ctx, incoming.data)
    if incoming.kind == "location":
        return registration.location(ctx) or common.not_understood(ctx)
    if incoming.kind == "text":
        return _text(ctx, incoming.text)
    return []
