"""``otodoke create-admin``: the first account of a new installation (then invite the others)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from accounts.service import create_account
from core.clock import get_clock
from core.db import db
from core.errors import DomainError


@click.command("create-admin")
@click.option("--email", prompt="メールアドレス")
@click.option("--name", prompt="お名前")
@click.password_option("--password", prompt="パスワード（10文字以上）", confirmation_prompt="もう一度")
@with_appcontext
def create_admin_command(email: str, name: str, password: str) -> None:
    """Make an admin account. At the first sign-in it sets up its TOTP second factor."""
    try:
        with db.transaction() as session:
            account = create_account(session, email=email, display_name=name, password=password, role="admin",
                                     now=get_clock().now(), actor="cli:create-admin")
            account_id = account.id
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"管理者アカウントを作りました（番号 {account_id}）。/staff/login でログインし、二段階認証を設定してください。")
