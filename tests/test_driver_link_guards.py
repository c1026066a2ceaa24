"""The driver's run link, tested so that each guard's removal fails a test (issue 12, hole 12): the
signature (a forged or altered link to a run that EXISTS is refused), the expiry (judged by the app's
clock: 36 h after issue the link is dead), the run ownership of a stop (a stop that exists but belongs to
another run is refused and stays unrecorded), revocation by a re-plan (the old link shows no
addresses any more, issue 12, hole 10), and the run's key (a link never opens another run that got its
run's id, as SQLite gives a deleted run's id to the next one)."""

from __future__ import annotations

import base64
import json
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from delivery.driver_links import MAX_AGE_S, make_token, read_token
from delivery.models import Run, RunStop
from delivery.runner import plan_day
from core.db import db
from tests.factories import make_driver, make_vehicle, run_link_token
from tests.test_planning import town  # noqa: F401  (fixture)

DAY = date(2026, 12, 1)


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.fixture
def planned(app, session, town):  # type: ignore[no-untyped-def]  # noqa: F811
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    run = session.scalars(select(Run)).one()
    result = {"run": run.id}
    session.rollback()
    return result


def _resident_address(session, run_id: int) -> str:  # type: ignore[no-untyped-def]
    from orders.models import Order
    stop = session.scalars(select(RunStop).where(RunStop.run_id == run_id, RunStop.kind == "delivery")).first()
    address = session.get(Order, stop.order_ids[0]).resident.address
    session.rollback()
    return address


def test_a_valid_link_opens_the_run(app, client, session, planned) -> None:
    page = client.get(f"/driver/run/{run_link_token(app, planned['run'])}")
    assert page.status_code == 200 and _resident_address(session, planned["run"]) in page.get_data(as_text=True)


def test_a_link_signed_with_another_key_or_altered_is_refused_for_an_existing_run(app, client, session,
                                                                                  planned) -> None:
    address = _resident_address(session, planned["run"])
    forged = make_token("another-secret", planned["run"])
    # The payload of a real link for another run, swapped for this run's, keeping the real signature.
    real = make_token(app.config["SECRET_KEY"], planned["run"] + 1000)
    payload, stamp, signature = real.split(".")
    swapped = base64.urlsafe_b64encode(json.dumps({"run": planned["run"]}, separators=(",", ":")).encode())
    altered = ".".join([swapped.decode().rstrip("="), stamp, signature])
    for token in (forged, altered, "not-a-token"):
        response = client.get(f"/driver/run/{token}")
        assert response.status_code == 404 and address not in response.get_data(as_text=True), token
    assert read_token(app.config["SECRET_KEY"], altered) is None


def test_the_link_expires_36_hours_after_it_was_made_by_the_app_clock(app, client, clock, session,
                                                                      planned) -> None:
    token = run_link_token(app, planned["run"])     # stamped with the app's clock
    clock.advance(timedelta(seconds=MAX_AGE_S - 60))
    assert client.get(f"/driver/run/{token}").status_code == 200
    clock.advance(timedelta(seconds=120))
    response = client.get(f"/driver/run/{token}")
    assert response.status_code == 404 and "期限" in response.get_data(as_text=True)
    # A link stamped later than "now" (made with another clock) is not accepted either.
    clock.advance(timedelta(days=-3))
    assert client.get(f"/driver/run/{token}").status_code == 404


