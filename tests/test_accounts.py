"""Personal accounts: sign-in with password and TOTP, enrolment, sign-out and disable ending every
session, invitations, role changes, throttling by account and by address, the audit page, the
production guards, ``otodoke create-admin`` and the demo accounts."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from accounts.models import Account, Invitation
from core.models import AuditEntry
from tests.accounts_support import (PASSWORD, TOTP_SECRET, code_for, csrf_of, make_account, post_login,
                                    sign_in)

COORD = "coordinator@test.example"


def _account(session, email: str) -> Account:  # type: ignore[no-untyped-def]
    session.rollback()
    return session.scalar(select(Account).where(Account.email == email))


def _page(response) -> str:  # type: ignore[no-untyped-def]
    """A page's text without what differs on every response (the CSP nonce, the form's token)."""
    import re
    text = response.get_data(as_text=True)
    text = re.sub(r'nonce="[^"]+"', 'nonce=""', text)
    return re.sub(r'(name="csrf_token"[^>]*value=)"[^"]+"', r'\1""', text)


def _post(client, url: str, **data: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/staff/login").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


# --- password and second factor ------------------------------------------------------------------

def test_coordinator_needs_the_password_and_then_a_totp_code(app, client, session) -> None:
    make_account(app)
    response = post_login(client, COORD)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/login/code"
    # the password alone signs nobody in
    assert client.get("/staff/").status_code == 302
    page = client.get("/staff/login/code").get_data(as_text=True)
    wrong = client.post("/staff/login/code", data={"code": "000000", "csrf_token": csrf_of(page)})
    assert wrong.status_code == 401 and "確認コードが違います" in wrong.get_data(as_text=True)
    right = client.post("/staff/login/code", data={"code": code_for(app, COORD), "csrf_token": csrf_of(page)})
    assert right.status_code == 302 and right.headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_a_totp_code_works_once(app, client, session, clock) -> None:
    make_account(app)
    code = pyotp.TOTP(TOTP_SECRET).at(clock.now())
    for attempt in range(2):
        other = app.test_client()
        post_login(other, COORD)
        page = other.get("/staff/login/code").get_data(as_text=True)
        response = other.post("/staff/login/code", data={"code": code, "csrf_token": csrf_of(page)})
        assert response.status_code == (302 if attempt == 0 else 401)


def test_wrong_password_and_unknown_email_get_the_same_answer(app, client) -> None:
    make_account(app)
    wrong = post_login(client, COORD, "not the password")
    unknown = post_login(client, "nobody@test.example", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "メールアドレスかパスワードが違います" in wrong.get_data(as_text=True)
    assert _page(wrong) == _page(unknown).replace("nobody@test.example", COORD)


def test_readonly_signs_in_with_the_password_alone(app, client) -> None:
    response = sign_in(client, "readonly")
    assert response.headers["Location"] == "/staff/"


def test_a_new_admin_enrols_totp_at_the_first_sign_in(app, client, session, clock) -> None:
    make_account(app, "admin", totp=False)
    response = post_login(client, "admin@test.example")
    assert response.headers["Location"] == "/staff/login/enrol"
    page = client.get("/staff/login/enrol").get_data(as_text=True)
    assert "<svg" in page and "QRコード" in page
    secret = _account(session, "admin@test.example").totp_secret
    assert secret and secret in page
    session.rollback()
    assert client.get("/staff/accounts").status_code == 302         # not signed in before the code
    wrong = client.post("/staff/login/enrol", data={"code": "123456", "csrf_token": csrf_of(page)})
    assert wrong.status_code == 401 and not _account(session, "admin@test.example").totp_enabled
    session.rollback()
    done = client.post("/staff/login/enrol", data={"code": pyotp.TOTP(secret).at(clock.now()),
                                                   "csrf_token": csrf_of(page)})
    assert done.status_code == 302
    assert _account(session, "admin@test.example").totp_enabled
    session.rollback()
    assert client.get("/staff/accounts").status_code == 200
    # the next sign-in asks for the code
    assert post_login(app.test_client(), "admin@test.example").headers["Location"] == "/staff/login/code"


def test_a_demo_coordinator_may_skip_enrolment(app, client, session, clock) -> None:
    from accounts.demo import DEMO_PASSWORD, add_demo_accounts
    from core.db import db
    from tests.factories import make_driver, make_shop, make_vehicle
    make_shop(session)
    make_driver(session, make_vehicle(session))
    session.commit()
    with db.transaction(app) as s:
        assert add_demo_accounts(s, now=clock.now()) == 5
    response = post_login(client, "coordinator@demo.example", DEMO_PASSWORD)
    assert response.headers["Location"] == "/staff/"
    # ... and can still enrol from a signed-in session
    page = client.get("/staff/").get_data(as_text=True)
    started = client.post("/staff/login/enrol-now", data={"csrf_token": csrf_of(page)})
    assert started.headers["Location"] == "/staff/login/enrol"
    assert "<svg" in client.get("/staff/login/enrol").get_data(as_text=True)
    # a non-demo coordinator without TOTP cannot skip it
    make_account(app, "coordinator", email="real@test.example", totp=False)
    assert post_login(app.test_client(), "real@test.example").headers["Location"] == "/staff/login/enrol"


# --- sessions end: logout, disable, role change ------------------------------------------------

def test_logout_ends_the_session_and_a_copied_cookie(app, client) -> None:
    sign_in(client)
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert copy.get("/staff/").status_code == 200
    page = client.get("/staff/").get_data(as_text=True)
    assert client.post("/staff/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert client.get("/staff/").status_code == 302
    assert copy.get("/staff/").status_code == 302


def test_logout_needs_the_forms_token(app, client) -> None:
    sign_in(client)
    assert client.post("/staff/logout").status_code == 400
    assert client.get("/staff/").status_code == 200


def test_disabling_an_account_ends_its_sessions_and_its_sign_in(app, client, session) -> None:
    admin = app.test_client()
    sign_in(admin, "admin")
    sign_in(client)
    assert client.get("/staff/").status_code == 200
    victim = _account(session, COORD).id
    session.rollback()
    page = admin.get("/staff/accounts").get_data(as_text=True)
    assert COORD in page
    assert admin.post(f"/staff/accounts/{victim}/disable", data={"csrf_token": csrf_of(page)}).status_code == 302
    assert client.get("/staff/").status_code == 302                   # the open session is gone
    assert post_login(app.test_client(), COORD).status_code == 401    # and no new one
    assert _account(session, COORD).disabled
    session.rollback()
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "account")).all()
    assert "account.disabled" in actions
    session.rollback()
    admin.post(f"/staff/accounts/{victim}/enable", data={"csrf_token": csrf_of(page)})
    assert sign_in(app.test_client()).status_code == 302


def test_an_admin_cannot_disable_themselves(app, session) -> None:
    admin = app.test_client()
    sign_in(admin, "admin")
    me = _account(session, "admin@test.example").id
    session.rollback()
    _post(admin, f"/staff/accounts/{me}/disable")
    assert not _account(session, "admin@test.example").disabled


def test_a_role_change_ends_the_old_session(app, client, session) -> None:
    admin = app.test_client()
    sign_in(admin, "admin")
    sign_in(client)
    who = _account(session, COORD).id
    session.rollback()
    assert _post(admin, f"/staff/accounts/{who}/role", role="readonly").status_code == 302
    assert _account(session, COORD).role == "readonly"
    session.rollback()
    assert client.get("/staff/").status_code == 302


# --- invitations ---------------------------------------------------------------------------------

def _invite(admin, email: str, role: str = "readonly") -> str:  # type: ignore[no-untyped-def]
    page = admin.get("/staff/accounts").get_data(as_text=True)
    admin.post("/staff/accounts/invite", data={"email": email, "role": role, "csrf_token": csrf_of(page)})
    page = admin.get("/staff/accounts").get_data(as_text=True)
    link = page.split("/staff/invite/")[1].split("<")[0]
    assert "/staff/invite/" not in admin.get("/staff/accounts").get_data(as_text=True)   # shown once
    return "/staff/invite/" + link


def test_an_invitation_makes_an_account_once(app, client, session) -> None:
    admin = app.test_client()
    sign_in(admin, "admin")
    link = _invite(admin, "New.Person@Test.example")
    page = client.get(link).get_data(as_text=True)
    assert "new.person@test.example" in page
    short = client.post(link, data={"display_name": "新人", "password": "short", "confirm": "short",
                                    "csrf_token": csrf_of(page)})
    assert short.status_code == 400 and _account(session, "new.person@test.example") is None
    session.rollback()
    made = client.post(link, data={"display_name": "新人", "password": "a long password", "confirm": "a long password",
                                   "csrf_token": csrf_of(page)})
    assert made.status_code == 302
    account = _account(session, "new.person@test.example")
    assert account.role == "readonly" and account.password_hash.startswith("$argon2id$")
    session.rollback()
    assert client.get(link).status_code == 404                       # one time only
    signed = post_login(app.test_client(), "new.person@test.example", "a long password")
    assert signed.status_code == 302 and signed.headers["Location"] == "/staff/"
    stored = session.scalars(select(Invitation.token_hash)).one()
    assert link.rsplit("/", 1)[1] != stored                           # only a hash is kept


def test_an_invitation_expires(app, client, clock) -> None:
    admin = app.test_client()
    sign_in(admin, "admin")
    link = _invite(admin, "late@test.example")
    clock.advance(timedelta(days=3, minutes=1))
    assert client.get(link).status_code == 404
    assert client.get("/staff/invite/forged-token").status_code == 404


# --- throttling ----------------------------------------------------------------------------------

def _from(client, address: str, email: str, password: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/staff/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True))
    return client.post("/staff/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_sign_in_is_throttled_per_account_whatever_the_address(app, client) -> None:
    make_account(app, "readonly")
    for n in range(10):
        assert _from(client, f"10.0.0.{n}", "readonly@test.example", "guess").status_code == 401
    # a new address does not get straight in, and the right password gets the very same answer
    wrong = _from(client, "10.0.1.1", "readonly@test.example", "guess")
    right = _from(client, "10.0.1.2", "readonly@test.example", PASSWORD)
    assert wrong.status_code == right.status_code == 429
    assert _page(wrong) == _page(right) and "お待ちください" in right.get_data(as_text=True)
    # someone else, elsewhere, still signs in
    make_account(app, "admin", totp=True)
    assert _from(app.test_client(), "10.0.2.1", "admin@test.example", PASSWORD).status_code == 302


def test_sign_in_is_throttled_per_address_whatever_the_account(app, client) -> None:
    make_account(app, "readonly")
    for n in range(10):
        assert _from(client, "10.9.9.9", f"guess{n}@test.example", "guess").status_code == 401
    assert _from(client, "10.9.9.9", "readonly@test.example", PASSWORD).status_code == 429
    assert _from(app.test_client(), "10.9.9.10", "readonly@test.example", PASSWORD).status_code == 302


def test_wrong_totp_codes_count_too(app, client) -> None:
    make_account(app)
    post_login(client, COORD)
    page = client.get("/staff/login/code").get_data(as_text=True)
    for _ in range(10):
        assert client.post("/staff/login/code", data={"code": "000000", "csrf_token": csrf_of(page)}).status_code == 401
    late = client.post("/staff/login/code", data={"code": code_for(app, COORD), "csrf_token": csrf_of(page)})
    assert late.status_code == 429


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(app, database_url, clock, tmp_path) -> None:
    from otodoke import create_app
    from core.db import db

    def attempts(trusted: int) -> int:
        proxied = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
                              "JOBS_URL": f"sqlite:///{tmp_path / f'j{trusted}.db'}", "TRUSTED_PROXIES": trusted},
                             clock=clock)
        client = proxied.test_client()
        for n in range(10):
            headers = {"X-Forwarded-For": f"192.0.2.{n}"}
            token = csrf_of(client.get("/staff/login", headers=headers).get_data(as_text=True))
            client.post("/staff/login", headers=headers,
                        data={"email": f"x{n}@test.example", "password": "guess", "csrf_token": token})
        headers = {"X-Forwarded-For": "198.51.100.7"}
        token = csrf_of(client.get("/staff/login", headers=headers).get_data(as_text=True))
        status = client.post("/staff/login", headers=headers, data={
            "email": "y@test.example", "password": "guess", "csrf_token": token}).status_code
        db.bound(proxied).engine.dispose()
        return status

    assert attempts(0) == 429      # the header is anyone's to write: all ten came from one address
    assert attempts(1) == 401      # behind one proxy, each client's own address counts


# --- CSRF, audit, production ------------------------------------------------------------------

def test_forms_without_the_token_are_refused(app, client) -> None:
    make_account(app, "readonly")
    refused = client.post("/staff/login", data={"email": "readonly@test.example", "password": PASSWORD})
    assert refused.status_code == 400 and "有効期限" in refused.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def test_views_of_personal_data_and_changes_are_audited_and_admins_read_them(app, client, session) -> None:
    sign_in(client)
    coordinator = _account(session, COORD).id
    session.rollback()
    client.get("/staff/?date=2026-12-01")
    client.get("/voice/messages")
    views = session.scalars(select(AuditEntry).where(AuditEntry.action.like("view.%"))).all()
    assert {(v.action, v.actor) for v in views} == {("view.dashboard", f"account:{coordinator}"),
                                                    ("view.voice_messages", f"account:{coordinator}")}
    session.rollback()
    assert client.get("/staff/audit").status_code == 403
    admin = app.test_client()
    sign_in(admin, "admin")
    page = admin.get("/staff/audit").get_data(as_text=True)
    assert "view.dashboard" in page and f"account:{coordinator}" in page


def test_the_audit_page_pages_back_by_id(app, session, clock) -> None:
    """``?before=<id>`` lists only older entries; a value that is no plausible id lists from the newest."""
    from core import audit
    for action in ("test.first", "test.second", "test.third"):
        audit.record(session, at=clock.now(), actor="test", channel="web", action=action,
                     subject_type="test", subject_id=0)
    session.commit()
    second = session.scalar(select(AuditEntry.id).where(AuditEntry.action == "test.second"))
    session.rollback()
    admin = app.test_client()
    sign_in(admin, "admin")

    def shown(query: str) -> set[str]:
        page = admin.get(f"/staff/audit{query}").get_data(as_text=True)
        return {a for a in ("test.first", "test.second", "test.third") if a in page}

    assert shown("") == {"test.first", "test.second", "test.third"}
    assert shown(f"?before={second}") == {"test.first"}
    for nonsense in (f"{2**31}", f"{2**62}", f"{2**64}", "x", "-5", "0"):
        assert shown(f"?before={nonsense}") == shown(""), nonsense


def test_cookie_is_httponly_and_samesite_and_secure_in_production(app, client, database_url, clock, tmp_path) -> None:
    from otodoke import create_app
    from core.db import db
    cookie = client.get("/staff/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    prod = create_app({"ENV_NAME": "production", "SECRET_KEY": "a-real-secret-of-some-length",
                       "DATABASE_URL": database_url, "JOBS_URL": f"sqlite:///{tmp_path / 'p.db'}"}, clock=clock)
    cookie = prod.test_client().get("/staff/login").headers["Set-Cookie"]
    db.bound(prod).engine.dispose()
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("secret", ["dev-only-not-secret", "", "short"])
def test_production_refuses_a_default_or_short_secret_key(database_url, clock, tmp_path, secret) -> None:
    from otodoke import create_app
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": secret, "DATABASE_URL": database_url,
                    "JOBS_URL": f"sqlite:///{tmp_path / 'p.db'}"}, clock=clock)


def test_production_never_loads_the_demo_town(database_url, clock, tmp_path) -> None:
    from places.models import District
    from otodoke import create_app, demo_loader
    from core.db import db
    prod = create_app({"ENV_NAME": "production", "SECRET_KEY": "a-real-secret-of-some-length",
                       "DATABASE_URL": database_url, "JOBS_URL": f"sqlite:///{tmp_path / 'p.db'}"}, clock=clock)
    assert demo_loader.seed_if_empty(prod) is False
    with db.reading(prod) as session:
        assert session.scalar(select(District.id)) is None
        assert session.scalar(select(Account.id)) is None
    db.bound(prod).engine.dispose()


def test_the_sign_in_page_prints_no_password(client) -> None:
    from accounts.demo import DEMO_PASSWORD
    page = client.get("/staff/login").get_data(as_text=True)
    assert DEMO_PASSWORD not in page and PASSWORD not in page


def test_create_admin_makes_the_first_account(app, runner, session) -> None:
    result = runner.invoke(args=["create-admin", "--email", "Boss@Town.example", "--name", "市役所 太郎",
                                 "--password", "a long password"])
    assert result.exit_code == 0, result.output
    account = _account(session, "boss@town.example")
    assert account.role == "admin" and not account.totp_enabled and not account.is_demo
    session.rollback()
    assert post_login(app.test_client(), "boss@town.example", "a long password").headers["Location"] == "/staff/login/enrol"
    again = runner.invoke(args=["create-admin", "--email", "boss@town.example", "--name", "x",
                                "--password", "a long password"])
    assert again.exit_code != 0 and "すでにあります" in again.output


def test_demo_accounts_come_only_with_the_demo_town(app, session, clock) -> None:
    from demo.seed import seed_demo
    assert session.scalars(select(Account)).all() == []
    seed_demo(session, now=clock.now())
    session.commit()
    accounts = session.scalars(select(Account).order_by(Account.id)).all()
    assert [a.role for a in accounts] == ["admin", "coordinator", "readonly", "shop", "driver"]
    assert all(a.is_demo for a in accounts) and accounts[3].shop_id and accounts[4].driver_id
    seed_demo(session, now=clock.now())     # a second run changes nothing
    session.commit()
    assert len(session.scalars(select(Account)).all()) == 5


def test_the_accounts_migration_goes_up_and_down(tmp_path) -> None:
    import os
    from contextlib import nullcontext

    from alembic import command
    from sqlalchemy import inspect

    from core import migrate
    from core.db import make_engine
    from core.testdb import throwaway_database

    server = os.environ.get("TEST_DATABASE_URL")
    with (throwaway_database(server) if server else nullcontext(f"sqlite:///{tmp_path / 'm.db'}")) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        assert {"accounts", "invitations"} <= set(inspect(engine).get_table_names())
        cfg = migrate.alembic_config(url)
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0006_run_link_version")
        assert not {"accounts", "invitations"} & set(inspect(engine).get_table_names())
        migrate.upgrade(engine)
        assert {"accounts", "invitations"} <= set(inspect(engine).get_table_names())
        engine.dispose()


def test_signing_in_starts_a_new_session(app, client) -> None:
    """Nothing put into the session before sign-in (by a page, or planted by someone) survives it."""
    with client.session_transaction() as planted:
        planted["planted"] = "by someone else"
    sign_in(client, "readonly")
    with client.session_transaction() as after:
        assert "planted" not in after and "_user_id" in after


def test_a_disabled_flag_alone_ends_the_session(app, client, session) -> None:
    """Even set by hand in the database (no generation change), a disabled account's session is over."""
    sign_in(client)
    account = _account(session, COORD)
    account.disabled = True
    session.commit()
    assert client.get("/staff/").status_code == 302


