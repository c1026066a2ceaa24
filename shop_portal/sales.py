"""What the shop sold (/shop/sales): per delivery day (the last 14 days) or per week (the last 8, Monday
to Sunday), quantities and yen per product, from delivered orders only (orders/sales.py)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request

from core.db import db
from orders.calendar import format_date_ja
from orders.sales import period_start, shop_sales
from shop_portal.common import my_shop_id, shop_required, today
from shops.products import shop_name

bp = Blueprint("shop_sales", __name__, url_prefix="/shop", template_folder="templates")
DAYS, WEEKS = 14, 8


@bp.get("/sales")
@shop_required
def sales() -> str:
    by = "week" if request.args.get("by") == "week" else "day"
    end = today()
    start = end - timedelta(days=DAYS - 1) if by == "day" else period_start(end, "week") - timedelta(weeks=WEEKS - 1)
    with db.reading() as session:
        name = shop_name(session, my_shop_id())
        periods = shop_sales(session, shop_id=my_shop_id(), start=start, end=end, by=by)
    return render_template("shop/sales.html", shop_name=name, by=by, periods=periods,
                           total=sum(p.total_yen for p in periods), format_date_ja=format_date_ja)
