"""Cancelling an order, for every channel: ``orders.changes.cancel_order`` plus what delivery keeps
about the door, in the same transaction.

The pin a coordinator set on the door (``delivery.pins``) belongs to that day's orders at that door:
once the last open one is cancelled it goes too, or it would silently put the resident's next order for
that day on the van chosen for the old one. ``orders`` sits below ``delivery`` and cannot see pins, so
the channels (LINE, phone, staff pages) cancel through here; ``tests/test_pin_cleanup.py`` checks that none
calls the orders one directly.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from delivery.pins import unpin_if_door_empty
from orders.changes import CancelResult, cancel_order as cancel_in_orders


def cancel_order(session: Session, *, order_id: int, actor: str, channel: str, now: datetime,
                 resident_id: int | None = None, after_cutoff: bool = False,
                 headline: str | None = None) -> CancelResult:
    """``orders.changes.cancel_order`` (same rules, errors and no-op repeat), then the door's pin for
    that day is taken off if no open order of the resident is left on it. Never commits."""
    result = cancel_in_orders(session, order_id=order_id, actor=actor, channel=channel, now=now,
                              resident_id=resident_id, after_cutoff=after_cutoff, headline=headline)
    if not result.already_cancelled:
        unpin_if_door_empty(session, delivery_date=result.order.delivery_date,
                            resident_id=result.order.resident_id, actor=actor, channel=channel, now=now)
    return result
