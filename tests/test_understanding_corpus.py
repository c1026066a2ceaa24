"""The resident-utterance corpus (``tests/fixtures/utterances.csv``) through the real channels.

Every utterance is sent as a signed LINE webhook event (the reply read from the fake LINE API) and
as a Twilio-signed phone step with ``SpeechResult`` (the TwiML followed), against the demo town's
catalogue. What the resident got back and what is in the basket afterwards are compared with the
expected intent and items. A row is *understood* when the resident got the screen, the basket or the
question they should have; a *silent wrong guess* is a basket that changed to something else without
a question: the worst outcome, allowed zero times. Accuracy per channel is printed (run with ``-s``).

One app, one database and one analyser serve the whole corpus; each utterance starts from a reset
conversation (empty basket, or 大根 2本 and 牛乳 1本 for the change rows).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import select, update

from sandbox.fake_line import RunningFake
from demo.seed import seed_demo
from otodoke import create_app
from core.db import db
from core.models import Conversation
from residents.models import Resident
from residents.service import residents_by_phone
from shops.models import Product
from tests.conftest import DEFAULT_NOW
from tests.line_support import SECRET, TOKEN, body, line_fake, post  # noqa: F401  (fixture)
from tests.voice_sim import PUBLIC_BASE, TOKEN as TWILIO_TOKEN, CallSim

CORPUS = Path(__file__).parent / "fixtures" / "utterances.csv"
ITEM_INTENTS = ("order_items", "change_set", "change_add", "change_remove")
TARGET = 0.95
BASE = {"大根": 2, "牛乳（1リットル）": 1}      # the basket before each change row

# What each screen says, per channel: the resident sees (or hears) that this was understood.
LINE_SCREENS: dict[str, Callable[[str], bool]] = {
    "greet": lambda w: "こんにちは。お届けサービスです" in w,
    "menu": lambda w: "ご用件を下のボタンから選んでください" in w and "こんにちは" not in w,
    "shops": lambda w: "お店を選んでください" in w,
    "usual": lambda w: "これまでのご注文が見つかりませんでした" in w or "いつものご注文" in w,
    "check": lambda w: "ご注文の確認ですね" in w,
    "cancel": lambda w: "ご注文の取り消しですね" in w,
    "help": lambda w: "担当者がお電話でお手伝いします" in w,
    "talk_to_person": lambda w: "担当者がお電話でお手伝いします" in w,
    "basket": lambda w: "いまのかご" in w or "かごは空です" in w,
}
PHONE_SCREENS: dict[str, Callable[[str], bool]] = {
    "greet": lambda w: "こんにちは。" in w,
    "menu": lambda w: "いつものご注文は1" in w and "こんにちは" not in w,
    "shops": lambda w: "品物の種類を選んでください" in w,
    "usual": lambda w: "これまでのご注文が見つかりませんでした" in w or "いつものご注文です" in w,
    "check": lambda w: "ご注文の確認ですね" in w,
    "cancel": lambda w: "ご注文の取り消しですね" in w,
    "help": lambda w: "オペレーターにおつなぎします" in w,
    "talk_to_person": lambda w: "オペレーターにおつなぎします" in w,
    "basket": lambda w: "ご注文の内容です" in w or "かごは空です" in w,
}
# A refusal or explanation instead of a guess (「半分などの量は承れません」「かごに白菜は入っていません」).
EXPLAINED = ("承れません", "までです", "入っていません", "数がわかりませんでした")


@dataclass(frozen=True)
class Row:
    text: str
    style: str
    intent: str
    items: dict[str, int]
    asks: bool

    @property
    def change(self) -> bool:
        return self.intent.startswith("change_")


def load_corpus() -> list[Row]:
    rows = []
    with CORPUS.open(encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            parts = [p for p in raw["expect"].split(";") if p]
            items = dict((name, int(qty)) for name, qty in (p.rsplit("=", 1) for p in parts if p != "ask"))
            asks = "ask" in parts
            if asks and not items and raw["intent"].startswith("change_"):
                items = dict(BASE)        # a question: the basket stays as it was
            rows.append(Row(raw["text"], raw["style"], raw["intent"], items, asks))
    return rows


@dataclass
class Outcome:
    basket: dict[str, int]
    asked: bool
    screen: str          # what the resident got, flattened to text


def judge(row: Row, got: Outcome, screens: dict[str, Callable[[str], bool]]) -> tuple[bool, bool]:
    """(understood, silent wrong guess)."""
    before = dict(BASE) if row.change else {}
    if row.intent in ITEM_INTENTS:
        understood = got.basket == row.items and got.asked == row.asks
        wrong = not got.asked and got.basket != row.items and got.basket != before
        return understood, wrong
    understood = screens[row.intent](got.screen) and got.basket == before
    return understood, got.basket != before


# --- the town and the channels ------------------------------------------------------------------

@pytest.fixture
def corpus_app(database_url: str, clock: Any, tmp_path: Path, line_fake: RunningFake) -> Iterator[Any]:
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key",
        "JOBS_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_HOST": line_fake.url,
        "LINE_SANDBOX": False, "TWILIO_ACCOUNT_SID": "ACtest", "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_FROM_NUMBER": "+815011112222", "PUBLIC_BASE_URL": PUBLIC_BASE, "TWILIO_SANDBOX": False,
        "COORDINATOR_PHONE": "0238-84-0000",
    }, clock=clock)
    with app.app_context():
        with db.transaction(app) as session:
            seed_demo(session, now=DEFAULT_NOW)
        yield app
    api = app.extensions.get("otodoke.line_api")
    if api is not None:
        api.close()
    db.bound(app).engine.dispose()


@dataclass
class Town:
    names: dict[int, str]
    ids: dict[str, int]          # name → the first product of that name (the one the bot picks)
    line_user: str
    phone: str


def town_of(app: Any) -> Town:
    with db.reading(app) as session:
        products = list(session.scalars(select(Product).order_by(Product.shop_id, Product.id)))
        ids: dict[str, int] = {}
        for p in products:
            ids.setdefault(p.name, p.id)
        for resident in session.scalars(select(Resident).where(Resident.line_user_id.is_not(None))
                                        .order_by(Resident.id)):
            number = resident.mobile_phone or resident.phone
            if number and len(residents_by_phone(session, number)) == 1:
                return Town({p.id: p.name for p in products}, ids, resident.line_user_id, number)
    raise AssertionError("the demo town has no resident on LINE with a phone of their own")


def _names(town: Town, pairs: list[list[int]]) -> dict[str, int]:
    return {town.names[int(pid)]: int(qty) for pid, qty in pairs}


def _base_pairs(town: Town, row: Row) -> list[list[int]]:
    return [[town.ids[name], qty] for name, qty in BASE.items()] if row.change else []


def _set_state(app: Any, channel: str, party: str, update_state: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    with db.transaction(app) as session:
        row = session.scalars(select(Conversation).where(Conversation.channel == channel,
                                                         Conversation.party == party)).one()
        session.execute(update(Conversation).where(Conversation.id == row.id)
                        .values(state=update_state(dict(row.state or {}))))


def _state(app: Any, channel: str, party: str) -> dict[str, Any]:
    with db.reading(app) as session:
        return dict(session.scalars(select(Conversation.state).where(Conversation.channel == channel,
                                                                     Conversation.party == party)).one())


def run_line(app: Any, fake: Any, town: Town, rows: list[Row]) -> list[tuple[Row, Outcome]]:
    client = app.test_client()
    post(client, body("text", user=town.line_user, text="こんにちは"))   # the conversation row exists now
    results = []
    for row in rows:
        _set_state(app, "line", town.line_user, lambda _: {"basket": _base_pairs(town, row)})
        before = len(fake.calls)
        assert post(client, body("text", user=town.line_user, text=row.text)).status_code == 200
        replies = [c for c in fake.calls[before:] if c.path.endswith("/message/reply")]
        assert replies and replies[-1].status == 200, row.text
        wire = json.dumps(replies[-1].body["messages"], ensure_ascii=False)
        state = _state(app, "line", town.line_user)
        asked = state.get("step") in ("ask", "qty") or any(word in wire for word in EXPLAINED)
        results.append((row, Outcome(_names(town, state.get("basket") or []), asked, wire)))
    return results


def run_phone(app: Any, town: Town, rows: list[Row]) -> list[tuple[Row, Outcome]]:
    call = CallSim(app.test_client(), town.phone, token=TWILIO_TOKEN)
    assert call.dial_in().waiting_for == "gather"
    results = []
    for row in rows:
        step = "more" if row.change else "menu"

        def reset(state: dict[str, Any], row: Row = row, step: str = step) -> dict[str, Any]:
            for key in ("clarify", "pending", "category", "shop_id", "operator"):
                state.pop(key, None)
            state.update(step=step, tries=0, basket=_base_pairs(town, row), page=0, cat_page=0)
            return state

        _set_state(app, "phone", call.call_sid, reset)
        seq = _state(app, "phone", call.call_sid)["seq"]
        heard = call.post(f"/voice/step/{step}?s={seq}", call.params(SpeechResult=row.text, Confidence="0.9"))
        assert heard.status == 200, row.text
        said = "".join(heard.said)
        state = _state(app, "phone", call.call_sid)
        asked = (state.get("step") in ("clarify", "qty") or (state.get("step") == "item" and bool(state.get("category")))
                 or any(word in said for word in EXPLAINED))
        results.append((row, Outcome(_names(town, state.get("basket") or []), asked, said)))
    return results


def report(channel: str, results: list[tuple[Row, Outcome]], screens: dict[str, Callable[[str], bool]]
           ) -> tuple[float, list[str], list[str]]:
    totals: Counter[str] = Counter()
    good: Counter[str] = Counter()
    misses, wrongs = [], []
    for row, got in results:
        understood, wrong = judge(row, got, screens)
        for key in (row.intent, f"style:{row.style}", "all"):
            totals[key] += 1
            good[key] += understood
        if not understood:
            misses.append(f"{row.text} ({row.intent}) → basket {got.basket} asked={got.asked}: {got.screen[:90]}")
        if wrong:
            wrongs.append(f"{row.text} → {got.basket}")
    print(f"\n{channel}: {good['all']}/{totals['all']} understood ({good['all'] / totals['all']:.1%}), "
          f"{len(wrongs)} silent wrong guesses")
    for key in sorted(totals, key=lambda k: (k == "all", k)):
        print(f"  {key:<16} {good[key]:>4}/{totals[key]:<4} {good[key] / totals[key]:6.1%}")
    for miss in misses:
        print(f"  not understood: {miss}")
    return good["all"] / totals["all"], misses, wrongs


def test_corpus_on_both_channels(corpus_app: Any, line_fake: RunningFake) -> None:
    rows = load_corpus()
    assert len(rows) >= 300
    assert len({r.intent for r in rows}) >= 12 and {r.style for r in rows} == {"typed", "spoken"}
    town = town_of(corpus_app)
    line = report("LINE", run_line(corpus_app, line_fake.fake, town, rows), LINE_SCREENS)
    phone = report("phone", run_phone(corpus_app, town, rows), PHONE_SCREENS)
    for channel, (accuracy, _, wrongs) in (("LINE", line), ("phone", phone)):
        assert not wrongs, f"{channel}: silent wrong guesses: {wrongs}"
        assert accuracy >= TARGET, f"{channel}: {accuracy:.1%} understood, below {TARGET:.0%}"
