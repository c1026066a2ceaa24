"""The residents' rich menu: four big tiles, 注文する / いつもの / 注文の確認 / 電話で相談.

Each tile is a postback with the same data as the chat's own buttons, so the menu and the chat never
disagree. ``otodoke line-richmenu --image menu.png`` installs it; the image must carry the four words
in large type (JPEG/PNG, 2500×1686, ≤ 1 MB). Without ``--image`` a plain four-colour placeholder is
generated: it works, but has no words on it, and the command says so.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from linebot.v3.messaging import PostbackAction, RichMenuArea, RichMenuBounds, RichMenuRequest, RichMenuSize

from bot import messages as m
from bot.line_client import line_api

WIDTH, HEIGHT = 2500, 1686
TILES = (("注文する", "shops"), ("いつもの", "usual"), ("注文の確認", "status"), ("電話で相談", "help"))
COLOURS = ((6, 199, 85), (255, 170, 0), (0, 120, 215), (200, 60, 60))


def menu_request() -> RichMenuRequest:
    """2 × 2 tiles; ``chatBarText`` ≤ 14 chars and ≤ 20 areas, as LINE requires."""
    half_w, half_h = WIDTH // 2, HEIGHT // 2
    areas = []
    for i, (label_text, action) in enumerate(TILES):
        x, y = (i % 2) * half_w, (i // 2) * half_h
        areas.append(RichMenuArea(
            bounds=RichMenuBounds(x=x, y=y, width=half_w, height=half_h),
            action=PostbackAction(label=label_text, data=m.data(action), displayText=label_text)))
    return RichMenuRequest(size=RichMenuSize(width=WIDTH, height=HEIGHT), selected=True,
                           name="otodoke-resident", chatBarText="メニュー", areas=areas)


def placeholder_png(width: int = WIDTH, height: int = HEIGHT) -> bytes:
    """A four-colour PNG made with zlib only (no imaging library needed)."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for half in range(2):
            colour = COLOURS[(y * 2 // height) * 2 + half]
            row += bytes(colour) * (width // 2 if half == 0 else width - width // 2)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))


@click.command("line-richmenu")
@click.option("--image", type=click.Path(exists=True, dir_okay=False), help="PNG/JPEG 2500×1686 with the four words.")
@with_appcontext
def richmenu_command(image: str | None) -> None:
    """Install the residents' rich menu on the LINE channel (or the sandbox)."""
    api = line_api(current_app)
    if api is None:
        raise click.ClickException("LINE is not configured and the sandbox is off.")
    if image:
        data = Path(image).read_bytes()
        content_type = "image/png" if data[:4] == b"\x89PNG" else "image/jpeg"
    else:
        data, content_type = placeholder_png(), "image/png"
        click.echo("注意：文字のない仮の画像を使います。--image で文字入りの画像を指定してください。")
    if len(data) > 1_000_000:
        raise click.ClickException("the rich menu image must be 1 MB or less")
    menu_id, result = api.install_rich_menu(menu_request(), data, content_type)
    if not result.ok:
        raise click.ClickException(f"LINE refused the rich menu ({result.status}): {result.detail}")
    click.echo(f"rich menu installed: {menu_id}")
