"""What the delivery domain holds about a resident, for the APPI export and erasure
(``residents/privacy.py``; the factory hands it this part).

A delivery stop keeps the door's position and the driver's note. On erasure the note is blanked and the
position is rounded to two decimals (about a kilometre): the run's distance and timing stay meaningful
for the town's reports, the house cannot be found from it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from delivery.models import RunStop, RunStopOrder
from orders.models import Order
from residents.models import Resident
from residents.privacy import PersonalDataPart, Row


def _stops(session: Session, resident: Resident) -> list[RunStop]:
    # The stop ids first: PostgreSQL has no DISTINCT over a stop's JSON column.
    ids = (select(RunStopOrder.run_stop_id).join(Order, Order.id == RunStopOrder.order_id)
           .where(Order.resident_id == resident.id))
    return list(session.scalars(select(RunStop).where(RunStop.id.in_(ids)).order_by(RunStop.id)))


def _collect(session: Session, resident: Resident) -> list[Row]:
    return [{"id": s.id, "run_id": s.run_id, "order_ids": list(s.order_ids), "eta": s.eta.isoformat(),
             "status": s.status, "done_at": s.done_at.isoformat() if s.done_at else None,
             "cash_collected_yen": s.cash_collected_yen, "note": s.note, "lat": s.lat, "lon": s.lon}
            for s in _stops(session, resident)]


def _erase(session: Session, resident: Resident, now: datetime) -> int:
    stops = _stops(session, resident)
    for stop in stops:
        stop.note, stop.lat, stop.lon = "", round(stop.lat, 2), round(stop.lon, 2)
    return len(stops)


PART = PersonalDataPart("delivery_stops", _collect, _erase, audit_subject="run_stop")