def test_otodoke_run_prints_the_demo_sign_ins_only_with_the_demo_town(app, session, clock, capsys) -> None:
    from accounts.demo import DEMO_PASSWORD
    from demo.seed import seed_demo
    from otodoke.runner import _print_demo_accounts
    _print_demo_accounts(app)
    assert DEMO_PASSWORD not in capsys.readouterr().out          # no demo town, no demo accounts
    seed_demo(session, now=clock.now())
    session.commit()
    _print_demo_accounts(app)
    out = capsys.readouterr().out
    assert DEMO_PASSWORD in out and "admin@demo.example" in out and "driver@demo.example" in out
    app.config["ENV_NAME"] = "production"
    _print_demo_accounts(app)
    assert capsys.readouterr().out == ""


def test_a_shop_invitation_names_its_shop_and_lands_on_the_shop_page(app, client, session) -> None:
    from tests.factories import make_shop
    shop = make_shop(session, name="あやめ青果店")
    session.commit()
    shop_id = shop.id
    session.rollback()
    admin = app.test_client()
    sign_in(admin, "admin")
    page = admin.get("/staff/accounts").get_data(as_text=True)
    refused = admin.post("/staff/accounts/invite", data={"email": "s@test.example", "role": "shop",
                                                         "csrf_token": csrf_of(page)}, follow_redirects=True)
    assert "お店を選んでください" in refused.get_data(as_text=True)
    assert session.scalars(select(Invitation)).all() == []
    session.rollback()
    admin.post("/staff/accounts/invite", data={"email": "s@test.example", "role": "shop", "shop_id": str(shop_id),
                                               "csrf_token": csrf_of(page)})
    link = "/staff/invite/" + admin.get("/staff/accounts").get_data(as_text=True).split("/staff/invite/")[1].split("<")[0]
    form = client.get(link).get_data(as_text=True)
    client.post(link, data={"display_name": "店長", "password": "a long password", "confirm": "a long password",
                            "csrf_token": csrf_of(form)})
    signed = post_login(client, "s@test.example", "a long password")
    assert signed.headers["Location"] == "/shop/"
    assert "あやめ青果店" in client.get("/shop/").get_data(as_text=True)
    assert client.get("/staff/").status_code == 403
