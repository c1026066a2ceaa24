"""The /sandbox/line page's script, run under node with a stand-in DOM: it renders text, quick replies
and Flex cards, and every tap becomes a signed webhook post. Skipped when node is not installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot import messages as m

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")


def _page_script() -> str:
    html = (ROOT / "sandbox" / "templates" / "sandbox" / "line.html").read_text(encoding="utf-8")
    return re.search(r"<script[^>]*>(.*)</script>", html, re.S).group(1)  # type: ignore[union-attr]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_sandbox_page_renders_and_posts_events(tmp_path: Path) -> None:
    harness = (ROOT / "tests" / "fixtures" / "line" / "sandbox_harness.js").read_text(encoding="utf-8")
    script = tmp_path / "sandbox_run.js"
    script.write_text(harness + _page_script(), encoding="utf-8")
    messages = m.as_dicts([
        m.flex("商品", [m.bubble("大根", ["150円（1本）"], [m.postback("これを買う", "qty", p=7)]),
                       m.bubble("りんご", ["120円（1個）"], [m.postback("これを買う", "qty", p=8)])]),
        m.text("ご住所の位置を送ってください。",
               quick=m.quick_reply([m.postback("はい", "regok"), m.location_action()])),
    ])
    result = subprocess.run([NODE, str(script)], capture_output=True, text=True, timeout=60,
                            env=dict(os.environ, SANDBOX_MESSAGES=json.dumps(messages, ensure_ascii=False)))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert any("大根" in row and "りんご" in row for row in report["chat"])          # the carousel as cards
    assert any("ご住所の位置" in row for row in report["chat"])
    assert report["quick"] == ["はい", "位置を送る", "最初から"]
    assert report["flexButtons"] == ["これを買う", "これを買う"]
    assert report["mapShown"] == "block"
    posted = report["posted"]
    assert posted[0] == {"type": "postback", "data": "a=qty&p=7", "user": "Uresident"}
    assert posted[1] == {"type": "postback", "data": "a=regok", "user": "Uresident"}
    assert posted[2]["type"] == "location" and 38.08 < float(posted[2]["lat"]) < 38.13
    assert 140.0 < float(posted[2]["lon"]) < 140.08
    assert posted[3] == {"type": "postback", "data": "a=usual", "user": "Uresident"}
    assert report["callbacks"] == ["c2lnbmF0dXJl"] * 4                               # each post signed
