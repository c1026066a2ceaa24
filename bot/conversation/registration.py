"""First contact: greeting, self-registration (name, reading, district, address, location pin, phone,
consent), or linking an account with a one-time code (residents registered by staff, family, shops,
drivers)."""

from __future__ import annotations

from typing import Any

from bot import messages as m
from bot.messages import Message
from bot.conversation.common import error_text, menu, remember_back
from bot.conversation.state import Ctx
from core.errors import DomainError
from links.service import next_step_for_code, normalise_code, phone_confirms_code, redeem_code
from residents.service import (district_or_none, list_districts, normalise_phone, register_resident,
                               request_callback)


def greeting(ctx: Ctx) -> list[Message]:
    # Start afresh, but keep the wrong-code counter: unfollow + follow must not reset it.
    kept = {k: ctx.state[k] for k in ("code_tries", "code_locked_until") if k in ctx.state}
    ctx.state.clear()
    ctx.state.update(kept)
    body = ("友だち追加ありがとうございます。お届けサービスです。\n"
            "お店の品物を、ご自宅までお届けします。\n"
            "はじめての方は「登録する」を、担当者からコードを受け取った方は「コードを入力」を押してください。")
    actions = [m.postback("登録する", "reg"), m.postback("コードを入力", "link"), m.postback("電話で相談", "help")]
    return [m.text(body, quick=m.quick_reply(actions, start_over=False))]


REGISTER_FIRST = "ご注文の前に、お名前と住所の登録をお願いします。"


def register_first(ctx: Ctx, intro: str = "") -> list[Message]:
    """What every message of someone not registered gets (「注文」, 「いつもの」, a rich-menu tile):
    the way in, instead of the friend-added greeting again. Kept: a registration under way and the
    wrong-code counter; dropped: a half-typed step."""
    ctx.state.pop("step", None)
    ctx.state.pop("back", None)
    body = "\n".join(([intro] if intro else []) + [
        REGISTER_FIRST,
        "このLINEで、お名前・ふりがな・地区・ご住所・お電話をお聞きします（数分で終わります）。",
        "入力がむずかしい方には、役場の担当者からお電話します。"])
    actions = [m.postback("登録する", "reg"), m.postback("役場から電話してもらう", "callme"),
               m.postback("コードを入力", "link")]
    return [m.text(body, quick=m.quick_reply(actions))]


def ask_callback_phone(ctx: Ctx, problem: str = "") -> list[Message]:
    return _ask(ctx, "callme_phone", (problem + "\n" if problem else "") +
                "担当者からおかけするお電話番号を送ってください。\n（例：0238-88-1234）", "first")


def callback_phone(ctx: Ctx, value: str) -> list[Message]:
    """Queue the call-back request for staff (``/voice/messages``), like a registration voicemail."""
    try:
        with ctx.session.begin_nested():
            request_callback(ctx.session, phone=value, line_user_id=ctx.user_id, key=ctx.event_id, now=ctx.now)
    except DomainError as exc:
        return ask_callback_phone(ctx, error_text(exc))
    ctx.state.pop("step", None)
    ctx.state.pop("back", None)
    body = (f"承りました。役場の担当者から {value.strip()[:32]} にお電話します（平日 9時〜17時）。\n"
            "お電話をお待ちのあいだに、このLINEで登録することもできます。")
    return [m.text(body, quick=m.quick_reply([m.postback("登録する", "reg")]))]


def start(ctx: Ctx) -> list[Message]:
    ctx.state["step"] = "reg_name"
    ctx.state["reg"] = {}
    # 戻る: one step back, to the choice 登録する / 役場から電話してもらう; 最初から: the greeting.
    back = remember_back(ctx, "first")
    return [m.text("お名前を送ってください。\n（例：長井 花子）", quick=m.quick_reply([], back=back))]


def _ask(ctx: Ctx, step: str, body: str, back_action: str, actions: list[Any] | None = None,
         **back_params: Any) -> list[Message]:
    ctx.state["step"] = step
    back = remember_back(ctx, back_action, **back_params)
    return [m.text(body, quick=m.quick_reply(actions or [], back=back))]


def ask_kana(ctx: Ctx, problem: str = "") -> list[Message]:
    return _ask(ctx, "reg_kana", (problem + "\n" if problem else "") + "お名前のふりがなを、ひらがなで送ってください。\n（例：ながい はなこ）", "reg")


