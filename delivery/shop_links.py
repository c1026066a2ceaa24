"""Signed links to a shop's picking-list page (集荷リスト), sent by SMS to shops without LINE.

The token carries the shop and the delivery day, nothing else, and is the same every time it is made:
a re-plan that changes nothing in a shop's list sends the shop nothing (its SMS text is unchanged),
and the page always shows the day's current plan. It works until the end of the day after delivery
(Asia/Tokyo), judged by the app's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from core.clock import JST

SALT = "otodoke.picking-list"
VALID_DAYS_AFTER = 1


@dataclass(frozen=True)
class PickingLink:
    shop_id: int
    delivery_date: date


def make_token(secret_key: str, shop_id: int, delivery_date: date) -> str:
    # A short payload: the link goes in an SMS, where every character counts.
    return URLSafeSerializer(secret_key, salt=SALT).dumps([shop_id, delivery_date.strftime("%Y%m%d")])


def valid_through(delivery_date: date) -> date:
    """The last day (Asia/Tokyo) on which the link opens."""
    return delivery_date + timedelta(days=VALID_DAYS_AFTER)


def expires_at(delivery_date: date) -> datetime:
    return datetime.combine(valid_through(delivery_date) + timedelta(days=1), datetime.min.time(), JST)


def read_token(secret_key: str, token: str, *, now: datetime) -> PickingLink | None:
    """The shop and day, or None for a forged, altered or expired link."""
    try:
        data = URLSafeSerializer(secret_key, salt=SALT).loads(token)
        shop_id, day = int(data[0]), datetime.strptime(data[1], "%Y%m%d").date()
    except (BadSignature, ValueError, TypeError, IndexError, KeyError):
        return None
    if now >= expires_at(day):
        return None
    return PickingLink(shop_id, day)
