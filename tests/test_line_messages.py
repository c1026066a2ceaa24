"""The message builders and the fake's checks enforce LINE's documented limits (docs/design-notes.md, "LINE webhook")."""

from __future__ import annotations

import pytest
from linebot.v3.messaging import PushMessageRequest, ReplyMessageRequest

from bot import messages as m
from sandbox.fake_line import FakeLine


def test_quick_replies_are_capped_at_13_including_back_and_start_over() -> None:
    actions = [m.postback(f"品物{i}", "qty", p=i) for i in range(20)]
    quick = m.quick_reply(actions, back=m.postback(m.BACK, "shops"))
    labels = [item["action"]["label"] for item in quick["items"]]
    assert len(labels) == 13 and labels[-2:] == [m.BACK, m.START_OVER]


def test_the_sdk_itself_refuses_14_quick_replies() -> None:
    items = [{"type": "action", "action": {"type": "message", "label": str(i), "text": str(i)}} for i in range(14)]
    with pytest.raises(ValueError):
        PushMessageRequest.from_dict({"to": "U1", "messages": [{"type": "text", "text": "x", "quickReply": {"items": items}}]})


def test_carousel_over_12_bubbles_is_refused() -> None:
    bubbles = [m.bubble(f"商品{i}", ["100円"], [m.postback("買う", "qty", p=i)]) for i in range(13)]
    with pytest.raises(m.LimitError):
        m.flex("商品", bubbles)
    assert m.flex("商品", bubbles[:12])["contents"]["type"] == "carousel"


def _within(ours: object, theirs: object) -> bool:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return all(k in theirs and _within(v, theirs[k]) for k, v in ours.items())
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(_within(a, b) for a, b in zip(ours, theirs))
    return ours == theirs


def test_every_builder_makes_a_body_the_sdk_models_accept() -> None:
    """The builders write LINE's wire JSON by hand (no models on the hot path); the SDK's own
    request models must accept all of it, field names and nesting included."""
    quick = m.quick_reply([m.postback("はい", "regok"), m.say("在庫"), m.location_action()],
                          back=m.postback_with_data(m.BACK, "a=basket"))
    card = m.bubble("大根", ["150円（1本）", "", "残り3本"], [m.postback("これを買う", "qty", p=7),
                                                       m.postback("戻る", "menu")],
                    image_url="https://example.org/daikon.jpg")
    messages = [m.text("こんにちは", quick=quick), m.text("ボタンなし"), m.flex("商品", [card], quick=quick),
                m.flex("商品", [card] * 12)]
    body = {"replyToken": "r" * 32, "messages": m.check(messages), "notificationDisabled": False}
    parsed = ReplyMessageRequest.from_dict(body)
    # Nothing dropped or renamed on the way through the models (they only add defaults such as
    # an image's "animated": false).
    assert _within(body["messages"], parsed.to_dict()["messages"])
    assert PushMessageRequest.from_dict({"to": "U1", "messages": m.as_dicts(messages[:2])}).messages[0].text == "こんにちは"


def test_postback_data_over_300_chars_is_refused() -> None:
    with pytest.raises(m.LimitError):
        m.data("prods", c="あ" * 120)
    assert len(m.data("prods", s=1, c="野菜", pg=2)) <= 300


def test_long_text_is_shortened_and_labels_fit() -> None:
    assert len(m.text("あ" * 6000)["text"]) == 5000
    assert len(m.postback("とても長いボタンの名前がここに入ります、二十文字を超えます", "menu")["label"]) <= 20


def test_more_than_five_messages_are_refused() -> None:
    with pytest.raises(m.LimitError):
        m.check([m.text(str(i)) for i in range(6)])


@pytest.mark.parametrize("message", [
    {"type": "text", "text": "あ" * 5001},
    {"type": "flex", "altText": "x", "contents": {"type": "carousel", "contents": [
        {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "x"}]}}] * 13}},
    {"type": "text", "text": "x", "quickReply": {"items": [
        {"type": "action", "action": {"type": "postback", "label": "x", "data": "a" * 301}}]}},
    {"type": "text", "text": "x", "quickReply": {"items": [
        {"type": "action", "action": {"type": "message", "label": "x", "text": "x"}}] * 14}},
])
def test_fake_line_rejects_what_line_rejects(message) -> None:
    fake = FakeLine()
    status, answer, _ = fake.handle("POST", "/v2/bot/message/push", {"Authorization": "Bearer t"},
                                    b'{"to": "U1", "messages": [' + __import__("json").dumps(message).encode() + b"]}")
    assert status == 400 and answer["message"]


def test_fake_line_accepts_a_retry_key_once() -> None:
    fake = FakeLine()
    body = b'{"to": "U1", "messages": [{"type": "text", "text": "x"}]}'
    headers = {"Authorization": "Bearer t", "X-Line-Retry-Key": "7d0f3c5e-0000-4000-8000-000000000001"}
    assert fake.handle("POST", "/v2/bot/message/push", headers, body)[0] == 200
    assert fake.handle("POST", "/v2/bot/message/push", headers, body)[0] == 409
    assert len(fake.delivered("U1")) == 1
