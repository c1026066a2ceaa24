"""``otodoke resident export|erase|retention``: a resident's data under APPI (thin wrappers over
residents/privacy.py; registered from otodoke/commands.py)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from core.clock import get_clock
from core.db import db
from core.errors import DomainError
from residents import privacy


@click.group("resident", help="A resident's personal data: export, erasure on request, retention (APPI).")
def resident_group() -> None:
    pass


@resident_group.command("export")
@click.argument("resident_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: standard output).")
@click.option("--actor", default="cli", show_default=True, help="Who asks (written to the audit log).")
@with_appcontext
def export_command(resident_id: int, fmt: str, output, actor: str) -> None:  # type: ignore[no-untyped-def]
    """Everything held about RESIDENT_ID: profile, family links, orders, stops, messages, calls, audit."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with db.transaction(app) as session:
            data = privacy.export_resident(session, resident_id=resident_id, parts=privacy.parts_of(app),
                                           actor=f"cli:{actor}", channel="cli", now=get_clock(app).now(), fmt=fmt)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    output.write(privacy.to_json(data) if fmt == "json" else privacy.to_csv(data))


@resident_group.command("erase")
@click.argument("resident_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--yes", is_flag=True, help="Confirm: this cannot be undone.")
@click.option("--actor", default="cli", show_default=True, help="Who asks (written to the audit log).")
@with_appcontext
def erase_command(resident_id: int, yes: bool, actor: str) -> None:
    """Erase RESIDENT_ID's personal data on request; orders and amounts stay, anonymous."""
    if not yes:
        raise click.UsageError("元に戻せません。確かめてから --yes を付けてください。")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with db.transaction(app) as session:
            counts = privacy.erase_resident(session, resident_id=resident_id, parts=privacy.parts_of(app),
                                            actor=f"cli:{actor}", channel="cli", now=get_clock(app).now())
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"利用者 {resident_id} の個人情報を削除しました: "
               + ", ".join(f"{name} {count}" for name, count in counts.items()))


@resident_group.command("retention")
@with_appcontext
def retention_command() -> None:
    """Run the retention sweep now (the worker runs it daily): RETENTION_* settings."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    policy = privacy.RetentionPolicy.from_config(app.config)
    with db.transaction(app) as session:
        report = privacy.retention_sweep(session, parts=privacy.parts_of(app), policy=policy,
                                         now=get_clock(app).now())
    click.echo(f"匿名化した利用者 {report.residents_anonymised} 人、録音リンクの削除 {report.recordings_pruned} 件、"
               f"会話の状態の削除 {report.conversations_pruned} 件、"
               f"削除できなかった録音の再試行 {report.recordings_retried} 件（{policy}）")


COMMANDS = [resident_group]