def ask_district(ctx: Ctx) -> list[Message]:
    actions = [m.postback(d.name, "regd", d=d.id) for d in list_districts(ctx.session)]
    return _ask(ctx, "reg_district", "お住まいの地区を選んでください。", "regback", actions, to="kana")


def ask_address(ctx: Ctx) -> list[Message]:
    return _ask(ctx, "reg_addr", "ご住所を送ってください。\n（例：長井市本町1-2-3）", "regback", to="district")


def ask_location(ctx: Ctx) -> list[Message]:
    actions = [m.location_action(), m.postback("とばす", "regskip", f="loc")]
    return _ask(ctx, "reg_loc", "配達の目印に、ご自宅の位置を送ってください。\n下の「位置を送る」を押して、地図でご自宅を選びます。",
                "regback", actions, to="address")


def ask_phone(ctx: Ctx, problem: str = "") -> list[Message]:
    actions = [m.postback("とばす", "regskip", f="phone")]
    return _ask(ctx, "reg_phone", (problem + "\n" if problem else "") + "お電話番号を送ってください。\n（例：0238-88-1234）",
                "regback", actions, to="location")


def ask_consent(ctx: Ctx) -> list[Message]:
    reg = ctx.state.get("reg", {})
    district = district_or_none(ctx.session, int(reg.get("district_id") or 0))
    summary = [f"お名前：{reg.get('name')}（{reg.get('kana')}）",
               f"地区：{district.name if district else ''}", f"ご住所：{reg.get('address')}",
               f"位置：{'あり' if reg.get('lat') is not None else 'なし'}",
               f"お電話：{reg.get('phone_display') or 'なし'}"]
    body = ("この内容で登録します。\n" + "\n".join(summary) +
            "\nお名前・ご住所・お電話は、お届けのためだけに使います。同意して登録しますか？")
    actions = [m.postback("同意して登録する", "regok"), m.postback("はじめからやり直す", "reg")]
    return _ask(ctx, "reg_confirm", body, "regback", actions, to="phone")


def back_to(ctx: Ctx, where: str) -> list[Message]:
    steps = {"kana": ask_kana, "district": ask_district, "address": ask_address,
             "location": ask_location, "phone": ask_phone}
    return steps.get(where, start)(ctx)


def typed(ctx: Ctx, text: str) -> list[Message] | None:
    """Text typed during registration or code entry; None when no such step is active."""
    step, reg = ctx.state.get("step"), ctx.state.setdefault("reg", {})
    value = text.strip()
    if step == "reg_name":
        reg["name"] = value[:64]
        return ask_kana(ctx)
    if step == "reg_kana":
        reg["kana"] = value[:128]
        return ask_district(ctx)
    if step == "reg_addr":
        reg["address"] = value[:256]
        return ask_location(ctx)
    if step == "reg_phone":
        try:
            reg["phone"] = normalise_phone(value)
        except DomainError as exc:
            return ask_phone(ctx, error_text(exc))
        reg["phone_display"] = value[:32]
        return ask_consent(ctx)
    if step == "callme_phone":
        return callback_phone(ctx, value)
    if step == "code":
        return check_code(ctx, value)
    if step == "code_phone":
        return check_phone(ctx, value)
    return None


def location(ctx: Ctx) -> list[Message] | None:
    if ctx.state.get("step") != "reg_loc":
        return None
    reg = ctx.state.setdefault("reg", {})
    reg["lat"], reg["lon"] = ctx.incoming.lat, ctx.incoming.lon
    return ask_phone(ctx)


def finish(ctx: Ctx) -> list[Message]:
    reg = ctx.state.get("reg", {})
    try:
        with ctx.session.begin_nested():
            resident = register_resident(
                ctx.session, name=reg.get("name", ""), kana=reg.get("kana", ""),
                district_id=int(reg.get("district_id") or 0), address=reg.get("address", ""),
                lat=reg.get("lat"), lon=reg.get("lon"), phone=reg.get("phone"), line_user_id=ctx.user_id,
                consent=True, actor="resident:self", channel="line", now=ctx.now)
    except DomainError as exc:
        return [m.text(error_text(exc) + "\nもう一度、はじめから登録します。",
                       quick=m.quick_reply([m.postback("登録する", "reg"), m.postback("電話で相談", "help")]))]
    ctx.state.pop("reg", None)
    ctx.role, ctx.resident_id, ctx.actor = "resident", resident.id, f"resident:{resident.id}"
    return menu(ctx, f"{resident.name}さん、ご登録ありがとうございます。")


