"""The first steps of a call: unknown callers and voicemail, the main menu, 「いつもの」, the end."""

from __future__ import annotations

from urllib.parse import urlsplit

from twilio.twiml.voice_response import VoiceResponse

from orders import notifications
from orders.errors import OrderError
from core.inputs import db_int
from orders.service import order_or_none, usual_basket
from residents.service import resident_or_none, voice_message_for_call
from voice import prompts as P
from voice import twiml
from voice.call import Call, Turn, common, failed, go, to_operator
from voice.steps import speech
from voice.steps.common import Prompt, place, readback

# --- unknown caller ------------------------------------------------------------------------------

def prompt_unknown(call: Call) -> Prompt:
    return Prompt([P.UNKNOWN_CALLER])


def on_unknown(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1" or P.says_yes(turn.speech):
        return start_recording(call, purpose="registration")
    return failed(call, turn)


def start_recording(call: Call, *, purpose: str, nobody_answered: bool = False) -> VoiceResponse:
    call.state.update(step="recording", purpose=purpose, tries=0)
    text = P.RECORD_REGISTRATION if purpose == "registration" else P.RECORD_CALLBACK
    # A caller who asked for a person and got none must hear so before the beep (the callback prompt
    # already says it).
    lead = [P.NOBODY_ANSWERED] if nobody_answered and purpose == "registration" else []
    return twiml.record(call.style, call.url("/voice/recording"), lead + [text])


def web_url(value: str | None) -> str | None:
    """A recording's address only when it is an http(s) URL: staff open it with a click, so a
    ``javascript:`` or ``data:`` value (a forged request) must never become a link."""
    if not value or len(value) > 500:
        return None
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("https", "http") and parts.netloc else None


def on_recording(call: Call, turn: Turn) -> VoiceResponse:
    url = web_url(turn.form.get("RecordingUrl"))
    seconds = turn.form.get("RecordingDuration")
    existing = voice_message_for_call(call.session, call_sid=call.call_sid,
                                      from_number=str(call.state.get("from") or "")[:32],
                                      purpose=str(call.state.get("purpose") or "registration"), now=call.now)
    existing.recording_url = url
    existing.recording_seconds = db_int(seconds)
    call.state["step"] = "ended"
    return twiml.goodbye(call.style, [P.RECORDED if url else P.NO_RECORDING])


def on_after_dial(call: Call, turn: Turn) -> VoiceResponse:
    status = turn.form.get("DialCallStatus", "")
    if status in ("completed", "answered"):
        call.state["step"] = "ended"
        return twiml.goodbye(call.style, [P.GOODBYE])
    return start_recording(call, purpose="callback" if call.resident_id else "registration",
                           nobody_answered=True)


def prompt_who(call: Call) -> Prompt:
    names = [resident_or_none(call.session, rid) for rid in call.state.get("who") or []]
    return Prompt(["どなたのご用件ですか。"] + P.numbered([f"{r.name}様" for r in names if r is not None]))


def on_who(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    who = call.state.get("who") or []
    key = turn.key()
    if key.isdigit() and 1 <= int(key) <= len(who):
        resident = resident_or_none(call.session, who[int(key) - 1])
        if resident is not None:
            return go(call, "menu", resident_id=resident.id, before=[f"{resident.name}様ですね。"])
    return failed(call, turn)


# --- main menu -----------------------------------------------------------------------------------

def prompt_menu(call: Call) -> Prompt:
    return Prompt([P.MENU])


def on_menu(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    key = turn.key()
    if key == "1":
        return go(call, "usual")
    if key == "3":
        return go(call, "orders", order_index=0)
    if key == "2":
        return go(call, "shop", basket=[], page=0, cat_page=0, shop_id=None, category=None)
    if turn.speech:
        # 「いつもの」「注文の確認」「大根を2本」 straight away at the menu (the understanding layer).
        call.state.update(page=0, cat_page=0, shop_id=None, category=None)
        spoken = speech.respond(call, turn)
        if spoken is not None:
            return spoken
        # Nothing the layer understood: say what was heard and offer the nearest products.
        return speech.offer_nearest(call, turn, [turn.speech])
    return failed(call, turn)


# --- いつもの ---------------------------------------------------------------------------------------

def prompt_usual(call: Call) -> Prompt:
    assert call.resident_id is not None
    try:
        usual = usual_basket(call.session, resident_id=call.resident_id, now=call.now)
    except OrderError as error:
        call.state["step"] = "menu"
        return Prompt([P.MENU], before=[error.message])
    skipped = [f"{P.spoken_name(s.name)}は{s.reason}。" for s in usual.skipped]
    if usual.quote is None:
        call.state["step"] = "menu"
        lead = ["いつものご注文として読み上げられる品物がありません。"] if usual.skipped else \
            ["これまでのご注文が見つかりませんでした。新しいご注文は2を押してください。"]
        return Prompt([P.MENU], before=skipped + lead)
    call.state["usual"] = [[i.product_id, i.quantity] for i in usual.items]
    call.state["into"] = usual.into
    verb = "ご注文" if usual.into is None else "追加"
    return Prompt([f"このとおり{verb}するには1を、品物を変えるには2を押してください。"],
                  before=["いつものご注文です。"] + skipped + readback(call, usual.quote, usual.into))


def on_usual(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1" or P.says_yes(turn.speech):
        return place(call, call.state.get("usual") or [])
    if turn.key() == "2" or P.says_no(turn.speech):
        return go(call, "edit", basket=list(call.state.get("usual") or []))
    return failed(call, turn)


# --- the same order again, a few minutes later ----------------------------------------------------

def prompt_repeat(call: Call) -> Prompt:
    return Prompt([f"さきほど同じご注文、注文番号{call.state.get('repeat_of')}番を承りました。"
                   "もう一度同じものを追加しますか。追加するには1を、追加しないには2を押してください。"])


def on_repeat(call: Call, turn: Turn) -> VoiceResponse:
    if (shared := common(call, turn)) is not None:
        return shared
    if turn.key() == "1" or P.says_yes(turn.speech):
        return place(call, call.state.get("repeat_basket") or [], repeat_ok=True)
    if turn.key() == "2" or P.says_no(turn.speech):
        return go(call, "menu", basket=[], before=["追加はしませんでした。"])
    return failed(call, turn)


def _confirmation_sentence(call: Call) -> str:
    """Promise a written confirmation only when one is really on its way (mobile SMS or LINE)."""
    order = order_or_none(call.session, call.state.get("last_order_id") or 0)
    resident = resident_or_none(call.session, call.resident_id or 0)
    if order is None or resident is None:
        return ""
    channels = {r.channel for r in notifications.recipients(call.session, order, resident)}
    if "sms" in channels:
        return "確認のショートメールを、携帯電話にお送りします。"
    if "line" in channels:
        return "確認のメッセージを、ラインでお送りします。"
    return f"注文番号は{order.id}番です。お控えください。"


def prompt_placed(call: Call) -> Prompt:
    return Prompt([_confirmation_sentence(call) + "メニューに戻るには1を押してください。"
                   "ご用がお済みでしたら、このままお切りください。"])


def on_placed(call: Call, turn: Turn) -> VoiceResponse:
    if turn.key() == "0" or P.wants_operator(turn.speech):
        return to_operator(call)
    if turn.key() == "1":
        return go(call, "menu")
    call.state["step"] = "ended"
    return twiml.goodbye(call.style, [P.GOODBYE])

def prompt_ended(call: Call) -> Prompt:
    return Prompt([P.GOODBYE], end_call=True)


def on_ended(call: Call, turn: Turn) -> VoiceResponse:
    return twiml.goodbye(call.style, [P.GOODBYE])
