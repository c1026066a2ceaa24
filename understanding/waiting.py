"""Products waiting behind the one question (``Understood.pending_said``), kept in a conversation's
state (``core.models.Conversation.state``, the same JSON dict on LINE and on the phone).

「大根と牛乳」: how many 大根 is asked first and 牛乳 waits. Once the question is answered (the answer
names one of the question's products), the channel reads the waiting words again with ``understand``
and goes on: the next question, or straight into the basket. The resident never repeats them. An
answer about some other product (the resident went elsewhere) does not resume them, and the next
thing the resident says about items replaces them. Abandoning the question drops them (``keep_for``):
any tap that is not an answer to it, such as a menu item, another flow, or a product card tapped
after leaving the question, so that an old waiting word cannot come back late.
"""

from __future__ import annotations

from typing import Any, MutableMapping, Sequence

from understanding.result import Understood

KEY = "waiting"


def hold(state: MutableMapping[str, Any], said: Understood, carried: Sequence[str] = ()) -> None:
    """Before asking ``said``'s question: keep its waiting words (then those still ``carried`` from an
    earlier question) until an answer about one of the question's products comes."""
    words = list(said.pending_said) + list(carried)
    question = said.ambiguity
    after = sorted({c.product_id for c in question.choices} | ({question.product_id} if question.product_id
                                                                 else set())) if question else []
    if words and after:
        state[KEY] = {"after": after, "words": words}
    else:
        state.pop(KEY, None)


def drop(state: MutableMapping[str, Any]) -> None:
    state.pop(KEY, None)


def keep_for(state: MutableMapping[str, Any], product_id: int | None) -> None:
    """A tap while words wait: only an answer about one of the question's products (``product_id``)
    keeps them, for ``take_after``. Any other tap (a menu item, another flow, an old button in the
    chat) abandons the question, and its waiting words with it: they never come back late."""
    held = state.get(KEY) or {}
    if product_id is None or int(product_id) not in {int(p) for p in held.get("after") or []}:
        drop(state)


def take_after(state: MutableMapping[str, Any], product_id: int) -> list[str]:
    """The words waiting for an answer about ``product_id`` (removed from the state), else []."""
    held = state.get(KEY) or {}
    if int(product_id) not in {int(p) for p in held.get("after") or []}:
        return []
    state.pop(KEY, None)
    return [str(w) for w in held.get("words") or [] if str(w).strip()]


def read_again(said: Understood, words: str) -> Understood:
    """``said``: ``words`` read again once the question was answered. If they now name nothing (the
    product sold out meanwhile), they are said back like any word that named nothing, never dropped."""
    if said.items or said.ambiguity is not None or said.problem or said.unmatched:
        return said
    return Understood("order_items", unmatched=(words,), text=words)
