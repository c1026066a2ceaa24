"""The daily report for staff (/staff/report, /staff/report.csv): a thin adapter over delivery/report.py.
Every staff role may look (read-only included): it only reads."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from markupsafe import Markup
from werkzeug.wrappers import Response

from accounts.security import staff_required
from core.clock import JST, get_clock
from core.db import db
from core.spreadsheet import Cell, excel_csv_bytes
from delivery.barchart import Bar, render_bars
from delivery.report import MAX_DAYS, Report, ReportRangeError, daily_report, parse_range

bp = Blueprint("report", __name__, url_prefix="/staff", template_folder="templates")

WEEKDAYS_JA = "月火水木金土日"
SERIES = ("お届け済み", "取り消し")


def _report() -> Report | ReportRangeError:
    today = get_clock().now().astimezone(JST).date()
    try:
        first, last = parse_range(request.args.get("from"), request.args.get("to"), today)
    except ReportRangeError as error:
        return error
    with db.reading() as session:
        return daily_report(session, first=first, last=last)


def _refused(error: ReportRangeError):  # type: ignore[no-untyped-def]
    return render_template("staff/report.html", report=None, error=error.message, max_days=MAX_DAYS,
                           first=request.args.get("from", ""), last=request.args.get("to", "")), 400


def _day_label(day) -> str:  # type: ignore[no-untyped-def]
    return f"{day.month}/{day.day}（{WEEKDAYS_JA[day.weekday()]}）"


@bp.get("/report")
@staff_required
def page():  # type: ignore[no-untyped-def]
    report = _report()
    if isinstance(report, ReportRangeError):
        return _refused(report)
    chart = render_bars([Bar(f"{d.day.month}/{d.day.day}", (d.delivered, d.cancelled),
                             f"{_day_label(d.day)} お届け済み {d.delivered}件・取り消し {d.cancelled}件")
                         for d in report.days], SERIES, caption="日ごとの注文（お届け済み・取り消し）")
    return render_template("staff/report.html", report=report, chart=Markup(chart), day_label=_day_label,
                           max_days=MAX_DAYS, first=report.first.isoformat(), last=report.last.isoformat(),
                           error=None)


def csv_rows(report: Report) -> list[list[Cell]]:
    """The report as CSV rows, one block per table (each with its own header row), for Excel."""
    rows: list[list[Cell]] = [["■日別"], ["日付", "お届け済み（件）", "取り消し（件）", "売上（円）", "走行距離（km）",
                                          "運行時間（時間）", "お届けした戸数", "時間内の戸数", "時間内の割合（%）",
                                          "不在（件）"]]
    for d in report.days:
        share = d.on_time_share
        rows.append([d.day.isoformat(), d.delivered, d.cancelled, d.sales_yen, d.km, d.hours, d.doors_delivered,
                     d.doors_on_time, None if share is None else round(share * 100), d.not_at_home])
    rows += [[], ["■店舗別売上"], ["日付", "店舗", "売上（円）"]]
    rows += [[d.day.isoformat(), s.shop_name, s.yen] for d in report.days for s in d.sales]
    rows += [[], ["■便別"], ["日付", "車両", "運転手", "走行距離（km）", "運行時間（時間）"]]
    rows += [[d.day.isoformat(), r.vehicle, r.driver, r.km, r.hours] for d in report.days for r in d.runs]
    rows += [[], ["■配達員別の現金"], ["日付", "運転手", "集金予定（円）", "集金記録（円）", "差額（円）", "集金額の記録がない戸数"]]
    rows += [[d.day.isoformat(), c.driver, c.due_yen, c.collected_yen, c.difference_yen, c.unrecorded]
             for d in report.days for c in d.cash]
    return rows


@bp.get("/report.csv")
@staff_required
def csv_file():  # type: ignore[no-untyped-def]
    report = _report()
    if isinstance(report, ReportRangeError):
        return _refused(report)
    name = f"report-{report.first.isoformat()}-{report.last.isoformat()}.csv"
    return Response(excel_csv_bytes(csv_rows(report)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
