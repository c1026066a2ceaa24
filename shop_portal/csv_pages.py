"""The shop's products as a CSV file: 書き出し (UTF-8 with a BOM, for Excel), and 取り込み in two steps:
upload → a preview of every row's change or error (in Japanese) → 取り込む, all or nothing in one
transaction. Thin adapters over shops/csv_io.py and shops/csv_apply.py.

Between the two steps the file's text travels in the preview form itself (no server-side upload
store), with the preview's fingerprint: applying re-reads the text against the products as they are
then and refuses if anything previewed has changed.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from accounts.security import csrf_token
from core.db import db
from core.errors import DomainError
from shop_portal.common import ERROR, done, my_shop_id, shop_required, today, who
from shops import csv_io
from shops.csv_apply import apply_csv, preview_csv
from shops.products import shop_name, shop_products

bp = Blueprint("shop_csv", __name__, url_prefix="/shop", template_folder="templates")


@bp.get("/products.csv")
@shop_required
def export() -> Response:
    with db.reading() as session:
        body = csv_io.export_bytes(shop_products(session, my_shop_id()))
    name = f"products-{my_shop_id()}-{today().isoformat()}.csv"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


def _page(template: str, status: int = 200, **values):  # type: ignore[no-untyped-def]
    with db.reading() as session:
        values.setdefault("shop_name", shop_name(session, my_shop_id()))
    return render_template(template, csrf_token=csrf_token(), max_kb=csv_io.MAX_CSV_BYTES // 1000,
                           headers=csv_io.HEADERS, **values), status


@bp.get("/import")
@shop_required
def upload():  # type: ignore[no-untyped-def]
    return _page("shop/csv_upload.html")


@bp.post("/import")
@shop_required
def preview():  # type: ignore[no-untyped-def]
    """The uploaded file, checked row by row; nothing is changed yet."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page("shop/csv_upload.html", 400, error="CSVファイルを選んでください。")
    try:
        text = csv_io.decode(upload.stream.read(csv_io.MAX_CSV_BYTES + 1))
    except csv_io.CsvFileError as failure:
        return _page("shop/csv_upload.html", 400, error=failure.message)
    with db.reading() as session:
        result = preview_csv(session, shop_id=my_shop_id(), text=text)
    return _page("shop/csv_preview.html", 200 if result.ok else 400, preview=result, text=text)


@bp.post("/import/apply")
@shop_required
def apply():  # type: ignore[no-untyped-def]
    """取り込む: every row, or none."""
    text = request.form.get("text") or ""
    digest = request.form.get("digest") or ""
    try:
        with db.transaction() as session:
            changed = apply_csv(session, shop_id=my_shop_id(), text=text, digest=digest, **who())
    except DomainError as failure:
        flash(failure.message, ERROR)
        with db.reading() as session:
            result = preview_csv(session, shop_id=my_shop_id(), text=text)
        return _page("shop/csv_preview.html", failure.http_status, preview=result, text=text)
    done(f"CSVを取り込みました（{changed}件の商品を変更）。" if changed else "CSVを確認しました。変更はありませんでした。")
    return redirect(url_for("shop_products.index"))
