"""FICTIONAL demo data: Nagai's six districts with invented calendars, depots and fees; vehicles and
drivers. Coordinates are approximate and only meant to look right on a map of the valley.

Nagai lies in the Okitama basin on the west bank of the Mogami river; Isazawa is on the east bank.
All points stay inside ``BOUNDING_BOX`` and, for residents, away from ``RIVER`` (see demo/seed.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NOTICE = "架空のデモデータです。地区名以外（拠点・曜日・料金・座標）はすべて架空です。"

CITY_HALL = (38.1075, 140.0405)
BOUNDING_BOX = (38.05, 38.16, 139.98, 140.10)  # min lat, max lat, min lon, max lon

# A rough polyline of the Mogami river through the town (south to north); residents are not placed
# within ~250 m of it, so that no house ends up in the water.
RIVER: tuple[tuple[float, float], ...] = (
    (38.050, 140.074), (38.075, 140.070), (38.095, 140.066), (38.115, 140.062), (38.135, 140.059),
    (38.160, 140.056),
)

PM_ONLY: list[dict[str, Any]] = [{"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"}]
AM_PM: list[dict[str, Any]] = [
    {"code": "am", "label": "午前", "start": "09:00", "end": "12:00"},
    {"code": "pm", "label": "午後", "start": "13:00", "end": "17:00"},
]


@dataclass(frozen=True)
class DistrictSpec:
    code: str
    name: str
    kana: str
    weekdays: str            # Python weekday digits, 0 = Monday
    cutoff_days_before: int
    cutoff_time: str
    windows: list[dict[str, Any]]
    centre: tuple[float, float]
    depot: tuple[str, float, float]
    fee_yen: int
    residents: int           # how many demo residents live there
    spread_km: float         # residents are scattered within this radius of the centre
    places: tuple[str, ...]  # address stems
    chome: bool              # town-centre addresses use 丁目, rural ones a plain lot number


DISTRICTS: tuple[DistrictSpec, ...] = (
    DistrictSpec("chuo", "中央", "ちゅうおう", "012345", 0, "10:00", PM_ONLY, CITY_HALL,
                 ("長井市役所 配送拠点", 38.1075, 140.0405), 100, 90, 1.1,
                 ("本町", "栄町", "大町", "高野町", "館町北", "館町南", "十日町", "四ツ谷", "緑町"), True),
    DistrictSpec("chiho", "致芳", "ちほう", "03", 1, "17:00", AM_PM, (38.0920, 140.0450),
                 ("致芳地区公民館", 38.0925, 140.0440), 200, 45, 1.4,
                 ("五十川", "小出", "河井", "芦沢"), False),
    DistrictSpec("nishine", "西根", "にしね", "14", 1, "17:00", AM_PM, (38.1160, 140.0080),
                 ("西根地区公民館", 38.1155, 140.0095), 250, 45, 1.6,
                 ("草岡", "成田", "時庭", "勧進代"), False),
    DistrictSpec("hirano", "平野", "ひらの", "25", 1, "17:00", AM_PM, (38.1390, 140.0330),
                 ("平野地区公民館", 38.1385, 140.0340), 250, 40, 1.5,
                 ("平山", "九野本", "寺泉", "森"), False),
    DistrictSpec("isazawa", "伊佐沢", "いさざわ", "14", 1, "17:00", AM_PM, (38.0800, 140.0830),
                 ("伊佐沢地区公民館", 38.0805, 140.0820), 300, 40, 1.4,
                 ("上伊佐沢", "下伊佐沢", "伊佐沢"), False),
    DistrictSpec("toyoda", "豊田", "とよだ", "03", 1, "17:00", AM_PM, (38.0880, 140.0120),
                 ("豊田地区公民館", 38.0885, 140.0130), 250, 40, 1.5,
                 ("白兎", "幣束", "泉", "中道"), False),
)


@dataclass(frozen=True)
class VehicleSpec:
    name: str
    capacity_crates: int
    capacity_cold: int
    shift_start: str
    shift_end: str
    break_start: str | None
    break_minutes: int


VEHICLES: tuple[VehicleSpec, ...] = (
    VehicleSpec("軽バン1号", 16, 4, "08:30", "17:30", "12:00", 45),
    VehicleSpec("軽バン2号", 16, 4, "08:30", "17:30", "12:00", 45),
    VehicleSpec("軽バン3号", 16, 4, "09:00", "17:00", "12:15", 45),
    VehicleSpec("保冷軽トラック4号", 20, 12, "08:30", "16:30", "12:00", 45),
    VehicleSpec("ワゴン5号（予備）", 24, 6, "12:30", "17:30", None, 0),
)


@dataclass(frozen=True)
class DriverSpec:
    name: str
    kana: str
    phone: str
    vehicle_index: int | None  # into VEHICLES
    line_user_id: str | None


# Fictional people; phone numbers in the 090-0000-09xx block, which no carrier has issued.
DRIVERS: tuple[DriverSpec, ...] = (
    DriverSpec("渡部 健一", "わたなべ けんいち", "090-0000-0901", 0, "Udemodriver01"),
    DriverSpec("梅津 和也", "うめつ かずや", "090-0000-0902", 1, "Udemodriver02"),
    DriverSpec("菅野 美穂子", "かんの みほこ", "090-0000-0903", 2, None),
    DriverSpec("安部 隆", "あべ たかし", "090-0000-0904", 3, "Udemodriver04"),
    DriverSpec("遠藤 真由美", "えんどう まゆみ", "090-0000-0905", 4, None),
    DriverSpec("今野 誠", "こんの まこと", "090-0000-0906", None, None),
)
