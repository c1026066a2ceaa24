"""The staff's to-do list of phone messages (``/voice/messages``): registration voicemails, callback
requests, and 「本日不在」 answers to the delivery-day ETA call. A message is written by the phone line
or LINE (``residents.service.voice_message_for_call``, ``request_callback``) and leaves the list when
staff mark it handled."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import audit
from residents.models import Resident, VoiceMessage
from residents.service import voice_message_for_call

LIST_LIMIT = 200
NOT_HOME_PURPOSE = "not_home"


def latest_voice_messages(session: Session, *, limit: int = LIST_LIMIT) -> list[VoiceMessage]:
    """The newest messages first, handled ones included (the page greys them out)."""
    return list(session.scalars(select(VoiceMessage).order_by(VoiceMessage.created_at.desc()).limit(limit)))


def residents_by_numbers(session: Session, numbers: Collection[str]) -> list[Resident]:
    """Every resident, active or not, whose phone or mobile phone is one of ``numbers`` (stored in the
    normalised form), by id: who is behind a message's number, so staff need not look it up."""
    if not numbers:
        return []
    return list(session.scalars(select(Resident).where(
        or_(Resident.phone.in_(numbers), Resident.mobile_phone.in_(numbers))).order_by(Resident.id)))


def voice_message_or_none(session: Session, message_id: int) -> VoiceMessage | None:
    return session.get(VoiceMessage, message_id)


def mark_handled(session: Session, message: VoiceMessage, *, actor: str, now: datetime) -> None:
    """Staff have called back / registered the caller; marking it again changes nothing (nor audits)."""
    if message.handled_at is not None:
        return
    message.handled_at = now
    message.handled_by = actor
    audit.record(session, at=now, actor=actor, channel="web", action="voice_message.handled",
                 subject_type="voice_message", subject_id=message.id)


def note_not_home(session: Session, *, call_sid: str, called_number: str, order_id: int, resident_id: int,
                  now: datetime) -> VoiceMessage:
    """The resident answered the ETA call "not at home today": a 「本日不在」 row for staff and an audit
    row, once per call (Twilio may post the same answer twice)."""
    message = voice_message_for_call(session, call_sid=call_sid, from_number=called_number,
                                     purpose=NOT_HOME_PURPOSE, now=now)
    if message in session.new:     # added just now, not yet flushed: this call's first answer
        audit.record(session, at=now, actor=f"resident:{resident_id}", channel="phone",
                     action="eta.not_home", subject_type="order", subject_id=order_id)
    return message
