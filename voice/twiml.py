"""TwiML for the Japanese phone line, built on twilio's ``VoiceResponse``.

Every ``<Say>`` and ``<Gather>`` carries ``language="ja-JP"`` and the configured Japanese voice; text
is wrapped in SSML ``<prosody rate=…>`` with short breaks between sentences because our callers are
mostly over 75 and complain first about speed. Gathers take keys and speech, wait long
(``timeout`` 8 s, integer ``speechTimeout`` because ``auto`` cannot be tuned for slow speakers) and
call back even on silence (``actionOnEmptyResult``) so that the flow, not Twilio, decides what a
silence means. A ``<Redirect>`` after each Gather is a second guard should that attribute be ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence
from xml.etree import ElementTree

from twilio.twiml.voice_response import Gather, Say, VoiceResponse

from voice.prompts import speakable

LANGUAGE = "ja-JP"
# Twilio accepts at most 500 hints of up to 100 characters each; far fewer keep recognition focused.
MAX_HINTS = 100


@dataclass(frozen=True)
class VoiceStyle:
    voice: str = "Polly.Mizuki"
    rate: str = "85%"
    timeout_s: int = 8
    speech_timeout_s: int = 3
    pause: str = "600ms"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "VoiceStyle":
        return cls(voice=config.get("TWILIO_VOICE") or cls.voice,
                   rate=config.get("TWILIO_SPEECH_RATE") or cls.rate,
                   timeout_s=int(config.get("TWILIO_GATHER_TIMEOUT") or cls.timeout_s),
                   speech_timeout_s=int(config.get("TWILIO_SPEECH_TIMEOUT") or cls.speech_timeout_s))


def say(parent: VoiceResponse | Gather, style: VoiceStyle, sentences: Sequence[str]) -> Say:
    """One ``<Say>``: each sentence slowed down, with a pause after it."""
    element = parent.say(language=LANGUAGE, voice=style.voice)
    for sentence in sentences:
        if sentence:
            # The last guard: a name from the catalogue or a service's message may carry 「（6個）」.
            element.prosody(speakable(sentence), rate=style.rate)
            element.break_(time=style.pause)
    return element


def hints_text(words: Iterable[str]) -> str:
    seen: list[str] = []
    for word in words:
        word = (word or "").strip().replace(",", " ")[:100]
        if word and word not in seen:
            seen.append(word)
        if len(seen) >= MAX_HINTS:
            break
    return ",".join(seen)


def ask(style: VoiceStyle, action: str, sentences: Sequence[str], *, hints: Iterable[str] = (),
        num_digits: int | None = 1, finish_on_key: str | None = None,
        before: Sequence[str] = ()) -> VoiceResponse:
    """Say ``before`` (not interruptible), then ask with ``sentences`` inside a keys+speech Gather."""
    response = VoiceResponse()
    if before:
        say(response, style, before)
    kwargs: dict[str, Any] = dict(
        action=action, method="POST", input="dtmf speech", language=LANGUAGE,
        timeout=style.timeout_s, speech_timeout=style.speech_timeout_s, action_on_empty_result=True,
    )
    if num_digits:
        kwargs["num_digits"] = num_digits
    if finish_on_key is not None:
        kwargs["finish_on_key"] = finish_on_key
    hint = hints_text(hints)
    if hint:
        kwargs["hints"] = hint
    gather = response.gather(**kwargs)
    say(gather, style, sentences)
    response.redirect(action, method="POST")
    return response


def transfer(style: VoiceStyle, number: str, action: str, sentences: Sequence[str]) -> VoiceResponse:
    """Hand the caller to a person; ``action`` hears how the dial ended (no answer → voicemail)."""
    response = VoiceResponse()
    say(response, style, sentences)
    dial = response.dial(action=action, method="POST", timeout=25)
    dial.number(number)
    return response


def record(style: VoiceStyle, action: str, sentences: Sequence[str]) -> VoiceResponse:
    """Ask for a message after the beep (name and address, or a callback request) for staff."""
    response = VoiceResponse()
    say(response, style, sentences)
    response.record(action=action, method="POST", timeout=6, max_length=120, play_beep=True,
                    finish_on_key="#", trim="trim-silence")
    return response


def goodbye(style: VoiceStyle, sentences: Sequence[str]) -> VoiceResponse:
    response = VoiceResponse()
    say(response, style, sentences)
    response.hangup()
    return response


def spoken_sentences(twiml: str) -> list[str]:
    """The sentences a caller hears in a TwiML document (for the read-back tests and the benchmark)."""
    root = ElementTree.fromstring(twiml.encode("utf-8"))
    return [p.text or "" for p in root.iter("prosody")]
