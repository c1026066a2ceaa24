"""Product photos sent from a shop's phone: JPEG or PNG up to 2 MB, checked by decoding them with Pillow
(not by the file name or the browser's content type) and re-encoded as a fresh JPEG, so what is stored and
served is an image Pillow wrote: no camera metadata (a farm's GPS position), no trailing payload.

Files live in one folder (by default ``photos/`` in the instance folder: ``PHOTO_FOLDER``), named by the shop and a random id; the name is all
the URL carries.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from shops.products import ProductError

MAX_PHOTO_BYTES = 2 * 1024 * 1024
# A photo is shown on a phone and in a LINE bubble: 1280 px on the long side is plenty.
MAX_SIDE = 1280
# Pillow decodes lazily; a small file can still claim an enormous canvas (a "decompression bomb").
MAX_PIXELS = 40_000_000
ACCEPTED = {"JPEG", "PNG"}
NAME = re.compile(r"[0-9]{1,10}-[0-9a-f]{32}\.jpg")

_MESSAGES = {
    "photo_too_big": "写真は2MBまでにしてください。",
    "photo_type": "写真は JPEG か PNG の画像にしてください。",
    "photo_broken": "写真を読み取れませんでした。別の写真でお試しください。",
}


def _error(code: str) -> ProductError:
    return ProductError(code, _MESSAGES[code])


def reencode(data: bytes) -> bytes:
    """The photo as a new JPEG (turned upright, at most ``MAX_SIDE`` px), or a Japanese refusal."""
    if len(data) > MAX_PHOTO_BYTES:
        raise _error("photo_too_big")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ACCEPTED:
                    raise _error("photo_type")
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise _error("photo_too_big")
                image.load()
                upright = ImageOps.exif_transpose(image)
                if upright.mode in ("RGBA", "LA", "P"):
                    rgba = upright.convert("RGBA")
                    flat = Image.new("RGB", rgba.size, "white")
                    flat.paste(rgba, mask=rgba.getchannel("A"))
                    upright = flat
                else:
                    upright = upright.convert("RGB")
                upright.thumbnail((MAX_SIDE, MAX_SIDE))
                out = io.BytesIO()
                upright.save(out, format="JPEG", quality=85, optimize=True)
                return out.getvalue()
    except ProductError:
        raise
    except UnidentifiedImageError:
        raise _error("photo_type") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _error("photo_broken") from None


def store(folder_path: str, *, shop_id: int, jpeg: bytes) -> str:
    """Write a re-encoded photo into the photo folder; returns its file name."""
    folder = Path(folder_path)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{shop_id}-{secrets.token_hex(16)}.jpg"
    partial = folder / (name + ".part")
    partial.write_bytes(jpeg)
    os.replace(partial, folder / name)      # never a half-written file under the served name
    return name


def discard(folder_path: str, name: str) -> None:
    """Remove a stored photo whose product was not saved after all."""
    if NAME.fullmatch(name):
        (Path(folder_path) / name).unlink(missing_ok=True)
