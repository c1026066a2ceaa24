"""The ordering rules' error: one class, a machine code, and a short polite Japanese sentence.

Channels show ``message`` as is (LINE reply, phone speech), so every text is plain and short.
"""

from __future__ import annotations

from typing import Any

from core.errors import DomainError

# The same sentence for "no such order" and "someone else's order", so a guessed id reveals nothing.
_NOT_FOUND = "そのご注文は見つかりませんでした。"

MESSAGES: dict[str, str] = {
    "unknown_product": "その商品は見つかりませんでした。",
    "product_unavailable": "その商品は、ただいまお取り扱いしていません。",
    "sold_out": "申し訳ありません。その商品は売り切れです。",
    "bad_quantity": "数量は1から99までの数でお願いします。",
    "empty_basket": "商品が選ばれていません。",
    "too_many_lines": "一度にご注文できる品数を超えています。",
    "past_cutoff": "締め切りを過ぎたため、変更や取り消しはできません。",
    "no_delivery_day": "お届けできる日が見つかりません。お手数ですが担当者にお問い合わせください。",
    "unknown_window": "その時間帯はお選びいただけません。",
    "not_your_order": _NOT_FOUND,
    "unknown_order": _NOT_FOUND,
    "not_changeable": "このご注文はすでに準備が進んでいるため、変更や取り消しはできません。",
    "inactive_resident": "ただいまご注文をお受けできません。担当者にお問い合わせください。",
    "unknown_resident": "ご登録が見つかりませんでした。",
    "no_usual_order": "これまでのご注文が見つかりませんでした。",
    # Normally replaced by the question naming the order (orders.door.REPEAT_QUESTION).
    "repeat_order": "さきほど同じご注文を承りました。もう一度同じものを追加しますか？",
    "door_changed": "ご注文の状況が変わりました。お手数ですが、もう一度内容をご確認ください。",
}

# How a web adapter should answer; the bot and the phone line only use ``message``.
_HTTP_STATUS = {
    "not_your_order": 404,
    "unknown_order": 404,
    "unknown_resident": 404,
    "sold_out": 409,
    "past_cutoff": 409,
    "not_changeable": 409,
    "repeat_order": 409,
    "door_changed": 409,
}


class OrderError(DomainError):
    """An ordering rule was broken; the caller's transaction holds no change from the failed call."""

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        super().__init__(code, message or MESSAGES.get(code, "ご注文を受け付けられませんでした。"), **details)
        self.http_status = _HTTP_STATUS.get(code, 400)


def sold_out(product_id: int, name: str, left: int | None = None) -> OrderError:
    """「売り切れ」 naming the product; ``left`` is what remains when some, but not enough, is left."""
    if left:
        message = f"申し訳ありません。{name}は残り{left}点のため、ご希望の数をご用意できません（売り切れ間近）。"
    else:
        message = f"申し訳ありません。{name}は売り切れです。"
    return OrderError("sold_out", message, product_id=product_id, left=left or 0)


def unavailable(product_id: int, name: str) -> OrderError:
    return OrderError("product_unavailable", f"{name}は、ただいまお取り扱いしていません。",
                      product_id=product_id)
