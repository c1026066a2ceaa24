"""A shop's products as a CSV file: export (UTF-8 with a BOM, so Excel in Japan opens it as it is), and
import with a preview: every row is checked and shown with its change or its error in Japanese, and
only a file without a single error can be applied, all of it in one transaction (``shops/csv_apply.py``).

Reading never raises: whatever the text, the answer is a ``Preview`` with row errors (a file-level
problem, such as a missing header, is an error on line 0). The columns are found by their header, so
a shop may reorder them, drop some or add its own (ignored):

  商品番号, 商品名, よみがな, 単位, 値段（円）, 在庫, 販売

A row names its product by 商品番号 (what the export writes) or by 商品名. 値段, 在庫 and 販売 are
what an import changes; an empty cell changes nothing; 在庫 「制限なし」 stops counting. Products
are not created or renamed by a file (「商品を追加」 does that), so a typo cannot add a product.
"""

from __future__ import annotations

import csv
import hashlib
import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.spreadsheet import FORMULA_STARTS, csv_text, excel_csv_bytes
from shops.products import ShopProduct
from shops.service import MAX_PRICE_YEN, MAX_STOCK, normalise_text

HEADERS = ("商品番号", "商品名", "よみがな", "単位", "値段（円）", "在庫", "販売")
_ALIASES = {
    "id": ("商品番号", "番号", "id", "商品id"),
    "name": ("商品名", "名前", "品名"),
    "kana": ("よみがな", "よみ", "ふりがな", "読み", "読みがな"),
    "unit": ("単位",),
    "price": ("値段", "値段(円)", "価格", "価格(円)", "単価", "単価(円)"),
    "stock": ("在庫", "在庫数", "在庫(数)"),
    "available": ("販売", "販売中", "状態"),
}
UNLIMITED = "制限なし"
ON_SALE, OFF_SALE = "販売中", "お休み"
_YES = {"販売中", "販売", "する", "はい", "○", "〇", "1", "true", "yes"}
_NO = {"お休み", "休み", "停止", "販売停止", "しない", "いいえ", "×", "0", "false", "no"}
MAX_ROWS = 2000
MAX_CSV_BYTES = 200_000


@dataclass(frozen=True)
class RowError:
    line: int          # the file's line (0: the file as a whole)
    message: str


@dataclass(frozen=True)
class RowChange:
    """One product row of the file and what applying it would change (old, new), or None."""

    line: int
    product_id: int
    name: str
    unit: str
    price: tuple[int, int] | None = None
    stock: tuple[int | None, int | None] | None = None
    available: tuple[bool, bool] | None = None

    @property
    def changed(self) -> bool:
        return any(x is not None for x in (self.price, self.stock, self.available))


@dataclass(frozen=True)
class Preview:
    rows: list[RowChange] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    @property
    def changes(self) -> list[RowChange]:
        return [row for row in self.rows if row.changed]

    def digest(self) -> str:
        """What the preview showed, as a short fingerprint: applying refuses a file whose changes are no
        longer the ones previewed (an order or another person changed the stock in between)."""
        return hashlib.sha256(repr(self.changes).encode()).hexdigest()[:32]


class CsvFileError(Exception):
    """The upload is not a text file in UTF-8 or Shift_JIS (or too large): nothing to preview."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def decode(data: bytes) -> str:
    """The file's text: UTF-8 (with or without a BOM), else Shift_JIS as Windows and Excel write it (cp932)."""
    if len(data) > MAX_CSV_BYTES:
        raise CsvFileError(f"ファイルが大きすぎます（{MAX_CSV_BYTES // 1000}KBまで）。")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvFileError("文字コードを読み取れませんでした。UTF-8 か Shift_JIS の CSV で保存してください。")


# ---- export ----------------------------------------------------------------------------------

def _export_rows(products: Sequence[ShopProduct]) -> list[list[str | int]]:
    return [list(HEADERS)] + [[p.id, p.name, p.kana, p.unit, p.price_yen, UNLIMITED if p.stock is None else p.stock,
                               ON_SALE if p.available else OFF_SALE] for p in products]


def export_text(products: Sequence[ShopProduct]) -> str:
    return csv_text(_export_rows(products))


def export_bytes(products: Sequence[ShopProduct]) -> bytes:
    """The shop's products as CSV bytes: UTF-8 with a BOM, CRLF lines (what Excel expects)."""
    return excel_csv_bytes(_export_rows(products))


# ---- import ----------------------------------------------------------------------------------

def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _uncell(text: str) -> str:
    """A text cell as the shop meant it (the export's formula quote taken off again)."""
    # the quote is looked for before stripping: the export quoted a cell that began with a tab or CR
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS + ("'",)):
        return text[1:].strip()
    return text.strip()


def _header_key(text: str) -> str | None:
    wanted = _clean(text).lower().replace(" ", "").replace("（", "(").replace("）", ")")
    for key, names in _ALIASES.items():
        if wanted in {_clean(n).lower() for n in names}:
            return key
    return None


def _number(text: str) -> int | None:
    raw = _clean(text).replace(",", "").replace(" ", "").removesuffix("円").replace("−", "-")
    digits = raw[1:] if raw[:1] in "+-" else raw
    if not digits or not digits.isascii() or not digits.isdigit() or len(digits) > 9:
        return None
    return int(raw)


class _RowProblem(Exception):
    pass


