"""One phone call as the menu's steps see it (``Call``, the caller's ``Turn``) and the moves every step
shares: ask again, go to another step, fail once then hand over, reach a person.

The steps (``voice/steps/``) build on this module and the flow (``voice/flow.py``) on both; this one
imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from voice import prompts as P
from voice import twiml
from voice.twiml import VoiceStyle

MAX_TRIES = 2


@dataclass(frozen=True)
class Turn:
    """What the caller did: keys, recognised speech, or nothing; plus Twilio's other fields."""

    digits: str = ""
    speech: str = ""
    form: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> "Turn":
        return cls(digits=(form.get("Digits") or "").strip(),
                   speech=(form.get("SpeechResult") or "").strip(), form=dict(form))

    @property
    def empty(self) -> bool:
        return not self.digits and not self.speech

    def key(self) -> str:
        """A single key: pressed, or said (「1番」)."""
        if self.digits:
            return self.digits
        return P.spoken_digit(self.speech) or ""


@dataclass
class Call:
    session: Session
    now: datetime
    call_sid: str
    style: VoiceStyle
    operator_number: str
    state: dict[str, Any]
    # Each step's question, by step name (``voice/steps/__init__.py``): handed in by the flow, so the
    # shared moves below can ask again without this module importing the steps that import it.
    prompts: Mapping[str, Callable[["Call"], Any]] = field(default_factory=dict)

    @property
    def resident_id(self) -> int | None:
        return self.state.get("resident_id")

    def url(self, path: str) -> str:
        return f"{path}?s={self.state['seq']}"

    def action(self) -> str:
        return self.url(f"/voice/step/{self.state['step']}")


Handler = Callable[[Call, Turn], VoiceResponse]


def render(call: Call, *, before: list[str] | None = None) -> VoiceResponse:
    """Ask the current step's question again (after ``before``)."""
    prompt = call.prompts[call.state["step"]](call)
    say_first = list(before or [])
    if prompt.before:
        say_first.extend(prompt.before)
    if prompt.end_call:
        return twiml.goodbye(call.style, say_first + prompt.sentences)
    return twiml.ask(call.style, call.action(), prompt.sentences, hints=prompt.hints,
                     num_digits=prompt.num_digits, finish_on_key=prompt.finish_on_key,
                     before=say_first)


def go(call: Call, step_name: str, *, before: list[str] | None = None, **updates: Any) -> VoiceResponse:
    call.state.update(updates)
    call.state["step"] = step_name
    call.state["tries"] = 0
    return render(call, before=before)


def failed(call: Call, turn: Turn, *, reason: list[str] | None = None) -> VoiceResponse:
    """Silence or an answer we cannot use: repeat once, then a person takes over."""
    call.state["tries"] = int(call.state.get("tries", 0)) + 1
    if call.state["tries"] >= MAX_TRIES:
        # No advice on how to answer (「2本のように…」) right before handing over: there is no retry.
        return to_operator(call, before=None if turn.empty else [P.NOT_UNDERSTOOD])
    lead = reason or ([P.SILENCE] if turn.empty else [P.NOT_UNDERSTOOD])
    return render(call, before=lead)


def to_operator(call: Call, *, before: list[str] | None = None) -> VoiceResponse:
    call.state["step"] = "after_dial"
    call.state["tries"] = 0
    call.state["operator"] = True
    return twiml.transfer(call.style, call.operator_number, call.url("/voice/dial-status"),
                          list(before or []) + [P.OPERATOR])


def common(call: Call, turn: Turn) -> VoiceResponse | None:
    """The keys every menu shares: 0 → a person, 9 → say it again."""
    key = turn.key()
    if key == "0" or P.wants_operator(turn.speech):
        return to_operator(call)
    if key == "9" or P.wants_repeat(turn.speech):
        return render(call)
    return None


