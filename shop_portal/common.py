"""What every shop page shares: the role check, the shop taken from the signed-in account (never from the
URL), the clock, and turning a service's refusal into a Japanese message or a 404."""

from __future__ import annotations

from collections.abc import Iterator
import os
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from flask import abort, current_app, flash
from flask_login import current_user

from accounts.security import current_actor, role_required
from core.clock import JST, get_clock
from core.errors import DomainError

shop_required = role_required("shop")
OK, ERROR = "ok", "error"


def my_shop_id() -> int:
    """The signed-in account's shop: the only shop these pages ever read or change."""
    shop_id = current_user.shop_id
    if shop_id is None:                  # a shop account always has one (a CHECK in the database)
        abort(403, description="このアカウントにはお店が登録されていません。担当者に連絡してください。")
    return int(shop_id)


def photo_folder() -> str:
    """Where product photos are kept: ``PHOTO_FOLDER``, by default ``photos/`` in the instance folder."""
    return str(current_app.config.get("PHOTO_FOLDER") or os.path.join(current_app.instance_path, "photos"))


def now() -> datetime:
    return get_clock().now()


def today() -> date:
    return now().astimezone(JST).date()


def who() -> dict[str, Any]:
    """The keyword arguments every shop change passes to its service: the person and the moment."""
    return {"actor": current_actor(), "now": now()}


@contextmanager
def refusals() -> Iterator[None]:
    """Run a change; a refusal becomes a flashed message (the transaction rolled back before it), and a
    product that is not this shop's becomes 404 (the same as one that does not exist)."""
    try:
        yield
    except DomainError as failure:
        if failure.http_status == 404:
            abort(404, description=failure.message)
        flash(failure.message, ERROR)


def done(message: str) -> None:
    flash(message, OK)


def stock_text(stock: int | None, unit: str) -> str:
    return "数えていません" if stock is None else f"{stock}{unit}"

