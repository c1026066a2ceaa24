"""The message builders and the fake's checks enforce LINE's documented limits (channels.md §1.3)."""

from __future__ import annotations

import pytest
from linebot.v3.messaging import PushMessageRequest

from bot import messages as m
from bot.fake_api import FakeLine


def test_quick_replies_are_capped_at_13_including_back_and_start_over() -> None:
    actions = [m.postback(f"品物{i}", "qty", p=i) for i in range(20)]
    quick = m.quick_reply(actions, back=m.postback(m.BACK, "shops"))
    labels = [item.action.label for item in quick.items]
    assert len(labels) == 13 and labels[-2:] == [m.BACK, m.START_OVER]


def test_the_sdk_itself_refuses_14_quick_replies() -> None:
    items = [{"type": "action", "action": {"type": "message", "label": str(i), "text": str(i)}} for i in range(14)]
    with pytest.raises(ValueError):
        PushMessageRequest.from_dict({"to": "U1", "messages": [{"type": "text", "text": "x", "quickReply": {"items": items}}]})


def test_carousel_over_12_bubbles_is_refused() -> None:
    bubbles = [m.bubble(f"商品{i}", ["100円"], [m.pb_dict("買う", "qty", p=i)]) for i in range(13)]
    with pytest.raises(m.LimitError):
        m.flex("商品", bubbles)
    assert m.flex("商品", bubbles[:12]).to_dict()["contents"]["type"] == "carousel"


def test_postback_data_over_300_chars_is_refused() -> None:
    with pytest.raises(m.LimitError):
        m.data("prods", c="あ" * 120)
    assert len(m.data("prods", s=1, c="野菜", pg=2)) <= 300


def test_long_text_is_shortened_and_labels_fit() -> None:
    assert len(m.text("あ" * 6000).text) == 5000
    assert len(m.postback("とても長いボタンの名前がここに入ります、二十文字を超えます", "menu").label) <= 20


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