def test_a_stop_of_another_run_is_refused_and_stays_unrecorded(app, client, session, planned) -> None:
    """The stop exists (on another van's run of the same plan): only the run-ownership check stops it."""
    run = session.get(Run, planned["run"])
    van = make_vehicle(session, name="2号車")
    driver = make_driver(session, van, name="別の配達員", line_user_id="Udriver2")
    other = Run(plan_id=run.plan_id, vehicle_id=van.id, driver_id=driver.id, start_at=run.start_at,
                end_at=run.end_at, distance_m=0, duration_s=0)
    session.add(other)
    session.flush()
    source = run.stops[0]
    foreign = RunStop(run_id=other.id, seq=1, kind="pickup", shop_id=source.shop_id, picks=[], lat=source.lat,
                      lon=source.lon, eta=source.eta)
    session.add(foreign)
    session.commit()
    foreign_id, other_id = foreign.id, other.id
    session.rollback()
    token = run_link_token(app, planned["run"])
    page = client.get(f"/driver/run/{token}").get_data(as_text=True)
    response = client.post(f"/driver/run/{token}/stops/{foreign_id}",
                           data={"outcome": "done", "csrf_token": _csrf(page)}, follow_redirects=True)
    assert "その配達先は見つかりませんでした" in response.get_data(as_text=True)
    with db.reading(app) as s:
        assert s.get(RunStop, foreign_id).status == "pending"
    # The same tap with the other run's own link is recorded: the stop itself was fine.
    own = run_link_token(app, other_id)
    page = client.get(f"/driver/run/{own}").get_data(as_text=True)
    client.post(f"/driver/run/{own}/stops/{foreign_id}", data={"outcome": "done", "csrf_token": _csrf(page)})
    with db.reading(app) as s:
        assert s.get(RunStop, foreign_id).status == "done"


def test_a_replan_revokes_the_old_link_it_shows_no_addresses(app, client, session, planned) -> None:
    address = _resident_address(session, planned["run"])
    old = run_link_token(app, planned["run"])
    assert address in client.get(f"/driver/run/{old}").get_data(as_text=True)
    plan_day(app, delivery_date=DAY, actor="staff:test", time_limit_s=1)
    page = client.get(f"/driver/run/{old}").get_data(as_text=True)
    assert "置き換わりました" in page and "新しいルートを開く" in page
    assert address not in page and "tel:" not in page.replace(f"tel:{app.config['COORDINATOR_PHONE']}", "")
    assert "<svg" not in page