def _price(text: str) -> int:
    value = _number(text)
    if value is None:
        raise _RowProblem(f"値段「{text.strip()[:20]}」が数字ではありません。")
    if not 0 <= value <= MAX_PRICE_YEN:
        raise _RowProblem(f"値段は0円から{MAX_PRICE_YEN:,}円までにしてください。")
    return value


def _stock(text: str) -> int | None:
    if _clean(text) in (UNLIMITED, "数えない"):
        return None
    value = _number(text)
    if value is None:
        raise _RowProblem(f"在庫「{text.strip()[:20]}」が数字ではありません（数えない商品は「{UNLIMITED}」）。")
    if value < 0:
        raise _RowProblem("在庫はマイナスにできません。")
    if value > MAX_STOCK:
        raise _RowProblem(f"在庫は{MAX_STOCK}までにしてください。")
    return value


def _available(text: str) -> bool:
    word = _clean(text).lower()
    if word in _YES:
        return True
    if word in _NO:
        return False
    raise _RowProblem(f"販売の欄は「{ON_SALE}」か「{OFF_SALE}」にしてください。")


def _header(row: list[str]) -> dict[str, int] | RowError:
    columns: dict[str, int] = {}
    for index, title in enumerate(row):
        key = _header_key(title)
        if key is None:
            continue
        if key in columns:
            return RowError(0, f"見出し「{title.strip()[:20]}」が2回あります。")
        columns[key] = index
    if "id" not in columns and "name" not in columns:
        return RowError(0, "1行目に見出し（商品番号 または 商品名 の列）が必要です。書き出したCSVを元にしてください。")
    if not {"price", "stock", "available"} & set(columns):
        return RowError(0, "値段・在庫・販売のどれかの列が必要です。")
    return columns


def _find(cells: dict[str, str], catalogue: Sequence[ShopProduct]) -> ShopProduct:
    name = _uncell(cells.get("name", ""))
    if cells.get("id", "").strip():
        number = _number(cells["id"])
        found = next((p for p in catalogue if number is not None and p.id == number), None)
        if found is None:
            raise _RowProblem(f"商品番号「{cells['id'].strip()[:20]}」の商品はこのお店にありません。")
        if name and normalise_text(name) != normalise_text(found.name):
            raise _RowProblem(f"商品番号 {found.id} は「{found.name}」です。商品名「{name[:30]}」と合いません。")
        return found
    if not name:
        raise _RowProblem("商品番号か商品名を入れてください。")
    matches = [p for p in catalogue if normalise_text(p.name) == normalise_text(name)]
    if not matches:
        raise _RowProblem(f"「{name[:30]}」という商品はこのお店にありません（新しい商品は「商品を追加」から）。")
    if len(matches) > 1:
        raise _RowProblem(f"「{name[:30]}」という名前の商品が{len(matches)}つあります。商品番号を入れてください。")
    return matches[0]


def _row(line: int, cells: dict[str, str], product: ShopProduct) -> RowChange:
    price = stock = available = None
    if cells.get("price", "").strip():
        new_price = _price(cells["price"])
        price = (product.price_yen, new_price) if new_price != product.price_yen else None
    if cells.get("stock", "").strip():
        new_stock = _stock(cells["stock"])
        stock = (product.stock, new_stock) if new_stock != product.stock else None
    if cells.get("available", "").strip():
        new_available = _available(cells["available"])
        available = (product.available, new_available) if new_available != product.available else None
    return RowChange(line=line, product_id=product.id, name=product.name, unit=product.unit, price=price,
                     stock=stock, available=available)


def read_csv(text: str, catalogue: Sequence[ShopProduct]) -> Preview:
    """Check a CSV file against the shop's products (``catalogue``): each row's change or its error.
    Never raises: every problem, of a row or of the file, is a ``RowError``."""
    try:
        return _read(text.removeprefix("\ufeff"), catalogue)
    except (csv.Error, ValueError) as failure:     # e.g. a field past csv's size limit
        return Preview(errors=[RowError(0, f"CSVとして読めませんでした（{type(failure).__name__}）。")])


def _read(text: str, catalogue: Sequence[ShopProduct]) -> Preview:
    if "\x00" in text:
        return Preview(errors=[RowError(0, "CSVではないファイルのようです（NUL文字があります）。")])
    reader = csv.reader(io.StringIO(text, newline=""))
    columns: dict[str, int] | None = None
    rows: list[RowChange] = []
    errors: list[RowError] = []
    seen: dict[int, int] = {}
    count = 0
    for raw in reader:
        if not any(cell.strip() for cell in raw):
            continue
        line = reader.line_num
        if columns is None:
            header = _header(raw)
            if isinstance(header, RowError):
                return Preview(errors=[header])
            columns = header
            continue
        count += 1
        if count > MAX_ROWS:
            return Preview(errors=[RowError(0, f"行が多すぎます（{MAX_ROWS}行まで）。")])
        cells = {key: raw[index] if index < len(raw) else "" for key, index in columns.items()}
        try:
            product = _find(cells, catalogue)
            if product.id in seen:
                raise _RowProblem(f"「{product.name}」は{seen[product.id]}行目にもあります。1行にまとめてください。")
            seen[product.id] = line
            rows.append(_row(line, cells, product))
        except _RowProblem as problem:
            errors.append(RowError(line, str(problem)))
    if columns is None:
        return Preview(errors=[RowError(0, "ファイルが空です。")])
    if not rows and not errors:
        errors.append(RowError(0, "商品の行がありません。"))
    return Preview(rows=rows, errors=errors)

