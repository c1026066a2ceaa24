"""What ``make bench-load`` checks after the run: the database against what the load script sent.

Pure functions over plain rows so a test can feed them; the bench reads the rows from the database.
* orders: every order the script expects (one per LINE order event and phone order it sent whose
  response was 2xx) must exist once: ``lost`` = expected − found, ``doubled`` = found more than once.
* "maybe" orders: an order request whose answer the script never read (cut off at the end of the run)
  or that was not answered 200: its order may exist or not, but at most once (a second is ``doubled``).
  They are not ``expected`` (their absence is no loss) and not ``unexpected`` (their presence is no
  surprise); ``maybe_found`` says how many of them the database holds.
* outbox: a message is doubled when two rows carry the same channel, recipient, kind and payload
  (the dedupe key is unique, so a double would come from two different keys for one event).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reconciliation:
    orders_expected: int
    orders_found: int
    orders_lost: int
    orders_doubled: int
    unexpected_orders: int
    outbox_rows: int
    outbox_doubled: int
    maybe_sent: int = 0
    maybe_found: int = 0

    @property
    def clean(self) -> bool:
        return not (self.orders_lost or self.orders_doubled or self.unexpected_orders or self.outbox_doubled)


def reconcile(expected_refs: Iterable[str], found_refs: Iterable[str],
              outbox: Iterable[tuple[str, str, str, Any]], maybe_refs: Iterable[str] = ()) -> Reconciliation:
    """``expected_refs``: one reference per order the script caused (e.g. the LINE event id);
    ``found_refs``: the reference of each order row in the database; ``outbox``: (channel, recipient,
    kind, payload) per outbox row; ``maybe_refs``: one per order request of unknown outcome."""
    expected = Counter(expected_refs)
    found = Counter(found_refs)
    maybe = Counter(maybe_refs)
    lost = sum(max(0, n - found[ref]) for ref, n in expected.items())
    # A ref may be both (a resident's confirm answered 200 and, for another step, one of unknown outcome):
    # it may then be found up to expected + maybe times, and must be found at least the expected times.
    doubled = sum(max(0, n - expected[ref] - maybe[ref]) for ref, n in found.items() if ref in expected or ref in maybe)
    unexpected = sum(n for ref, n in found.items() if ref not in expected and ref not in maybe)
    maybe_found = sum(min(max(0, found[ref] - expected[ref]), n) for ref, n in maybe.items())
    rows = Counter((channel, recipient, kind, json.dumps(payload, sort_keys=True, ensure_ascii=False))
                   for channel, recipient, kind, payload in outbox)
    return Reconciliation(
        orders_expected=sum(expected.values()), orders_found=sum(found.values()),
        orders_lost=lost, orders_doubled=doubled, unexpected_orders=unexpected,
        outbox_rows=sum(rows.values()), outbox_doubled=sum(n - 1 for n in rows.values() if n > 1),
        maybe_sent=sum(maybe.values()), maybe_found=maybe_found)