def test_staff_revoke_a_link_the_old_one_stops_opening_the_new_one_works(app, client, session,
                                                                          planned) -> None:
    """A lost phone: 「リンクを取り消して新しくする」 on the QR page. Links made before no longer open
    (no addresses shown), the page shows a new link that does."""
    from urllib.parse import urlsplit

    from core.models import AuditEntry
    from tests.test_staff_and_driver_pages import _login

    address = _resident_address(session, planned["run"])
    old = run_link_token(app, planned["run"])
    assert client.get(f"/driver/run/{old}").status_code == 200
    _login(client)
    page = client.get(f"/staff/runs/{planned['run']}/link").get_data(as_text=True)
    assert client.post(f"/staff/runs/{planned['run']}/revoke-link").status_code == 400     # CSRF
    response = client.post(f"/staff/runs/{planned['run']}/revoke-link", data={"csrf_token": _csrf(page)},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "取り消しました" in page
    new_url = re.search(r'<p class="url">([^<]+)</p>', page).group(1)  # type: ignore[union-attr]
    driver = app.test_client()
    refused = driver.get(f"/driver/run/{old}")
    assert refused.status_code == 404 and "取り消されました" in refused.get_data(as_text=True)
    assert address not in refused.get_data(as_text=True)
    assert address in driver.get(urlsplit(new_url).path).get_data(as_text=True)
    with db.reading(app) as s:
        assert s.scalar(select(AuditEntry.action).where(AuditEntry.action == "run.link_revoked")) is not None


def _reuse_the_id(app, session, run_id: int) -> int:  # type: ignore[no-untyped-def]
    """What SQLite does after a run is deleted (runs has no AUTOINCREMENT): the next run gets its id.
    Deletes the run and inserts another van's run with the same id, explicitly, carrying the same doors
    (so its page shows the same residents' addresses); returns its stop count."""
    run = session.get(Run, run_id)
    copied = [({c.key: getattr(stop, c.key) for c in RunStop.__table__.columns if c.key not in ("id", "run_id")},
               list(stop.order_ids)) for stop in run.stops]
    fields = {c.key: getattr(run, c.key) for c in Run.__table__.columns if c.key not in ("id", "link_key")}
    session.delete(run)
    session.flush()
    van = make_vehicle(session, name="9号車")
    driver = make_driver(session, van, name="別の配達員", line_user_id="Uother")
    other = Run(**dict(fields, id=run_id, vehicle_id=van.id, driver_id=driver.id, link_version=0))
    for columns, order_ids in copied:
        stop = RunStop(**columns)
        stop.order_ids = order_ids
        other.stops.append(stop)
    session.add(other)
    session.commit()
    assert other.id == run_id and other.link_key      # a fresh key, from the model's default
    count = len(copied)
    session.rollback()
    return count


def test_a_link_never_opens_another_run_given_its_runs_id(app, client, session, planned) -> None:
    """Run A's link, A deleted, run B inserted with A's id (another van and driver, the same doors): the
    link opens nothing of B (404, no address, no van), a tap through it records nothing; B's own link
    opens B. Without the key check the old link would show B's addresses."""
    address = _resident_address(session, planned["run"])
    old = run_link_token(app, planned["run"])
    assert address in client.get(f"/driver/run/{old}").get_data(as_text=True)
    assert _reuse_the_id(app, session, planned["run"]) > 0
    stop_id = session.scalars(select(RunStop.id).where(RunStop.run_id == planned["run"])).first()
    session.rollback()

    refused = client.get(f"/driver/run/{old}")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 404 and address not in page and "9号車" not in page
    assert "このリンクは無効" in page
    tap = client.post(f"/driver/run/{old}/stops/{stop_id}", data={"outcome": "done"})
    assert tap.status_code in (400, 404)            # no CSRF token to take from a page it never saw
    own = run_link_token(app, planned["run"])       # B's link (B's key)
    page = client.get(f"/driver/run/{own}").get_data(as_text=True)
    assert address in page and "9号車" in page
    client.post(f"/driver/run/{old}/stops/{stop_id}", data={"outcome": "done", "csrf_token": _csrf(page)})
    with db.reading(app) as s:
        assert s.get(RunStop, stop_id).status == "pending"


def test_a_keyless_link_opens_only_a_keyless_run(app, client, session, planned) -> None:
    """Links made before runs had a key carry none: they keep opening their run (made before too, its
    key NULL), and open no run that has one."""
    keyless = make_token(app.config["SECRET_KEY"], planned["run"])
    assert client.get(f"/driver/run/{keyless}").status_code == 404            # the run has a key
    session.get(Run, planned["run"]).link_key = None                          # a run from before 0012
    session.commit()
    assert client.get(f"/driver/run/{keyless}").status_code == 200
    assert client.get(f"/driver/run/{run_link_token(app, planned['run'])}").status_code == 200


def test_the_tombstone_of_a_removed_run_is_the_links_own(app, session, planned) -> None:
    """On SQLite one id can be removed twice (two runs): each old link reads its own run's tombstone
    (its van, its driver's current run), found by the key; a link revoked before the removal is refused
    by the version the tombstone kept."""
    from datetime import datetime

    from core import audit
    from core.clock import JST
    from delivery.runs import removed_run

    at = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
    first, second = make_vehicle(session, name="1号車"), make_vehicle(session, name="2号車")
    session.flush()
    for van, key, version in ((first, "key-a", 2), (second, "key-b", 0)):
        audit.record(session, at=at, actor="t", channel="staff", action="plan.run_removed", subject_type="run",
                     subject_id=planned["run"], plan_id=0, vehicle_id=van.id, driver_id=None,
                     delivery_date=DAY.isoformat(), reason="no_stop_left", link_key=key, link_version=version)
    session.flush()
    a, b = (removed_run(session, planned["run"], key) for key in ("key-a", "key-b"))
    assert a is not None and b is not None
    assert (a.vehicle_name, a.link_version, b.vehicle_name, b.link_version) == ("1号車", 2, "2号車", 0)
    assert removed_run(session, planned["run"], None) is None and removed_run(session, planned["run"], "x") is None
    session.rollback()


def test_a_link_revoked_before_its_run_was_removed_stays_refused(app, client, session, planned) -> None:
    """The removed page leads to the driver's current run: a revoked link (a lost phone) must not."""
    from datetime import datetime

    from core import audit
    from core.clock import JST

    run = session.get(Run, planned["run"])
    revoked = run_link_token(app, run.id)
    run.link_version = 1                              # staff revoked it
    session.commit()
    current = run_link_token(app, planned["run"])
    run = session.get(Run, planned["run"])
    audit.record(session, at=datetime(2026, 12, 1, 8, 0, tzinfo=JST), actor="t", channel="staff",
                 action="plan.run_removed", subject_type="run", subject_id=run.id, plan_id=run.plan_id,
                 vehicle_id=run.vehicle_id, driver_id=run.driver_id, delivery_date=DAY.isoformat(),
                 reason="no_stop_left", link_key=run.link_key, link_version=1)
    session.delete(run)
    session.commit()
    refused = client.get(f"/driver/run/{revoked}")
    assert refused.status_code == 404 and "取り消されました" in refused.get_data(as_text=True)
    page = client.get(f"/driver/run/{current}")
    assert page.status_code == 200 and "この便はなくなりました" in page.get_data(as_text=True)


def test_the_link_version_migration_both_ways(tmp_path) -> None:
    """0006 adds runs.link_version; the downgrade drops it (the runs stay), the upgrade adds it again
    with 0 for every existing run, so links made before the revision keep working."""
    import os
    from contextlib import nullcontext
    from datetime import datetime

    from alembic import command
    from sqlalchemy import inspect, text
    from sqlalchemy.orm import Session

    from delivery.models import Plan
    from core import migrate
    from core.clock import JST
    from core.db import make_engine
    from core.testdb import throwaway_database

    at = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
    server = os.environ.get("TEST_DATABASE_URL")
    with (throwaway_database(server) if server else nullcontext(f"sqlite:///{tmp_path / 'm.db'}")) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        with Session(engine) as session:
            vehicle = make_vehicle(session)
            session.commit()
            plan = Plan(delivery_date=DAY, version=1, active=True, trigger="t", created_by="t", created_at=at)
            plan.runs.append(Run(vehicle_id=vehicle.id, start_at=at, end_at=at, distance_m=0, duration_s=0,
                                 link_version=2))
            session.add(plan)
            session.commit()
        cfg = migrate.alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0005_run_stop_orders")
        assert "link_version" not in {c["name"] for c in inspect(engine).get_columns("runs")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT link_version FROM runs")).scalar() == 0
        engine.dispose()


def test_the_link_key_migration_both_ways(tmp_path) -> None:
    """0012 adds runs.link_key; the downgrade drops it and keeps the runs (no rebuilt table, on both
    databases), the upgrade adds it again NULL for the runs already there, so their keyless links keep
    opening them."""
    import os
    from contextlib import nullcontext
    from datetime import datetime

    from alembic import command
    from sqlalchemy import inspect, text
    from sqlalchemy.orm import Session

    from delivery.models import Plan
    from core import migrate
    from core.clock import JST
    from core.db import make_engine
    from core.testdb import throwaway_database

    at = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
    server = os.environ.get("TEST_DATABASE_URL")
    with (throwaway_database(server) if server else nullcontext(f"sqlite:///{tmp_path / 'k.db'}")) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        with Session(engine) as session:
            vehicle = make_vehicle(session)
            session.commit()
            plan = Plan(delivery_date=DAY, version=1, active=True, trigger="t", created_by="t", created_at=at)
            plan.runs.append(Run(vehicle_id=vehicle.id, start_at=at, end_at=at, distance_m=0, duration_s=0))
            session.add(plan)
            session.commit()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT link_key FROM runs")).scalar()      # a new run has one
        cfg = migrate.alembic_config(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0011_stop_pins")
        assert "link_key" not in {c["name"] for c in inspect(engine).get_columns("runs")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1
        migrate.upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT link_key FROM runs")).all() == [(None,)]
        engine.dispose()
