"""The rich menu: four tiles whose postbacks match the chat's buttons, installed through the SDK."""

from __future__ import annotations

import zlib

from linebot.v3.messaging import RichMenuRequest

from bot.richmenu import menu_request, placeholder_png
from tests.line_support import line_app, line_fake  # noqa: F401  (fixtures)


def test_menu_respects_line_limits() -> None:
    wire = menu_request().to_dict()
    RichMenuRequest.from_dict(wire)
    assert len(wire["areas"]) == 4 <= 20 and len(wire["chatBarText"]) <= 14
    assert [a["action"]["data"] for a in wire["areas"]] == ["a=shops", "a=usual", "a=status", "a=help"]
    assert wire["size"]["width"] / wire["size"]["height"] >= 1.45


def test_placeholder_is_a_valid_png_under_1mb() -> None:
    png = placeholder_png(40, 20)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and b"IEND" in png
    idat = png[png.index(b"IDAT") + 4: png.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == 20 * (1 + 40 * 3)
    assert len(placeholder_png()) < 1_000_000


def test_cli_installs_the_menu(line_app, line_fake) -> None:
    result = line_app.test_cli_runner().invoke(args=["line-richmenu"])
    assert result.exit_code == 0, result.output
    paths = [c.path for c in line_fake.fake.calls]
    assert paths[0] == "/v2/bot/richmenu" and paths[1].endswith("/content")
    assert paths[2].startswith("/v2/bot/user/all/richmenu/")
    assert line_fake.fake.calls[1].body["contentType"] == "image/png"
    assert "installed" in result.output
