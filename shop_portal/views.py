"""The shop's own pages (/shop), for a signed-in shop account: its picking lists, nothing of other shops
and no resident's name, address or phone. The shop comes from the account, never from the URL. Also the
picking-list page a shop opens from the signed link in its SMS (no account needed)."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user

from shop_portal.common import shop_required
from core.clock import JST, get_clock
from core.db import db
from delivery import shop_links
from delivery.picking import load_picking_lists
from orders.calendar import format_date_ja
from shops.service import shop_by_id

bp = Blueprint("shop", __name__, url_prefix="/shop", template_folder="templates")
# The SMS link is short and outside /shop: a shop with no account opens it on a feature phone.
link_bp = Blueprint("shop_link", __name__, template_folder="templates")


@bp.get("/")
@shop_required
def home() -> str:
    today = get_clock().now().astimezone(JST).date()
    with db.reading() as session:
        shop = shop_by_id(session, current_user.shop_id)
        name = shop.name if shop else ""
    days = [today + timedelta(days=n) for n in range(3)]
    return render_template("shop/home.html", shop_name=name, days=days, today=today, format_date_ja=format_date_ja)


@bp.get("/picking/<day>")
@shop_required
def picking(day: str) -> str:
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404, description="日付は YYYY-MM-DD の形で指定してください。")
    return picking_page(current_user.shop_id, when, staff=False)


def picking_page(shop_id: int, day: date, *, staff: bool) -> str:
    with db.reading() as session:
        shop = shop_by_id(session, shop_id)
        if shop is None:
            abort(404, description="そのお店は見つかりませんでした。")
        plan, lists = load_picking_lists(session, day, shop_id=shop_id)
        return render_template("shop/picking_list.html", shop_name=shop.name, day=format_date_ja(day),
                               picking=lists.get(shop_id), plan=plan, staff=staff,
                               signed_in=current_user.is_authenticated and current_user.can("shop"),
                               coordinator=current_app.config.get("COORDINATOR_PHONE", ""),
                               expires=format_date_ja(shop_links.valid_through(day)))


@link_bp.get("/picking/<token>", endpoint="picking")
def shop_picking(token: str) -> str:
    """A shop's picking list for one day, from the signed link in its SMS: items and order numbers only."""
    link = shop_links.read_token(current_app.config["SECRET_KEY"], token, now=get_clock().now())
    if link is None:
        abort(404, description="このリンクは無効か、期限が切れています。担当者に連絡してください。")
    return picking_page(link.shop_id, link.delivery_date, staff=False)
