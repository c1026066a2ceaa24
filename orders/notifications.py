"""Messages about an order (confirmed, changed, cancelled), queued in the outbox with the change itself.

Who hears about it: the resident on LINE (if linked), every linked family member who asked to be told
(``FamilyLink.notify``), and, for a phone order from a resident without LINE, an SMS to their mobile.
News that changes their day (left out of the vans, moved to another day) uses ``reach``: the same, plus
a phone call when none of those reaches the resident themselves.
The channel that took the order replies in the conversation itself; these are the lasting record.

Payload contract (outbox): "line" → {"messages": [{"type": "text", "text": ...}]}; "sms" → {"body": ...};
"voice" → {"say": [sentences]} (the phone line turns them into a slow Japanese call).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from orders.calendar import find_window, format_date_ja, format_datetime_ja
from orders.models import Order
from outbox.models import OutboxMessage
from outbox.service import NewMessage, enqueue_all
from residents.models import PAYMENT_LABELS_JA, FamilyLink, Resident

LINE_TEXT_LIMIT = 5000
SMS_ITEM_LIMIT = 5
ONE_FEE_JA = "同じ日のお届けは1回にまとめるので、配達料は1回分です。"  # SMS is paid per segment; list a few items and count the rest


@dataclass(frozen=True)
class Recipient:
    channel: str     # "line" | "sms" | "voice"
    address: str     # LINE user id or E.164 number
    family: bool


_FAMILY_TO_NOTIFY = (
    select(FamilyLink.line_user_id)
    .where(FamilyLink.resident_id == bindparam("resident_id"), FamilyLink.notify.is_(True))
    .order_by(FamilyLink.id)
)


def recipients(session: Session, order: Order, resident: Resident, *, family: bool = True) -> list[Recipient]:
    """``family=False``: the caller already knows no linked family member wants to hear (place_order
    learns it with the resident), so the family look-up is skipped."""
    found: list[Recipient] = []
    seen: set[str] = set()
    if resident.line_user_id:
        found.append(Recipient("line", resident.line_user_id, family=False))
        seen.add(resident.line_user_id)
    family_ids = session.scalars(_FAMILY_TO_NOTIFY, {"resident_id": resident.id}) if family else ()
    for user_id in family_ids:
        if user_id not in seen:
            found.append(Recipient("line", user_id, family=True))
            seen.add(user_id)
    # A phone order (the automated line, or the coordinator taking the call at the office) from a
    # resident without LINE is confirmed by SMS.
    if order.channel in ("phone", "staff") and not resident.line_user_id and resident.mobile_phone:
        found.append(Recipient("sms", resident.mobile_phone, family=False))
    return found


def order_confirmed(session: Session, order: Order, resident: Resident, now: datetime, *,
                    family: bool = True) -> None:
    _send(session, order, resident, now, event="confirmed",
          headline="ご注文を承りました。", family=family)


def order_changed(session: Session, order: Order, resident: Resident, now: datetime, *,
                  version: int) -> None:
    # An order can change several times; ``version`` (1, 2, …) keeps each change's message distinct.
    _send(session, order, resident, now, event=f"changed:{version}", headline="ご注文の内容を変更しました。")


def order_added(session: Session, order: Order, resident: Resident, now: datetime, *, version: int,
                added: list[str]) -> None:
    """Lines added to an open order (a second order for the same day). ``added``: 「大根 2本」 each."""
    _send(session, order, resident, now, event=f"added:{version}", headline="ご注文に追加しました。",
          added=added)


def order_cancelled(session: Session, order: Order, resident: Resident, now: datetime, *,
                    headline: str | None = None) -> None:
    _send(session, order, resident, now, event="cancelled",
          headline=headline or "ご注文を取り消しました。")


def _send(session: Session, order: Order, resident: Resident, now: datetime, *, event: str,
          headline: str, family: bool = True, added: list[str] | None = None) -> None:
    kind = "order_" + event.split(":")[0]
    messages = []
    for recipient in recipients(session, order, resident, family=family):
        prefix = f"{resident.name}さんの" if recipient.family else ""
        if recipient.channel == "line":
            text = _line_text(order, prefix + headline, cancelled=event == "cancelled", added=added)
            payload: dict[str, object] = {"messages": [{"type": "text", "text": text}]}
        else:
            payload = {"body": _sms_text(order, prefix + headline, cancelled=event == "cancelled", added=added)}
        messages.append(NewMessage(channel=recipient.channel, recipient=recipient.address, kind=kind,
                                   payload=payload,
                                   dedupe_key=f"order:{order.id}:{event}:{recipient.channel}:{recipient.address}"))
    enqueue_all(session, messages, now=now)


def _when(order: Order) -> str:
    window = find_window(order.district, order.window_code)
    label = window.label if window else ""
    span = f"{order.window_start}〜{order.window_end}"
    return f"{format_date_ja(order.delivery_date)} {label}（{span}）" if label else f"{format_date_ja(order.delivery_date)} {span}"


def _line_text(order: Order, headline: str, *, cancelled: bool, added: list[str] | None = None) -> str:
    parts = [f"{headline}（注文番号 {order.id}）"]
    if added:
        parts.append(f"追加：{'、'.join(added)}")
        parts.append(ONE_FEE_JA)
    if cancelled:
        parts.append(f"お届け予定日：{_when(order)}")
        parts.append("またのご利用をお待ちしています。")
        return "\n".join(parts)
    parts.append(f"お届け：{_when(order)}")
    parts.extend(f"・{line.name} {line.quantity}{line.unit} {line.line_total_yen:,}円" for line in order.lines)
    parts.append(f"小計 {order.subtotal_yen:,}円／配達料 {order.fee_yen:,}円")
    payment = PAYMENT_LABELS_JA.get(order.payment_method, order.payment_method)
    parts.append(f"合計 {order.total_yen:,}円（お支払い：{payment}）")
    parts.append(f"変更・取り消しは {format_datetime_ja(order.cutoff_at)} までできます。")
    text = "\n".join(parts)
    return text if len(text) <= LINE_TEXT_LIMIT else text[: LINE_TEXT_LIMIT - 1] + "…"


def _sms_text(order: Order, headline: str, *, cancelled: bool, added: list[str] | None = None) -> str:
    if cancelled:
        return f"お届け：{headline}（注文番号 {order.id}、{format_date_ja(order.delivery_date)}分）"
    items = [f"{line.name}{line.quantity}{line.unit}" for line in order.lines[:SMS_ITEM_LIMIT]]
    rest = len(order.lines) - SMS_ITEM_LIMIT
    if rest > 0:
        items.append(f"ほか{rest}点")
    extra = f"追加：{'、'.join(added[:SMS_ITEM_LIMIT])}。{ONE_FEE_JA}" if added else ""
    return (f"お届け：{headline}（注文番号 {order.id}）{extra}{_when(order)}。"
            f"{'、'.join(items)}。合計{order.total_yen:,}円。"
            f"変更・取り消しは{format_datetime_ja(order.cutoff_at)}まで。")


def reach(session: Session, order: Order, resident: Resident, *,
          voice: bool = True) -> list[Recipient]:
    """``recipients``, plus a phone call when that reaches the resident themselves on no channel (a
    landline, or a web/staff order without LINE): news that changes their day must not wait for them
    to call us."""
    found = recipients(session, order, resident)
    number = resident.phone or resident.mobile_phone
    if voice and number and not any(not r.family for r in found):
        found.append(Recipient("voice", number, family=False))
    return found


def tell(session: Session, order: Order, resident: Resident, now: datetime, *, event: str, kind: str,
         text: Callable[[Recipient], str], call: bool) -> int:
    """Queue one message per recipient of ``reach`` (no phone call unless ``call``), keyed
    ``order:{id}:{event}:{channel}:{address}``: a key already queued is skipped, so the same event is
    told once. A call says the text twice, slowly. Returns how many messages were new."""
    messages = []
    for who in reach(session, order, resident, voice=call):
        body = text(who)
        if who.channel == "line":
            payload: dict[str, object] = {"messages": [{"type": "text", "text": body[:LINE_TEXT_LIMIT]}]}
        elif who.channel == "sms":
            payload = {"body": body}
        else:
            payload = {"say": ["お届けサービスです。", body, "もう一度申し上げます。", body, "失礼いたします。"]}
        messages.append(NewMessage(channel=who.channel, recipient=who.address, kind=kind, payload=payload,
                                   dedupe_key=f"order:{order.id}:{event}:{who.channel}:{who.address}"))
    if messages:
        known = set(session.scalars(select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.in_([m.dedupe_key for m in messages]))))
        messages = [m for m in messages if m.dedupe_key not in known]
    enqueue_all(session, messages, now=now)
    return len(messages)


def order_moved(session: Session, order: Order, resident: Resident, now: datetime, *, old_date: date,
                left_out: bool, call: bool) -> int:
    """The order's delivery day changed from ``old_date`` to ``order.delivery_date``; told once per new day."""
    new_day = _when(order)

    def text(who: Recipient) -> str:
        whose = f"{resident.name}さんの" if who.family else ""
        if left_out:
            head = (f"申し訳ありません。{whose}ご注文（注文番号 {order.id}）は、{format_date_ja(old_date)}の"
                    f"お届けの便に入りきりませんでした。")
        else:
            head = f"{whose}ご注文（注文番号 {order.id}）のお届け日を変更しました。"
        return f"{head}{new_day}にお届けします。"

    return tell(session, order, resident, now, event=f"moved:{order.delivery_date.isoformat()}",
                kind="order_moved", text=text, call=call)
