"""The ordering use cases, in one place for callers (LINE bot, phone line, web pages, CLI, jobs).

Each is a plain function over the caller's session: none commits or opens a session, every rule
broken raises ``orders.errors.OrderError`` with a Japanese message, and messages to residents are
queued in the outbox inside the same transaction. The work lives in small modules by use case.
"""

from __future__ import annotations

from orders.batching import BatchTotal, DistrictBatch, batch_orders, batch_totals, next_day_with_orders, orders_of_day
from orders.changes import CancelResult, cancel_order, change_order, get_order, order_or_none, orders_by_ids
from orders.door import Placed, add_to_order, open_order_for, order_or_add, quote_for_door, recent_repeat
from orders.errors import OrderError
from orders.placing import LineItem, Quote, QuoteLine, place_order, quote_order
from orders.status import OrderView, OrderViewLine, order_status
from orders.usual import SkippedItem, UsualBasket, reorder_usual, reorder_usual_at_door, usual_basket

__all__ = [
    "Placed", "add_to_order", "open_order_for", "order_or_add", "quote_for_door", "recent_repeat",
    "reorder_usual_at_door", "CancelResult", "DistrictBatch", "LineItem", "OrderError", "OrderView", "OrderViewLine", "Quote",
    "QuoteLine", "SkippedItem", "UsualBasket", "BatchTotal", "batch_orders", "batch_totals", "cancel_order", "change_order",
    "get_order", "next_day_with_orders", "order_or_none", "orders_of_day", "orders_by_ids", "order_status", "place_order", "quote_order", "reorder_usual", "usual_basket",
]
