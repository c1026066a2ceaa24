"""The phone sandbox: the page's in-browser Twilio signature, the sandbox token's scope, the in-app
fake Twilio REST API, and TwiML checks (allow-list with negative controls)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from otodoke import create_app
from core.db import db
from voice import SANDBOX_ACCOUNT_SID, SANDBOX_API_PATH, twiml
from voice.security import sandbox_token
from tests.test_staff_and_driver_pages import _login
from tests.voice_sim import (PUBLIC_BASE, RESIDENT_PHONE, CallSim, TwiMLViolation, check_twiml, seed_town,
                             voice_config)

TEMPLATE = Path(__file__).parent.parent / "sandbox" / "templates" / "sandbox" / "phone.html"


@pytest.fixture
def sandbox_app(database_url: str, clock: Any, tmp_path: Path) -> Any:
    app = create_app(voice_config(database_url, tmp_path, TWILIO_SANDBOX=True, TWILIO_AUTH_TOKEN="",
                                  TWILIO_ACCOUNT_SID="", TWILIO_FROM_NUMBER=""), clock=clock)
    with app.app_context():
        yield app
    db.bound(app).engine.dispose()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_page_signs_like_twilio(tmp_path: Path) -> None:
    """The page's JavaScript HMAC-SHA1 gives byte for byte the signature twilio-python computes."""
    source = TEMPLATE.read_text("utf-8")
    script = re.search(r"// --- Twilio's signature.*?(?=// --- the screen)", source, re.S)
    assert script
    params = {"CallSid": "CA123", "From": "+81238841234", "Digits": "1", "SpeechResult": "大根を2本",
              "To": "+81238000001"}
    url = "https://otodoke.example.jp/voice/step/menu?s=2"
    token = "a" * 70   # longer than a block: exercises the key-hash branch too
    js = (f"const TOKEN = {token!r};\n" + script.group(0) +
          f"\nprocess.stdout.write(signature({url!r}, {params!r}));\n")
    (tmp_path / "sig.js").write_text(js, "utf-8")
    out = subprocess.run(["node", str(tmp_path / "sig.js")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == RequestValidator(token).compute_signature(url, params)
    assert base64.b64decode(out.stdout)   # and it is base64


def _staff(app: Any) -> Any:
    client = app.test_client()
    _login(client)
    return client


def test_sandbox_page_lists_demo_numbers(sandbox_app: Any) -> None:
    seed_town(sandbox_app)
    page = _staff(sandbox_app).get("/sandbox/phone").get_data(as_text=True)
    assert "長井 花子" in page and "0238841234" in page and "登録のない番号" in page
    assert sandbox_token(sandbox_app.config) in page


def test_sandbox_token_works_only_while_the_sandbox_is_on(sandbox_app: Any, voice_app: Any) -> None:
    seed_town(sandbox_app)
    token = sandbox_token(sandbox_app.config)
    assert CallSim(sandbox_app.test_client(), RESIDENT_PHONE, token=token).dial_in().status == 200
    # The app with real Twilio credentials and no sandbox refuses the same token.
    assert sandbox_token(voice_app.config) == token
    assert CallSim(voice_app.test_client(), RESIDENT_PHONE, token=token).dial_in().status == 403
    assert voice_app.test_client().get("/sandbox/phone").status_code == 404


def test_in_app_fake_twilio_records_sms(sandbox_app: Any) -> None:
    client = sandbox_app.test_client()
    auth = base64.b64encode(f"{SANDBOX_ACCOUNT_SID}:x".encode()).decode()
    path = f"{SANDBOX_API_PATH}/2010-04-01/Accounts/{SANDBOX_ACCOUNT_SID}/Messages.json"
    response = client.post(path, data={"To": "+819012345678", "From": "+815000000000", "Body": "テスト"},
                           headers={"Authorization": f"Basic {auth}"})
    assert response.status_code == 201 and response.get_json()["sid"].startswith("SM")
    assert client.post(path, data={"To": "+819012345678"}).status_code == 401
    assert client.get("/sandbox/phone/sent").get_json() == [{"kind": "sms", "to": "+819012345678",
                                                             "from": "+815000000000", "body": "テスト"}]


def test_sandbox_senders_point_at_the_in_app_fake(sandbox_app: Any) -> None:
    from outbox.registry import senders_for
    sms = senders_for(sandbox_app)["sms"]
    assert sms.settings.base_url == PUBLIC_BASE + SANDBOX_API_PATH
    assert sms.settings.account_sid == SANDBOX_ACCOUNT_SID


def test_unconfigured_twilio_outside_the_sandbox_registers_no_sender(database_url: str, clock: Any,
                                                                      tmp_path: Path) -> None:
    from outbox.registry import senders_for
    app = create_app(voice_config(database_url, tmp_path, TWILIO_AUTH_TOKEN="", TWILIO_ACCOUNT_SID="",
                                  TWILIO_SANDBOX=None), clock=clock)
    try:
        assert "sms" not in senders_for(app) and app.config["TWILIO_SANDBOX"] is False
    finally:
        db.bound(app).engine.dispose()


# --- TwiML -----------------------------------------------------------------------------------------

STYLE = twiml.VoiceStyle()


def test_builders_emit_documented_japanese_twiml() -> None:
    for response in (twiml.ask(STYLE, "/voice/step/menu?s=1", ["ご注文は1を。"], hints=["大根", "りんご"]),
                     twiml.transfer(STYLE, "+81238840000", "/voice/dial-status?s=2", ["おつなぎします。"]),
                     twiml.record(STYLE, "/voice/recording?s=3", ["どうぞ。"]),
                     twiml.goodbye(STYLE, ["失礼いたします。"])):
        root = check_twiml(str(response))
        assert root.tag == "Response"
    gather = check_twiml(str(twiml.ask(STYLE, "/a", ["x"]))).find("Gather")
    assert gather is not None
    assert (gather.get("input"), gather.get("language"), gather.get("actionOnEmptyResult"),
            gather.get("speechTimeout"), gather.get("timeout")) == ("dtmf speech", "ja-JP", "true", "3", "8")


@pytest.mark.parametrize("bad", [
    '<Response><Say voice="Polly.Mizuki">こんにちは</Say></Response>',                       # no ja-JP
    '<Response><Say language="ja-JP" voice="alice">こんにちは</Say></Response>',             # not a JP voice
    '<Response><Gather language="ja-JP" timeout="8" inputs="dtmf"/></Response>',            # made-up attribute
    '<Response><Gather language="ja-JP" timeout="8" input="keys"/></Response>',             # bad value
    '<Response><Gather language="ja-JP" timeout="2"/></Response>',                          # too hasty
    '<Response><Gather language="ja-JP" timeout="8" speechTimeout="auto" speechModel="phone_call"/></Response>',
    '<Response><Speak>x</Speak></Response>',                                                # unknown verb
    '<Response><Gather language="ja-JP" timeout="8"><Dial>1</Dial></Gather></Response>',    # bad nesting
    '<Response><Say language="ja-JP" voice="Polly.Mizuki"><prosody rate="fastest">x</prosody></Say></Response>',
])
def test_allow_list_rejects_undocumented_twiml(bad: str) -> None:
    with pytest.raises(TwiMLViolation):
        check_twiml(bad)


def test_malformed_xml_is_rejected() -> None:
    with pytest.raises(Exception):
        check_twiml("<Response><Say>")


def test_hints_are_deduplicated_and_capped() -> None:
    words = ["大根", "大根", "りんご,ふじ"] + [f"品物{i}" for i in range(300)]
    hints = twiml.hints_text(words).split(",")
    assert hints[:3] == ["大根", "りんご ふじ", "品物0"] and len(hints) == twiml.MAX_HINTS


from tests.voice_sim import voice_app  # noqa: E402,F401  (fixture)


def test_sandbox_call_sends_its_sms_to_the_in_app_fake(database_url: str, clock: Any, tmp_path: Path) -> None:
    """The whole sandbox loop over real HTTP: a call signed with the sandbox token, the outbox worker
    sending the confirmation with the real twilio client to /sandbox/twilio-api, the page's list."""
    import socket
    import threading

    import requests
    from werkzeug.serving import make_server

    from outbox.registry import senders_for
    from outbox.worker import drain

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    app = create_app(voice_config(database_url, tmp_path, TWILIO_SANDBOX=True, TWILIO_AUTH_TOKEN="",
                                  TWILIO_ACCOUNT_SID="", TWILIO_FROM_NUMBER="", PUBLIC_BASE_URL=base),
                     clock=clock)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with app.app_context():
            seed_town(app)
            call = CallSim(app.test_client(), RESIDENT_PHONE, token=sandbox_token(app.config), base=base)
            call.dial_in()
            call.press("1")
            assert "承りました" in call.press("1").said[0]
            report = drain(lambda: db.transaction(app), senders_for(app), clock.now)
            assert report.claimed == 1
        sent = requests.get(base + "/sandbox/phone/sent", timeout=10).json()
        assert [row["kind"] for row in sent] == ["sms"] and "ご注文を承りました" in sent[0]["body"]
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        db.bound(app).engine.dispose()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_sandbox_page_script_is_valid_javascript(sandbox_app: Any, tmp_path: Path) -> None:
    page = _staff(sandbox_app).get("/sandbox/phone").get_data(as_text=True)
    script = re.search(r"<script[^>]*>(.*?)</script>", page, re.S)
    assert script
    (tmp_path / "page.js").write_text(script.group(1), "utf-8")
    out = subprocess.run(["node", "--check", str(tmp_path / "page.js")], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr


def test_the_sandbox_token_is_never_on_a_public_page(sandbox_app: Any) -> None:
    """The token signs requests as Twilio would (any caller number, any order): only signed-in staff
    get the page that holds it (issue 12, hole 5)."""
    seed_town(sandbox_app)
    token = sandbox_token(sandbox_app.config)
    anonymous = sandbox_app.test_client()
    response = anonymous.get("/sandbox/phone")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    for path in ("/", "/sandbox/phone", "/sandbox/phone/sent", "/staff/login"):
        assert token not in anonymous.get(path, follow_redirects=True).get_data(as_text=True), path
    assert token in _staff(sandbox_app).get("/sandbox/phone").get_data(as_text=True)
