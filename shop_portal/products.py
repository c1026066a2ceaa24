"""The shop's products on a phone (/shop/products): one card per product with ＋/－, an absolute stock field,
the price, and 売り切れ / 販売を再開; and 「商品を追加」 with an optional photo. Thin adapters over
shops/products.py, which checks that the product is the account's shop's and calls the same stock and
price services as LINE (each change a ledger movement and an audit entry).

Every form posts to its own URL and comes back to the product's card (``#product-<id>``) with what
happened; element ids are stable for the browser tests (``plus-<id>``, ``minus-<id>``, ``stock-<id>``…).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from accounts.security import csrf_token
from core.db import db
from core.errors import DomainError
from core.inputs import body_limit
from shop_portal.common import done, my_shop_id, photo_folder, refusals, shop_required, stock_text, who
from shops import photos
from shops import products as catalogue
from shops.products import read_int

bp = Blueprint("shop_products", __name__, url_prefix="/shop", template_folder="templates")
# The photo (2 MB at most) and the form's few fields; every other page keeps the 1 MB cap.
PHOTO_FORM_BYTES = photos.MAX_PHOTO_BYTES + 64 * 1024


def _back(product_id: int) -> Response:
    return redirect(url_for("shop_products.index") + f"#product-{product_id}")


def local_photo(photo_url: str | None) -> str | None:
    """The page shows a photo from this site's /photos/ path (the stored URL is absolute, for LINE)."""
    if not photo_url:
        return None
    path = urlsplit(photo_url).path
    return path if path.startswith("/photos/") else None


@bp.get("/products")
@shop_required
def index() -> str:
    with db.reading() as session:
        shop_id = my_shop_id()
        name = catalogue.shop_name(session, shop_id)
        rows = catalogue.shop_products(session, shop_id)
    return render_template("shop/products.html", shop_name=name, products=rows, csrf_token=csrf_token(),
                           stock_text=stock_text, local_photo=local_photo)


@bp.post("/products/<int:product_id>/adjust")
@shop_required
def adjust(product_id: int) -> Response:
    """＋ or － by the amount in the card's field (1 unless changed)."""
    with refusals():
        amount = read_int(request.form.get("amount") or "1", what="ふやす・へらす数")
        delta = -abs(amount) if request.form.get("sign") == "-" else abs(amount)
        with db.transaction() as session:
            row = catalogue.adjust_own_stock(session, shop_id=my_shop_id(), product_id=product_id,
                                             delta=delta, **who())
        verb = "ふやしました" if delta > 0 else "へらしました"
        done(f"{row.name}の在庫を{abs(delta)}{row.unit}{verb}。いまの在庫は{stock_text(row.stock, row.unit)}です。")
    return _back(product_id)


@bp.post("/products/<int:product_id>/stock")
@shop_required
def set_stock(product_id: int) -> Response:
    """The absolute number, against the number the card showed (``expected``)."""
    with refusals():
        new_stock = read_int(request.form.get("stock"), what="在庫の数")
        shown = (request.form.get("expected") or "").strip()
        expected = read_int(shown, what="在庫の数") if shown else None
        with db.transaction() as session:
            row = catalogue.set_own_stock(session, shop_id=my_shop_id(), product_id=product_id,
                                          new_stock=new_stock, expected=expected, **who())
        done(f"{row.name}の在庫を{stock_text(row.stock, row.unit)}にしました。")
    return _back(product_id)


@bp.post("/products/<int:product_id>/price")
@shop_required
def set_price(product_id: int) -> Response:
    with refusals():
        price = read_int(request.form.get("price"), what="値段")
        with db.transaction() as session:
            row = catalogue.set_own_price(session, shop_id=my_shop_id(), product_id=product_id,
                                          price_yen=price, **who())
        done(f"{row.name}の値段を{row.price_yen:,}円にしました。これからのご注文からこの値段です。")
    return _back(product_id)


@bp.post("/products/<int:product_id>/sold-out")
@shop_required
def sold_out(product_id: int) -> Response:
    with refusals():
        with db.transaction() as session:
            row = catalogue.mark_own_sold_out(session, shop_id=my_shop_id(), product_id=product_id, **who())
        done(f"{row.name}を売り切れにしました。")
    return _back(product_id)


@bp.post("/products/<int:product_id>/back")
@shop_required
def back(product_id: int) -> Response:
    """販売を再開, with the units that came in (optional)."""
    with refusals():
        text = (request.form.get("received") or "").strip()
        received = read_int(text, what="入荷した数") if text else 0
        if received < 0:
            raise catalogue.ProductError("bad_number", "入荷した数は0より大きい数にしてください。")
        with db.transaction() as session:
            row = catalogue.mark_own_back(session, shop_id=my_shop_id(), product_id=product_id,
                                          received=received, **who())
        message = f"{row.name}の販売を再開しました。"
        if row.stock == 0:
            message += "いまの在庫は0です。入荷した数も入れてください。"
        done(message)
    return _back(product_id)


_NEW_FIELDS = ("name", "kana", "unit", "price", "stock", "category")


def _photo_bytes(upload: FileStorage | None) -> bytes | None:
    if upload is None or not upload.filename:
        return None
    data = upload.stream.read(photos.MAX_PHOTO_BYTES + 1)
    return data or None


@bp.route("/products/new", methods=["GET", "POST"])
@shop_required
@body_limit(PHOTO_FORM_BYTES)
def new():  # type: ignore[no-untyped-def]
    """商品を追加: name, reading, unit, price, stock (empty: not counted), an optional photo."""
    form = {key: (request.form.get(key) or "").strip() for key in _NEW_FIELDS}
    error = None
    if request.method == "POST":
        stored: str | None = None
        try:
            price = read_int(form["price"], what="値段")
            stock = read_int(form["stock"], what="在庫の数") if form["stock"] else None
            shop_id = my_shop_id()
            with db.transaction() as session:
                checked = catalogue.check_new_product(session, shop_id=shop_id, name=form["name"],
                                                      kana=form["kana"], unit=form["unit"], price_yen=price,
                                                      stock=stock, category=form["category"])
                photo = _photo_bytes(request.files.get("photo"))
                photo_url = None
                if photo is not None:
                    stored = photos.store(photo_folder(), shop_id=shop_id, jpeg=photos.reencode(photo))
                    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
                    photo_url = base + url_for("shop_photos.photo", name=stored)
                row = catalogue.add_product(session, shop_id=shop_id, product=checked, photo_url=photo_url, **who())
            done(f"「{row.name}」を追加しました（在庫 {stock_text(row.stock, row.unit)}、{row.price_yen:,}円）。")
            return _back(row.id)
        except DomainError as failure:
            if stored is not None:
                photos.discard(photo_folder(), stored)
            error = failure.message
    return render_template("shop/new_product.html", form=form, error=error, csrf_token=csrf_token(),
                           max_mb=photos.MAX_PHOTO_BYTES // (1024 * 1024)), (400 if error else 200)
