"""Twilio Programmable Voice webhooks (configure on the number: Voice URL ``/voice/incoming``, status
callback ``/voice/status``, fallback URL ``/voice/fallback``; all POST).

Every request must carry a valid ``X-Twilio-Signature`` for the public URL, else 403 and nothing
changes. A failure inside the flow never reaches the caller as silence: the transaction is rolled
back and the caller hears an apology and is put through to a person.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import click

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from core.clock import get_clock
from core.clock import JST
from core.db import db
from core.inputs import db_int
from residents.phones import national_format, try_normalise_phone
from residents.voice_messages import (latest_voice_messages, mark_handled, residents_by_numbers,
                                      voice_message_or_none)
from accounts.security import audit_view, csrf, csrf_token, current_actor, staff_change_required, staff_required
from voice import calls, eta, flow
from voice.security import twilio_signed
from voice.steps.menu import web_url
from voice.twiml import VoiceStyle, goodbye

log = logging.getLogger("otodoke.voice")

bp = Blueprint("voice", __name__, url_prefix="/voice", template_folder="templates", cli_group="voice")


def _style() -> VoiceStyle:
    return VoiceStyle.from_config(current_app.config)


def operator_number() -> str:
    raw = str(current_app.config.get("COORDINATOR_PHONE") or "")
    return try_normalise_phone(raw) or raw


def _xml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


def _call() -> tuple[str, dict[str, Any]]:
    """The CallSid and the form of a request ``@twilio_signed`` has let through."""
    return request.form["CallSid"], request.form.to_dict()


def _run(kind: str) -> Response:
    call_sid, form = _call()
    seq = db_int(request.args.get("s"))
    now = get_clock().now()
    style, number = _style(), operator_number()
    try:
        with db.transaction() as session:
            if kind == "incoming":
                body = flow.start(session, call_sid=call_sid, form=form, now=now, style=style,
                                  operator_number=number)
            else:
                body = flow.step(session, call_sid=call_sid, seq=seq, form=form, now=now, style=style,
                                 operator_number=number)
    except Exception:  # noqa: BLE001 - the caller must hear something, never dead air
        log.exception("voice flow failed for call %s", call_sid)
        body = flow.apology(style, number)
    return _xml(body or flow.apology(style, number))


@bp.post("/incoming")
@csrf.exempt              # a Twilio webhook: signature-checked instead
@twilio_signed
def incoming() -> Response:
    return _run("incoming")


@bp.post("/step/<name>")
@csrf.exempt              # a Twilio webhook: signature-checked instead
@twilio_signed
def gather_action(name: str) -> Response:
    # ``name`` only makes logs readable; the stored state decides which step runs.
    return _run("step")


@bp.post("/recording")
@csrf.exempt              # a Twilio webhook: signature-checked instead
@twilio_signed
def recording() -> Response:
    return _run("step")


@bp.post("/dial-status")
@csrf.exempt              # a Twilio webhook: signature-checked instead
@twilio_signed
def dial_status() -> Response:
    return _run("step")


@bp.post("/status")
@csrf.exempt              # a Twilio webhook: signature-checked instead
@twilio_signed
def status() -> Response:
    """Twilio's status callback: note how and when the call ended (no TwiML is expected)."""
    call_sid, form = _call()
    now = get_clock().now()
    with db.transaction() as session:
        row = calls.load(session, call_sid)
        if row is not None:
            state = dict(row.state)
            state["call_status"] = form.get("CallStatus", "")
            if form.get("CallDuration", "").isdigit():
                state["duration_s"] = int(form["CallDuration"])
            calls.save(row, state, now)
    return Response(status=204)


@bp.post("/fallback")
@csrf.exempt              # a Twilio webhook: signature-checked instead
@twilio_signed
def fallback() -> Response:
    """Twilio calls this when our main URL failed or timed out: no database, apologise, hand over."""
    return _xml(flow.apology(_style(), operator_number()))


@bp.post("/fallback-done")
@csrf.exempt              # a Twilio webhook: signature-checked instead
@twilio_signed
def fallback_done() -> Response:
    return _xml(str(goodbye(_style(), ["お電話ありがとうございました。失礼いたします。"])))


@bp.post("/eta")
@csrf.exempt              # a Twilio webhook: signature-checked instead
@twilio_signed
def eta_answer() -> Response:
    """The resident's answer on the delivery-day ETA call (1 = at home, 2 = not at home today)."""
    _, form = _call()
    order_id = db_int(request.args.get("order"))
    attempt = db_int(request.args.get("try", "1")) or 1
    style = _style()
    if order_id is None:
        abort(400, description="order must be an order number")
    with db.transaction() as session:
        body = eta.answer(session, order_id=order_id, attempt=attempt, form=form, now=get_clock().now(),
                          style=style, base_url=current_app.config["PUBLIC_BASE_URL"])
    return _xml(body)


@bp.cli.command("eta-calls")
@click.option("--date", "day", default=None, help="delivery date (YYYY-MM-DD); default today (JST)")
def eta_calls_command(day: str | None) -> None:
    """Queue the delivery-day ETA calls for residents who asked for one."""
    now = get_clock().now()
    delivery_date = date.fromisoformat(day) if day else now.astimezone(JST).date()
    with db.transaction() as session:
        count = eta.queue_eta_calls(session, delivery_date=delivery_date, now=now, config=current_app.config)
    click.echo(f"{delivery_date}: {count} 件の到着予定のお電話を送信待ちにしました")


@bp.get("/messages")
@staff_required
def messages() -> str:
    """Recorded messages for staff (unknown callers asking to register, callback requests)."""
    with db.reading() as session:
        rows = latest_voice_messages(session)
        callers = _callers(session, {m.from_number for m in rows})
    audit_view("voice_messages", "voice_messages", "latest", messages=[m.id for m in rows])
    # web_url again when the link is drawn: a row stored before the check (or written by other code)
    # must not become a javascript: link either.
    return render_template("voice/messages.html", messages=rows, jst=JST, csrf=csrf_token(),
                           callers=callers, national_format=national_format, web_url=web_url)


def _callers(session: Session, numbers: set[str]) -> dict[str, str]:
    """Who is behind a known number (a callback request, 本日不在), so staff need not look it up."""
    names: dict[str, list[str]] = {}
    for resident in residents_by_numbers(session, numbers):
        for number in {resident.phone, resident.mobile_phone} & numbers:
            names.setdefault(number, []).append(f"{resident.name} 様")   # type: ignore[arg-type]
    return {number: "・".join(who) for number, who in names.items()}


@bp.post("/messages/<int:message_id>/handled")
@staff_change_required
def message_handled(message_id: int) -> Response:
    """Staff have called back / registered the caller: the message leaves the to-do list."""
    now = get_clock().now()
    with db.transaction() as session:
        message = voice_message_or_none(session, message_id)
        if message is None:
            abort(404)
        mark_handled(session, message, actor=current_actor(), now=now)
    return redirect(url_for("voice.messages"))
