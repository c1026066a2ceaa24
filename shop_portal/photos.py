"""Product photos, served to anyone (/photos/<name>): they are the catalogue's pictures, shown on the
shop's page and in residents' LINE product cards, and hold no personal data. Only names the upload
wrote (shop id, 32 hex digits, .jpg) are served, from the photo folder."""

from __future__ import annotations

from flask import Blueprint, abort, send_from_directory
from werkzeug.wrappers import Response

from shop_portal.common import photo_folder
from shops import photos

bp = Blueprint("shop_photos", __name__)


@bp.get("/photos/<name>")
def photo(name: str) -> Response:
    if not photos.NAME.fullmatch(name):
        abort(404, description="その写真は見つかりませんでした。")
    return send_from_directory(photo_folder(), name, mimetype="image/jpeg")
