"""The phone line's state machine: one Twilio webhook in, one TwiML document out.

Each response is numbered; its Gather/Redirect/Dial/Record actions carry ``?s=<n>``. A request whose
number is behind the call's current one is a Twilio retry (or a duplicate) of a step already handled:
it gets the stored TwiML of that step back and changes nothing. An order is placed with
``idempotency_key=f"call:{CallSid}:{n}"`` as a second guard.

Every menu: 0 (or 「オペレーター」) reaches a person, 9 (「もう一度」) repeats, silence repeats once,
and a second failed try (silence or an answer we cannot use) hands the caller to a person.
"""

from __future__ import annotations

import copy
import logging
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from residents.phones import try_normalise_phone
from residents.service import find_by_phone, residents_by_phone
from voice import calls, twiml
from voice import prompts as P
from voice import steps
from voice.call import Call, Turn, render, to_operator
from voice.twiml import VoiceStyle

log = logging.getLogger("otodoke.voice")

def start(session: Session, *, call_sid: str, form: Mapping[str, str], now: datetime,
          style: VoiceStyle, operator_number: str) -> str:
    """``/voice/incoming``: greet the caller (known by caller ID or not). A retried incoming webhook
    for a call already under way gets the last TwiML back."""
    row = calls.load(session, call_sid)
    if row is not None:
        return row.state.get("last_xml") or ""
    caller = form.get("From") or ""
    resident = find_by_phone(session, caller)
    sharing = [r.id for r in residents_by_phone(session, caller)]
    # A landline shared by a couple: ask who is calling (a personal mobile number already says who).
    ask_who = len(sharing) > 1 and resident is not None and resident.mobile_phone != try_normalise_phone(caller)
    state: dict[str, Any] = {"seq": 1, "tries": 0, "from": caller, "basket": [],
                             "resident_id": None if ask_who or resident is None else resident.id,
                             "who": sharing[:8] if ask_who else [],
                             "step": "who" if ask_who else ("menu" if resident else "unknown"),
                             "started_at": now.isoformat()}
    # The row gets its own copy: were it to share ``state``, the changes below would also alter the
    # value SQLAlchemy compares against, and the JSON column would never be written.
    row, created = calls.open_call(session, call_sid=call_sid, state=copy.deepcopy(state), now=now)
    if not created:
        return row.state.get("last_xml") or ""
    call = Call(session, now, call_sid, style, operator_number, state, steps.PROMPTS)
    before = [P.GREETING] + ([f"{resident.name}様、いつもありがとうございます。"]
                             if resident and not ask_who else [])
    return _finish(call, row, render(call, before=before))


def step(session: Session, *, call_sid: str, seq: int | None, form: Mapping[str, str], now: datetime,
         style: VoiceStyle, operator_number: str) -> str:
    """Any later webhook of the call (Gather, Redirect, Dial and Record actions)."""
    row = calls.load(session, call_sid)
    if row is None:
        # A call we have no record of (its row was lost, or the URL was replayed): start afresh.
        return start(session, call_sid=call_sid, form=form, now=now, style=style,
                     operator_number=operator_number)
    state = copy.deepcopy(row.state)
    if seq is None or seq != state["seq"]:
        return state.get("last_xml") or ""
    call = Call(session, now, call_sid, style, operator_number, state, steps.PROMPTS)
    state["seq"] += 1
    handler = steps.HANDLERS.get(state["step"])
    if handler is None:
        response = to_operator(call)
    else:
        response = handler(call, Turn.from_form(form))
    return _finish(call, row, response)


def _finish(call: Call, row: Any, response: VoiceResponse) -> str:
    """Keep the answer with the call (a retried webhook gets exactly it again) and return it."""
    xml = str(response)
    call.state["last_xml"] = xml
    calls.save(row, call.state, call.now)
    return xml


def apology(style: VoiceStyle, operator_number: str) -> str:
    """For errors and Twilio's fallback URL: no database, straight to a person."""
    return str(twiml.transfer(style, operator_number, "/voice/fallback-done", [P.ERROR]))
