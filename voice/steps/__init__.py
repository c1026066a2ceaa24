"""Each step of the phone menu: what is asked (``PROMPTS``) and what an answer does (``HANDLERS``).

Prompts are rebuilt from the stored state every time (repeat, retry, after a restart), so the state
holds only ids and numbers: the step, the basket as [product id, quantity] pairs, the ids on the
list the caller is hearing.
"""

from __future__ import annotations

from typing import Callable

from twilio.twiml.voice_response import VoiceResponse

from voice.call import Call, Turn
from voice.steps import basket, menu, orders, speech
from voice.steps.common import Prompt

PROMPTS: dict[str, Callable[[Call], Prompt]] = {
    "unknown": menu.prompt_unknown, "who": menu.prompt_who, "menu": menu.prompt_menu, "usual": menu.prompt_usual,
    "placed": menu.prompt_placed, "ended": menu.prompt_ended, "repeat": menu.prompt_repeat,
    "shop": basket.prompt_shop, "item": basket.prompt_item, "qty": basket.prompt_qty,
    "more": basket.prompt_more, "review": basket.prompt_review, "edit": basket.prompt_edit,
    "remove": basket.prompt_remove,
    "orders": orders.prompt_orders, "cancel_confirm": orders.prompt_cancel_confirm,
    "clarify": speech.prompt_clarify,
}
HANDLERS: dict[str, Callable[[Call, Turn], VoiceResponse]] = {
    "unknown": menu.on_unknown, "who": menu.on_who, "menu": menu.on_menu, "usual": menu.on_usual, "placed": menu.on_placed,
    "ended": menu.on_ended, "repeat": menu.on_repeat, "recording": menu.on_recording, "after_dial": menu.on_after_dial,
    "shop": basket.on_shop, "item": basket.on_item, "qty": basket.on_qty, "more": basket.on_more,
    "review": basket.on_review, "edit": basket.on_edit, "remove": basket.on_remove,
    "orders": orders.on_orders, "cancel_confirm": orders.on_cancel_confirm,
    "clarify": speech.on_clarify,
}
