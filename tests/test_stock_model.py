"""Model-based test of stock (docs/design-notes.md, "Stock"): random sequences of orders, cancels, changes and shop
edits, each in its own transaction, checked against a plain Python model after every step."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import func, select

from orders.errors import OrderError
from orders.service import LineItem, cancel_order, change_order, place_order
from core.clock import JST
from core.db import db
from core.errors import DomainError
from shops.models import Product, StockMovement
from shops.service import adjust_stock, set_available, set_stock
from tests.factories import make_product, make_resident, make_shop

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=JST)
PRODUCTS = 3
SHOP = dict(actor="shop:1", channel="line", now=NOW)


def machine_for(app: Flask) -> type[RuleBasedStateMachine]:
    class StockMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            with db.transaction(app) as session:
                shop = make_shop(session)
                self.products = [make_product(session, shop, name=f"品{i}", stock=3).id for i in range(PRODUCTS)]
                self.resident = make_resident(session).id
            self.initial = {p: 3 for p in self.products}
            self.stock = dict(self.initial)                    # the model
            self.available = {p: True for p in self.products}
            self.orders: dict[int, dict[int, int]] = {}         # open orders: product → quantity

        def _basket(self, picks: list[tuple[int, int]]) -> dict[int, int]:
            basket: dict[int, int] = {}
            for index, quantity in picks:
                product = self.products[index]
                basket[product] = basket.get(product, 0) + quantity
            return basket

        @rule(picks=st.lists(st.tuples(st.integers(0, PRODUCTS - 1), st.integers(1, 3)), min_size=1, max_size=3))
        def place(self, picks: list[tuple[int, int]]) -> None:
            basket = self._basket(picks)
            fits = all(self.available[p] and self.stock[p] >= q for p, q in basket.items())
            try:
                with db.transaction(app) as session:
                    order = place_order(session, resident_id=self.resident, placed_by="r", channel="line",
                                        now=NOW, items=[LineItem(p, q) for p, q in basket.items()])
                    order_id = order.id
            except OrderError as error:
                assert not fits and error.code in ("sold_out", "product_unavailable"), error
                return
            assert fits
            for p, q in basket.items():
                self.stock[p] -= q
            self.orders[order_id] = basket

        @precondition(lambda self: bool(self.orders))
        @rule(data=st.data())
        def cancel(self, data: st.DataObject) -> None:
            order_id = data.draw(st.sampled_from(sorted(self.orders)))
            for _ in range(data.draw(st.integers(1, 2))):    # a double tap changes nothing more
                with db.transaction(app) as session:
                    cancel_order(session, order_id=order_id, actor="r", channel="line", now=NOW)
            for p, q in self.orders.pop(order_id).items():
                self.stock[p] += q

        @precondition(lambda self: bool(self.orders))
        @rule(data=st.data(), picks=st.lists(st.tuples(st.integers(0, PRODUCTS - 1), st.integers(1, 3)),
                                             min_size=1, max_size=3))
        def change(self, data: st.DataObject, picks: list[tuple[int, int]]) -> None:
            order_id = data.draw(st.sampled_from(sorted(self.orders)))
            old, new = self.orders[order_id], self._basket(picks)
            need = {p: q - old.get(p, 0) for p, q in new.items() if q > old.get(p, 0)}
            fits = all(self.available[p] and self.stock[p] >= extra for p, extra in need.items())
            try:
                with db.transaction(app) as session:
                    change_order(session, order_id=order_id, actor="r", channel="line", now=NOW,
                                 items=[LineItem(p, q) for p, q in new.items()])
            except OrderError as error:
                assert not fits and error.code in ("sold_out", "product_unavailable"), error
                return
            assert fits
            for p in set(old) | set(new):
                self.stock[p] += old.get(p, 0) - new.get(p, 0)
            self.orders[order_id] = new

        @rule(index=st.integers(0, PRODUCTS - 1), value=st.integers(0, 6), stale=st.booleans())
        def shop_sets_stock(self, index: int, value: int, stale: bool) -> None:
            product = self.products[index]
            seen = self.stock[product] + (1 if stale else 0)
            try:
                with db.transaction(app) as session:
                    set_stock(session, product_id=product, new_stock=value, expected=seen, **SHOP)
            except DomainError as error:
                assert stale and error.code == "stale_stock"
                return
            assert not stale
            self.stock[product] = value

        @rule(index=st.integers(0, PRODUCTS - 1), delta=st.integers(-4, 4).filter(bool))
        def shop_adjusts(self, index: int, delta: int) -> None:
            product = self.products[index]
            try:
                with db.transaction(app) as session:
                    adjust_stock(session, product_id=product, delta=delta, **SHOP)
            except DomainError as error:
                assert self.stock[product] + delta < 0 and error.code == "negative_stock"
                return
            self.stock[product] += delta

        @rule(index=st.integers(0, PRODUCTS - 1))
        def shop_toggles_sold_out(self, index: int) -> None:
            product = self.products[index]
            self.available[product] = not self.available[product]
            with db.transaction(app) as session:
                set_available(session, product_id=product, available=self.available[product], **SHOP)

        @invariant()
        def database_agrees_with_the_model_and_the_ledger_balances(self) -> None:
            with db.reading(app) as session:
                stocks = dict(session.execute(select(Product.id, Product.stock)
                                              .where(Product.id.in_(self.products))).all())
                moved = dict(session.execute(
                    select(StockMovement.product_id, func.sum(StockMovement.delta))
                    .where(StockMovement.product_id.in_(self.products)).group_by(StockMovement.product_id)
                ).all())
            for product in self.products:
                assert stocks[product] == self.stock[product] >= 0
                assert self.initial[product] + int(moved.get(product) or 0) == stocks[product]

    return StockMachine


@pytest.mark.slow
def test_stock_model(app: Flask) -> None:
    run_state_machine_as_test(
        machine_for(app),
        settings=settings(max_examples=15, stateful_step_count=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
