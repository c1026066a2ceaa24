"""The shop's own pages (/shop), for a signed-in shop account: its picking lists, nothing of other shops
and no resident's name, address or phone. The shop comes from the account, never from the URL."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, render_template
from flask_login import current_user

from accounts.security import role_required
from otodoke import get_clock
from otodoke.clock import JST
from otodoke.db import db
from shops.models import Shop

bp = Blueprint("shop", __name__, url_prefix="/shop", template_folder="templates")
shop_required = role_required("shop")


@bp.get("/")
@shop_required
def home() -> str:
    today = get_clock().now().astimezone(JST).date()
    with db.reading() as session:
        shop = session.get(Shop, current_user.shop_id)
        name = shop.name if shop else ""
    days = [today + timedelta(days=n) for n in range(3)]
    return render_template("shop/home.html", shop_name=name, days=days)


@bp.get("/picking/<day>")
@shop_required
def picking(day: str) -> str:
    from delivery.views import picking_page
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404, description="日付は YYYY-MM-DD の形で指定してください。")
    return picking_page(current_user.shop_id, when, staff=False)
