"""Found by calling the sandbox phone line (QA): when a second unusable answer puts the caller
through to a person, the line must not first tell them how to try again."""

from __future__ import annotations

from typing import Any

from tests.voice_sim import RESIDENT_PHONE, CallSim, seed_town, voice_app  # noqa: F401  (fixture)


def test_second_unusable_quantity_goes_to_a_person_without_retry_advice(voice_app: Any) -> None:  # noqa: F811
    seed_town(voice_app, with_history=False)
    call = CallSim(voice_app.test_client(), RESIDENT_PHONE)
    call.dial_in()
    call.press("2")
    call.press("1")
    call.press("1")                                 # 大根: how many?
    first = call.speak("半分")
    assert first.waiting_for == "gather" and "まるごとの数で" in "".join(first.said)
    second = call.speak("たくさん")
    said = "".join(second.said)
    assert second.waiting_for == "dial" and "オペレーター" in said
    assert "お願いします" not in said and "のように" not in said   # no advice for a retry that never comes
    assert "聞き取れませんでした" in said