def ask_code(ctx: Ctx) -> list[Message]:
    return _ask(ctx, "code", "担当者からお知らせしたコードを送ってください。", "menu")


_WELCOME = {
    "resident": "LINEとつながりました。これからLINEでご注文いただけます。",
    "family": "ご家族として登録しました。代わりにご注文いただけます。",
    "shop": "お店の担当として登録しました。\n「大根 20」「大根 +5」「大根 150円」「売り切れ 大根」のように送ると商品を変えられます。「在庫」で一覧、「今日の注文」で集荷リストを見られます。",
    "driver": "配達員として登録しました。配達の日に、回る順番をお送りします。",
}


# What to do next once linked (the next event is answered in the new role; the buttons carry the same
# data as the rich menu and the role's own screens).
_NEXT: dict[str, list[Any]] = {
    "resident": [m.postback("注文する", "shops"), m.postback("いつもの", "usual"), m.postback("注文の確認", "status"),
                 m.postback("電話で相談", "help")],
    "family": [m.postback("注文する", "shops"), m.postback("いつもの", "usual"), m.postback("注文の確認", "status"),
               m.postback("電話で相談", "help")],
    "shop": [m.say("在庫"), m.say("今日の注文")],
}


MAX_TRIES = 5            # wrong codes or phone numbers before the chat stops taking codes for a while
LOCKOUT_S = 3600


def _locked(ctx: Ctx) -> list[Message] | None:
    until = float(ctx.state.get("code_locked_until") or 0)
    if ctx.now.timestamp() < until:
        phone = ctx.config.get("COORDINATOR_PHONE") or ""
        ctx.state.pop("step", None)
        return [m.text(f"入力をまちがえた回数が多いため、しばらくお待ちください。\n"
                       f"お急ぎの方は担当者にお電話ください。📞 {phone}")]
    return None


def _failed(ctx: Ctx, step: str, message: str) -> list[Message]:
    """Count a wrong try; too many → stop taking codes for an hour (codes are only 6 digits)."""
    tries = int(ctx.state.get("code_tries") or 0) + 1
    ctx.state["code_tries"] = tries
    if tries >= MAX_TRIES:
        ctx.state["code_locked_until"] = ctx.now.timestamp() + LOCKOUT_S
        ctx.state.pop("pending_code", None)
        ctx.state["code_tries"] = 0
        return _locked(ctx) or []
    return _ask(ctx, step, message, "menu", [m.postback("電話で相談", "help")])


def check_code(ctx: Ctx, code: str) -> list[Message]:
    """A resident registered by staff confirms with the phone number on file before the code links
    (the rule is the linking service's: ``next_step_for_code``)."""
    locked = _locked(ctx)
    if locked:
        return locked
    text = normalise_code(code)
    step = next_step_for_code(ctx.session, code=text, now=ctx.now)
    if step == "confirm_phone":
        ctx.state["pending_code"] = text
        return _ask(ctx, "code_phone", "確認のため、ご登録のお電話番号を送ってください。\n（例：0238-88-1234）", "link")
    if step == "unknown":
        return _failed(ctx, "code", "その番号は見つかりませんでした。番号をお確かめのうえ、もう一度送ってください。")
    return redeem(ctx, text)


def check_phone(ctx: Ctx, value: str) -> list[Message]:
    locked = _locked(ctx)
    if locked:
        return locked
    code = str(ctx.state.get("pending_code") or "")
    try:
        matches = phone_confirms_code(ctx.session, code=code, phone=value)
    except DomainError as exc:
        return _ask(ctx, "code_phone", error_text(exc), "link")
    if matches is None:
        return ask_code(ctx)
    if not matches:
        return _failed(ctx, "code_phone", "ご登録のお電話番号と一致しませんでした。もう一度送ってください。")
    ctx.state.pop("pending_code", None)
    return redeem(ctx, code)


def redeem(ctx: Ctx, code: str) -> list[Message]:
    try:
        with ctx.session.begin_nested():
            result = redeem_code(ctx.session, code=code.strip().upper(), line_user_id=ctx.user_id, now=ctx.now)
    except DomainError as exc:
        return _failed(ctx, "code", error_text(exc) + "\nもう一度コードを送ってください。")
    ctx.state.clear()
    welcome = _WELCOME.get(result.purpose, "登録しました。")
    return [m.text(welcome, quick=m.quick_reply(_NEXT.get(result.purpose, []), start_over=True))]
