"""A resident's personal data under APPI (個人情報保護法): disclosure on request (export), deletion on request
(erase: personal fields anonymised, order and accounting rows kept without them), and the retention sweep
that anonymises residents inactive for years and prunes old call recordings and conversation state.
A call recording is deleted where Twilio keeps it, not only unlinked here (``queue_recording_deletion``).

The data sits in several domains, and a domain never imports one above it (``tests/test_layout.py``), so
each domain above this one that holds a resident's data (orders, delivery) contributes a
``PersonalDataPart``; the app factory hands them to ``init_app`` and the page and the command read them
back with ``parts_of(app)``. What this package, the outbox and the core hold is described here.

Every function takes the caller's session and never commits; export and erase write an audit entry
(ids and counts only, never the personal data itself).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence

from flask import Flask, current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError
from core.models import AuditEntry, Conversation
from outbox import service as outbox_service
from outbox.requeue import requeue_dead_of
from residents.models import FamilyLink, Resident, VoiceMessage

log = logging.getLogger(__name__)

PARTS_KEY = "otodoke.privacy_parts"
ERASED_NAME = "（削除済み）"

Row = dict[str, Any]


class PrivacyError(DomainError):
    """A request the privacy service refuses (unknown resident, already erased)."""


@dataclass(frozen=True)
class PersonalDataPart:
    """What one domain holds about a resident.

    ``collect`` returns the rows for the export (plain JSON-able values); ``erase`` removes the personal
    fields from them and returns how many rows it touched; ``active_since`` gives the ids of residents
    with activity at or after a moment (the retention sweep keeps them). ``audit_subject`` names the
    audit subject type of the rows' ``id`` (e.g. "order"), so the audit entries about them are exported.
    """

    name: str
    collect: Callable[[Session, Resident], list[Row]]
    erase: Callable[[Session, Resident, datetime], int]
    active_since: Callable[[Session, datetime], set[int]] | None = None
    audit_subject: str | None = None


@dataclass(frozen=True)
class RetentionPolicy:
    """How long data is kept (config ``RETENTION_*``); 0 turns a rule off."""

    inactive_years: int = 3
    recording_days: int = 90
    conversation_days: int = 30

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "RetentionPolicy":
        return cls(inactive_years=int(config.get("RETENTION_INACTIVE_YEARS", 3)),
                   recording_days=int(config.get("RETENTION_RECORDING_DAYS", 90)),
                   conversation_days=int(config.get("RETENTION_CONVERSATION_DAYS", 30)))


@dataclass(frozen=True)
class RetentionReport:
    residents_anonymised: int
    recordings_pruned: int
    conversations_pruned: int
    recordings_retried: int = 0     # dead recording deletions given another round (outbox/requeue.py)


def init_app(app: Flask, parts: Iterable[PersonalDataPart]) -> None:
    """Called by the factory with the higher domains' parts; this package's own come first."""
    app.extensions[PARTS_KEY] = (*OWN_PARTS, *parts)


def parts_of(app: Flask | None = None) -> tuple[PersonalDataPart, ...]:
    return (app or current_app).extensions.get(PARTS_KEY, OWN_PARTS)


# --- this package's, the outbox's and the core's parts --------------------------------------------------

def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def _phones(resident: Resident) -> list[str]:
    return [p for p in (resident.phone, resident.mobile_phone) if p]


def _recipients(resident: Resident) -> list[str]:
    return [*_phones(resident), *([resident.line_user_id] if resident.line_user_id else [])]


PROFILE_FIELDS = ("id", "name", "kana", "phone", "mobile_phone", "line_user_id", "address", "lat", "lon",
                  "district_id", "delivery_notes", "preferred_window", "payment_method", "wants_eta_call",
                  "active", "consented_at", "created_at", "erased_at")


def _profile(session: Session, resident: Resident) -> list[Row]:
    return [{field: _iso(getattr(resident, field)) for field in PROFILE_FIELDS}]


def _erase_profile(session: Session, resident: Resident, now: datetime) -> int:
    resident.name, resident.kana, resident.address, resident.delivery_notes = ERASED_NAME, "", "", ""
    resident.phone = resident.mobile_phone = resident.line_user_id = resident.preferred_window = None
    resident.lat = resident.lon = resident.consented_at = None
    resident.wants_eta_call, resident.active, resident.erased_at = False, False, now
    return 1


def _family(session: Session, resident: Resident) -> list[Row]:
    links = session.scalars(select(FamilyLink).where(FamilyLink.resident_id == resident.id).order_by(FamilyLink.id))
    return [{"id": f.id, "name": f.name, "relation": f.relation, "line_user_id": f.line_user_id,
             "mobile_phone": f.mobile_phone, "notify": f.notify, "linked_at": _iso(f.linked_at)} for f in links]


def _erase_family(session: Session, resident: Resident, now: datetime) -> int:
    # A link is the relation itself: with the resident gone there is nothing left to keep.
    result = session.execute(delete(FamilyLink).where(FamilyLink.resident_id == resident.id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _calls_query(resident: Resident):  # type: ignore[no-untyped-def]
    return select(VoiceMessage).where(VoiceMessage.from_number.in_(_phones(resident))).order_by(VoiceMessage.id)


def _calls(session: Session, resident: Resident) -> list[Row]:
    if not _phones(resident):
        return []
    return [{"id": m.id, "call_sid": m.call_sid, "from_number": m.from_number, "purpose": m.purpose,
             "recording_url": m.recording_url, "recording_seconds": m.recording_seconds,
             "created_at": _iso(m.created_at), "handled_at": _iso(m.handled_at)}
            for m in session.scalars(_calls_query(resident))]


RECORDING_DELETE = "recording_delete"


def _recording_deletion(voice_message_id: int, recording_url: str) -> outbox_service.NewMessage:
    return outbox_service.NewMessage(channel="recording", recipient=f"voice_message:{voice_message_id}",
                                     kind=RECORDING_DELETE, payload={"recording_url": recording_url},
                                     dedupe_key=f"recording:{voice_message_id}:delete")


def queue_recording_deletion(session: Session, message: VoiceMessage, *, actor: str, now: datetime) -> None:
    """Queue the deletion of a call's recording where it is kept (Twilio), before its link is dropped.

    Dropping only our link would leave the resident's voice at the provider. The deletion is an outbox
    row ("recording" channel): it leaves only after the caller commits, and the worker retries it until
    Twilio confirms (a 404 counts: already gone). The audit entry names the row, never the URL.
    """
    if not message.recording_url:
        return
    new = _recording_deletion(message.id, message.recording_url)
    row = outbox_service.enqueue(session, channel=new.channel, recipient=new.recipient, kind=new.kind,
                                 payload=new.payload, now=now, dedupe_key=new.dedupe_key)
    session.flush()
    audit.record(session, at=now, actor=actor, channel="job", action="privacy.recording_delete",
                 subject_type="outbox", subject_id=row.id, voice_message_id=message.id)


def _erase_calls(session: Session, resident: Resident, now: datetime) -> int:
    if not _phones(resident):
        return 0
    messages = list(session.scalars(_calls_query(resident)))
    for message in messages:
        queue_recording_deletion(session, message, actor="privacy", now=now)
        message.from_number, message.recording_url = "", None
        message.handled_at = message.handled_at or now
        message.handled_by = message.handled_by or "privacy"
    return len(messages)


def _conversations(session: Session, resident: Resident) -> list[Row]:
    if not resident.line_user_id:
        return []
    rows = session.scalars(select(Conversation).where(Conversation.channel == "line",
                                                      Conversation.party == resident.line_user_id))
    return [{"channel": c.channel, "state": c.state, "updated_at": _iso(c.updated_at)} for c in rows]


def _erase_conversations(session: Session, resident: Resident, now: datetime) -> int:
    if not resident.line_user_id:
        return 0
    result = session.execute(delete(Conversation).where(Conversation.channel == "line",
                                                        Conversation.party == resident.line_user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _messages(session: Session, resident: Resident) -> list[Row]:
    return [{"id": m.id, "channel": m.channel, "recipient": m.recipient, "kind": m.kind, "payload": m.payload,
             "status": m.status.value, "created_at": _iso(m.created_at), "sent_at": _iso(m.sent_at)}
            for m in outbox_service.messages_to(session, _recipients(resident))]


def _erase_messages(session: Session, resident: Resident, now: datetime) -> int:
    return outbox_service.erase_messages_to(session, _recipients(resident), now=now)


def _active_conversations(session: Session, since: datetime) -> set[int]:
    return set(session.scalars(select(Resident.id).join(
        Conversation, (Conversation.channel == "line") & (Conversation.party == Resident.line_user_id))
        .where(Conversation.updated_at >= since)))


def _registered_since(session: Session, since: datetime) -> set[int]:
    return set(session.scalars(select(Resident.id).where(Resident.created_at >= since)))


# The profile is erased last: the other parts find their rows by its phone numbers and LINE id.
OWN_PARTS: tuple[PersonalDataPart, ...] = (
    PersonalDataPart("family_links", _family, _erase_family),
    PersonalDataPart("call_records", _calls, _erase_calls),
    PersonalDataPart("conversations", _conversations, _erase_conversations, _active_conversations),
    PersonalDataPart("messages", _messages, _erase_messages),
)
PROFILE_PART = PersonalDataPart("profile", _profile, _erase_profile, _registered_since)


# --- the use cases --------------------------------------------------------------------------------------

def _resident(session: Session, resident_id: int) -> Resident:
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise PrivacyError("not_found", "その利用者は登録されていません。")
    return resident


def _audit_rows(session: Session, resident: Resident, subjects: Sequence[tuple[str, str]]) -> list[Row]:
    rows: list[Row] = []
    by_type: dict[str, list[str]] = {}
    for subject_type, subject_id in [("resident", str(resident.id)), *subjects]:
        by_type.setdefault(subject_type, []).append(subject_id)
    for subject_type, ids in by_type.items():
        for start in range(0, len(ids), 500):
            entries = session.scalars(select(AuditEntry).where(
                AuditEntry.subject_type == subject_type, AuditEntry.subject_id.in_(ids[start:start + 500]))
                .order_by(AuditEntry.id))
            rows.extend({"id": e.id, "at": _iso(e.at), "actor": e.actor, "channel": e.channel, "action": e.action,
                         "subject_type": e.subject_type, "subject_id": e.subject_id, "data": e.data}
                        for e in entries)
    rows.sort(key=lambda row: row["id"])
    return rows


def collect_resident(session: Session, resident_id: int,
                     parts: Sequence[PersonalDataPart]) -> dict[str, list[Row]]:
    """Everything held about one resident, by part ("profile", "family_links", "orders", …, "audit")."""
    resident = _resident(session, resident_id)
    data: dict[str, list[Row]] = {"profile": _profile(session, resident)}
    subjects: list[tuple[str, str]] = []
    for part in parts:
        rows = part.collect(session, resident)
        data[part.name] = rows
        if part.audit_subject:
            subjects.extend((part.audit_subject, str(row["id"])) for row in rows)
    data["audit"] = _audit_rows(session, resident, subjects)
    return data


def export_resident(session: Session, *, resident_id: int, parts: Sequence[PersonalDataPart], actor: str,
                    channel: str, now: datetime, fmt: str = "json") -> dict[str, list[Row]]:
    """A disclosure on request (APPI art. 33): the data, with an audit entry saying who took it out.

    Called by the staff page and ``otodoke resident export``; the caller renders it (``to_json`` /
    ``to_csv``). It changes nothing but the audit log.
    """
    data = collect_resident(session, resident_id, parts)
    audit.record(session, at=now, actor=actor, channel=channel, action="privacy.export", subject_type="resident",
                 subject_id=resident_id, format=fmt, rows={name: len(rows) for name, rows in data.items()})
    return data


def erase_resident(session: Session, *, resident_id: int, parts: Sequence[PersonalDataPart], actor: str,
                   channel: str, now: datetime, reason: str = "request") -> dict[str, int]:
    """Deletion on request (APPI art. 35), or the retention sweep's anonymisation (``reason="retention"``).

    Personal fields are blanked or removed part by part; orders, their lines and amounts, stops and the
    audit log stay (accounting, and the record of what was done), pointing at an anonymous resident.
    Pending messages to the resident are not sent. Refused for a resident already erased.
    """
    resident = _resident(session, resident_id)
    if resident.erased_at is not None:
        raise PrivacyError("already_erased", "この利用者の個人情報は既に削除されています。")
    counts = {part.name: part.erase(session, resident, now) for part in parts}
    counts["profile"] = _erase_profile(session, resident, now)
    session.flush()
    audit.record(session, at=now, actor=actor, channel=channel, action="privacy.erase", subject_type="resident",
                 subject_id=resident_id, reason=reason, rows=counts)
    return counts


def retention_sweep(session: Session, *, parts: Sequence[PersonalDataPart], policy: RetentionPolicy,
                    now: datetime, limit: int = 200) -> RetentionReport:
    """The daily retention job: anonymise residents with no activity for ``inactive_years`` (registration,
    orders, LINE conversation; at most ``limit`` a run), drop the recording links of call records older
    than ``recording_days`` and conversation state untouched for ``conversation_days``. Idempotent: a
    second worker running it at once only finds less to do."""
    anonymised = 0
    if policy.inactive_years > 0:
        since = now - timedelta(days=365 * policy.inactive_years)
        active: set[int] = set()
        for part in (PROFILE_PART, *parts):
            if part.active_since is not None:
                active |= part.active_since(session, since)
        candidates = session.scalars(select(Resident.id).where(Resident.erased_at.is_(None))
                                     .order_by(Resident.id))
        for resident_id in [rid for rid in candidates if rid not in active][:limit]:
            erase_resident(session, resident_id=resident_id, parts=parts, actor="retention", channel="job",
                           now=now, reason="retention")
            anonymised += 1
    recordings = conversations = 0
    # A deletion that died (Twilio down for the whole round, a refusal) must not leave the resident's
    # voice at Twilio unnoticed: each sweep tries every dead one again; one that dies again is back on
    # the dashboard's dead list the same day, with 再試行 for staff.
    retried = requeue_dead_of(session, "recording", actor="retention", now=now)
    if retried:
        log.warning("retention: %d dead recording deletion(s) queued again", retried)
    if policy.recording_days > 0:
        old = session.execute(select(VoiceMessage.id, VoiceMessage.recording_url).where(
            VoiceMessage.created_at < now - timedelta(days=policy.recording_days),
            VoiceMessage.recording_url.is_not(None))).all()
        # The recordings themselves go too, not only our links; ON CONFLICT skips a deletion another
        # sweep running at once already queued (the audit entry below counts them).
        if old:
            outbox_service.enqueue_all(session, [_recording_deletion(vm_id, url) for vm_id, url in old],
                                       now=now)
            result = session.execute(update(VoiceMessage).where(
                VoiceMessage.id.in_([vm_id for vm_id, _ in old]), VoiceMessage.recording_url.is_not(None))
                .values(recording_url=None).execution_options(synchronize_session=False))
            recordings = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if policy.conversation_days > 0:
        result = session.execute(delete(Conversation).where(
            Conversation.updated_at < now - timedelta(days=policy.conversation_days)))
        conversations = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if anonymised or recordings or conversations or retried:
        audit.record(session, at=now, actor="retention", channel="job", action="privacy.retention",
                     subject_type="retention", subject_id=now.date().isoformat(), residents=anonymised,
                     recordings=recordings, conversations=conversations, recordings_retried=retried)
    return RetentionReport(anonymised, recordings, conversations, retried)


def to_json(data: Mapping[str, list[Row]]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False, default=str)


def to_csv(data: Mapping[str, list[Row]]) -> str:
    """One CSV for the whole export, one line per field: part, row number, field, value (nested values as
    JSON), so every part fits one table a spreadsheet opens."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["part", "row", "field", "value"])
    for name, rows in data.items():
        for number, row in enumerate(rows, start=1):
            for field, value in row.items():
                text = json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else value
                writer.writerow([name, number, field, "" if text is None else text])
    return out.getvalue()
