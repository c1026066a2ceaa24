"""One understanding layer for what residents type on LINE and say on the phone (no Flask, no
channel imports): ``normalise`` an utterance, ``understand`` it against the catalogue into a typed
``Understood`` (intent, items, or the one question to ask), and ``parse_quantity`` for a bare number.
The channels render the result; they do not parse."""

from understanding.analyser import warm
from understanding.engine import Ambiguity, Choice, Item, Understood, normalise, understand
from understanding.nearest import heard_words, nearest_for, nearest_products
from understanding.quantities import MAX_QUANTITY, QuantityError, fold, parse_quantity

__all__ = ["Ambiguity", "Choice", "Item", "MAX_QUANTITY", "QuantityError", "Understood", "fold", "heard_words", "nearest_for",
           "nearest_products", "normalise", "parse_quantity", "understand", "warm"]
