"""One-time link codes: issue, redeem for each purpose, refusals, and the concurrent-redemption race."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import event, func, select, update

from delivery.models import Driver
from core.clock import JST
from core.db import db
from core.errors import DomainError
from links.service import LinkResult, issue_code, redeem_code
from core.models import AuditEntry
from links.models import LinkCode
from residents.models import FamilyLink, Resident
from shops.models import ShopOwner
from tests.factories import make_driver, make_resident, make_shop

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)


def test_issue_gives_six_readable_digits_unique(session) -> None:
    resident = make_resident(session)
    codes = [issue_code(session, purpose="family", target_id=resident.id, actor="staff:test", now=NOW).code
             for _ in range(50)]
    session.commit()
    assert all(len(c) == 6 and c.isdigit() and c[0] != "0" for c in codes)
    assert len(set(codes)) == 50
    link = session.scalars(select(LinkCode).where(LinkCode.code == codes[0])).one()
    assert link.expires_at == NOW + timedelta(days=7) and link.used_at is None
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "link.issue")) == 50


def test_issue_refuses_unknown_target_and_purpose(session) -> None:
    with pytest.raises(DomainError) as info:
        issue_code(session, purpose="resident", target_id=4242, actor="staff:test", now=NOW)
    assert info.value.code == "link_target_not_found"
    with pytest.raises(ValueError):
        issue_code(session, purpose="admin", target_id=1, actor="staff:test", now=NOW)


def test_redeem_each_purpose(session) -> None:
    resident = make_resident(session)
    shop = make_shop(session)
    driver = make_driver(session)
    codes = {p: issue_code(session, purpose=p, target_id=t, actor="staff:test", now=NOW).code
             for p, t in (("resident", resident.id), ("family", resident.id), ("shop", shop.id),
                          ("driver", driver.id))}
    session.commit()

    assert redeem_code(session, code=codes["resident"], line_user_id="Uself", now=NOW) == LinkResult(
        "resident", resident.id)
    # Full-width digits and spaces, as a phone keyboard might send them.
    spaced = " ".join("０１２３４５６７８９"[int(c)] for c in codes["family"])
    assert redeem_code(session, code=spaced, line_user_id="Uson", now=NOW,
                       display_name="長男 一郎").purpose == "family"
    redeem_code(session, code=codes["shop"], line_user_id="Ushop", now=NOW, display_name="店主")
    redeem_code(session, code=codes["driver"], line_user_id="Udriver", now=NOW)
    session.commit()
    session.expire_all()

    assert session.get(Resident, resident.id).line_user_id == "Uself"
    family = session.scalars(select(FamilyLink)).one()
    assert (family.resident_id, family.line_user_id, family.name) == (resident.id, "Uson", "長男 一郎")
    owner = session.scalars(select(ShopOwner)).one()
    assert (owner.shop_id, owner.line_user_id) == (shop.id, "Ushop")
    assert session.get(Driver, driver.id).line_user_id == "Udriver"
    used = session.scalars(select(LinkCode)).all()
    assert all(c.used_at == NOW for c in used) and {c.used_by for c in used} == {
        "Uself", "Uson", "Ushop", "Udriver"}
    assert session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == "link.redeem")) == 4


@pytest.mark.parametrize("code, error", [("123", "link_code_format"), ("abcdef", "link_code_format"),
                                         ("999999", "link_code_unknown")])
def test_redeem_bad_or_unknown_code(session, code: str, error: str) -> None:
    with pytest.raises(DomainError) as info:
        redeem_code(session, code=code, line_user_id="Ux", now=NOW)
    assert info.value.code == error and info.value.message


def test_redeem_reuse_and_expiry(session) -> None:
    resident = make_resident(session)
    code = issue_code(session, purpose="family", target_id=resident.id, actor="staff:test", now=NOW,
                      ttl=timedelta(hours=1)).code
    late = issue_code(session, purpose="family", target_id=resident.id, actor="staff:test", now=NOW,
                      ttl=timedelta(hours=1)).code
    session.commit()
    redeem_code(session, code=code, line_user_id="Ua", now=NOW + timedelta(minutes=5))
    session.commit()
    with pytest.raises(DomainError) as reused:
        redeem_code(session, code=code, line_user_id="Ub", now=NOW + timedelta(minutes=6))
    assert reused.value.code == "link_code_used"
    assert "すでに使われています" in reused.value.message
    with pytest.raises(DomainError) as expired:
        redeem_code(session, code=late, line_user_id="Ub", now=NOW + timedelta(hours=1))
    assert expired.value.code == "link_code_expired"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(FamilyLink)) == 1


def test_failed_link_leaves_code_unused(session) -> None:
    first, second = make_resident(session, line_user_id="Utaken"), make_resident(session)
    code = issue_code(session, purpose="resident", target_id=second.id, actor="staff:test", now=NOW).code
    session.commit()
    with pytest.raises(DomainError) as info:
        redeem_code(session, code=code, line_user_id="Utaken", now=NOW)
    assert info.value.code == "line_already_registered"
    session.rollback()
    assert session.scalars(select(LinkCode)).one().used_at is None
    assert first.line_user_id == "Utaken"


def test_redeem_same_account_twice_for_family_is_harmless(session) -> None:
    resident = make_resident(session)
    codes = [issue_code(session, purpose="family", target_id=resident.id, actor="t", now=NOW).code
             for _ in range(2)]
    assert not redeem_code(session, code=codes[0], line_user_id="Uf", now=NOW).already_linked
    assert redeem_code(session, code=codes[1], line_user_id="Uf", now=NOW).already_linked
    assert session.scalar(select(func.count()).select_from(FamilyLink)) == 1


def test_inactive_resident_cannot_be_linked(session) -> None:
    resident = make_resident(session)
    code = issue_code(session, purpose="family", target_id=resident.id, actor="t", now=NOW).code
    resident.active = False
    with pytest.raises(DomainError) as info:
        redeem_code(session, code=code, line_user_id="Uf", now=NOW)
    assert info.value.code == "link_target_inactive"


THREADS = 8


def _race(app: Flask, attempt) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    """Run ``attempt(i)`` in THREADS threads released together; return winners' and losers' outcomes."""
    barrier = threading.Barrier(THREADS, timeout=30)
    wins: list[str] = []
    losses: list[str] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            outcome = attempt(i, barrier)
        except DomainError as error:
            with lock:
                losses.append(error.code)
        else:
            with lock:
                wins.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    return wins, losses


def _setup_code(app: Flask) -> tuple[int, str]:
    with db.transaction(app) as session:
        resident = make_resident(session)
        code = issue_code(session, purpose="family", target_id=resident.id, actor="t", now=NOW).code
        return resident.id, code


def test_concurrent_redemption_has_exactly_one_winner(app: Flask, engine) -> None:
    resident_id, code = _setup_code(app)
    # On PostgreSQL, hold every thread just before its UPDATE until all of them have read the code as
    # unused: the worst interleaving, every time. (SQLite's BEGIN IMMEDIATE serialises the whole
    # transaction, so there a second barrier would only deadlock; the first one still races them.)
    before_update = threading.Barrier(THREADS, timeout=30)
    hold = engine.dialect.name == "postgresql"

    def _hold_update(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if hold and statement.lstrip().upper().startswith("UPDATE LINK_CODES"):
            before_update.wait()

    event.listen(engine, "before_cursor_execute", _hold_update)

    def attempt(i: int, barrier: threading.Barrier) -> str:
        barrier.wait()
        with db.transaction(app) as session:
            redeem_code(session, code=code, line_user_id=f"Urace{i}", now=NOW)
        return f"Urace{i}"

    try:
        wins, losses = _race(app, attempt)
    finally:
        event.remove(engine, "before_cursor_execute", _hold_update)
    assert len(wins) == 1
    assert losses == ["link_code_used"] * (THREADS - 1)
    with db.reading(app) as session:
        links = session.scalars(select(FamilyLink).where(FamilyLink.resident_id == resident_id)).all()
        assert [link.line_user_id for link in links] == wins
        assert session.scalars(select(LinkCode)).one().used_by == wins[0]


def test_negative_control_unguarded_check_then_update_links_several(app: Flask) -> None:
    """The same race without the guarded UPDATE: check that the code is unused, then mark it used.

    On PostgreSQL (READ COMMITTED) a plain SELECT inside the redeeming transaction sees exactly what
    this separate read sees, so this is the naive implementation's behaviour. Several accounts get
    linked with one code, which is what the guard in ``redeem_code`` prevents.
    """
    resident_id, code = _setup_code(app)

    def naive(i: int, barrier: threading.Barrier) -> str:
        with db.reading(app) as session:
            link = session.scalars(select(LinkCode).where(LinkCode.code == code)).one()
            unused = link.used_at is None
        barrier.wait()
        if not unused:
            raise DomainError("link_code_used", "")
        with db.transaction(app) as session:
            session.execute(update(LinkCode).where(LinkCode.id == link.id)
                            .values(used_at=NOW, used_by=f"Unaive{i}"))
            session.add(FamilyLink(resident_id=resident_id, line_user_id=f"Unaive{i}", name="",
                                   linked_at=NOW))
        return f"Unaive{i}"

    wins, _ = _race(app, naive)
    assert len(wins) > 1
    with db.reading(app) as session:
        assert session.scalar(select(func.count()).select_from(FamilyLink)) > 1


def test_issue_link_code_command(app: Flask, runner) -> None:  # type: ignore[no-untyped-def]
    with db.transaction(app) as session:
        resident_id = make_resident(session).id
    result = runner.invoke(args=["issue-link-code", "family", str(resident_id), "--days", "2"])
    assert result.exit_code == 0, result.output
    code = result.output.split()[0]
    assert len(code) == 6 and code.isdigit()
    assert "expires 2026-12-03 08:00" in result.output   # the frozen clock plus two days, in JST
    with db.reading(app) as session:
        assert session.scalars(select(LinkCode)).one().code == code
    missing = runner.invoke(args=["issue-link-code", "driver", "4242"])
    assert missing.exit_code == 1 and "見つかりませんでした" in missing.output
