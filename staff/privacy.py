"""The coordinator's page for a resident's APPI requests (個人情報の開示・削除): see what is held, download
it as JSON or CSV, erase it on request. Admin and coordinator only; every view, download and erasure is in
the audit log. The work is residents/privacy.py's."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from accounts.security import audit_view, csrf_token, current_actor, staff_change_required
from core.clock import get_clock
from core.db import db
from core.errors import DomainError
from core.inputs import db_int
from residents import privacy
from residents.service import find_by_phone

bp = Blueprint("staff_privacy", __name__, url_prefix="/staff/privacy", template_folder="templates")

PART_LABELS = {"profile": "登録内容", "family_links": "家族のつながり", "call_records": "録音・電話の記録",
               "conversations": "LINEの会話の状態", "messages": "送ったメッセージ", "orders": "注文",
               "delivery_stops": "配達の記録", "audit": "操作の記録（監査ログ）"}
CONFIRM_WORD = "削除"


@bp.get("/")
@staff_change_required
def find():  # type: ignore[no-untyped-def]
    """Look a resident up by number or phone number, then go to their page."""
    query = (request.args.get("q") or "").strip()
    if not query:
        return render_template("staff/privacy_find.html", query="")
    resident_id = db_int(query) if query.isdigit() and len(query) <= 10 else None
    if resident_id is None:
        with db.reading() as session:
            found = find_by_phone(session, query)
            resident_id = found.id if found is not None else None
    if resident_id is None:
        flash("その番号・電話番号の利用者は見つかりません。")
        return render_template("staff/privacy_find.html", query=query), 404
    return redirect(url_for("staff_privacy.resident", resident_id=resident_id))


@bp.get("/residents/<int:resident_id>")
@staff_change_required
def resident(resident_id: int) -> str:
    try:
        with db.reading() as session:
            data = privacy.collect_resident(session, resident_id, privacy.parts_of())
    except DomainError:
        abort(404, description="その利用者は登録されていません。")
    audit_view("privacy", "resident", resident_id)
    counts = [(PART_LABELS.get(name, name), len(rows)) for name, rows in data.items()]
    return render_template("staff/privacy_resident.html", resident_id=resident_id, profile=data["profile"][0],
                           counts=counts, csrf_token=csrf_token(), confirm_word=CONFIRM_WORD)


@bp.get("/residents/<int:resident_id>/export.<any(json, csv):fmt>")
@staff_change_required
def export(resident_id: int, fmt: str) -> Response:
    try:
        with db.transaction() as session:
            data = privacy.export_resident(session, resident_id=resident_id, parts=privacy.parts_of(),
                                           actor=current_actor(), channel="web", now=get_clock().now(), fmt=fmt)
    except DomainError:
        abort(404, description="その利用者は登録されていません。")
    body = privacy.to_json(data) if fmt == "json" else "\ufeff" + privacy.to_csv(data)   # BOM: Excel reads UTF-8
    mimetype = "application/json" if fmt == "json" else "text/csv"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="resident-{resident_id}.{fmt}"'})


@bp.post("/residents/<int:resident_id>/erase")
@staff_change_required
def erase(resident_id: int):  # type: ignore[no-untyped-def]
    if (request.form.get("confirm") or "").strip() != CONFIRM_WORD:
        flash(f"削除するには確認の欄に「{CONFIRM_WORD}」と入力してください。")
        return redirect(url_for("staff_privacy.resident", resident_id=resident_id)), 303
    try:
        with db.transaction() as session:
            counts = privacy.erase_resident(session, resident_id=resident_id, parts=privacy.parts_of(),
                                            actor=current_actor(), channel="web", now=get_clock().now())
    except privacy.PrivacyError as error:
        if error.code == "not_found":
            abort(404, description=error.message)
        flash(error.message)
        return redirect(url_for("staff_privacy.resident", resident_id=resident_id)), 303
    flash("個人情報を削除しました（注文と金額の記録は、名前などを除いて残ります）: "
          + "、".join(f"{PART_LABELS.get(name, name)} {count}件" for name, count in counts.items()))
    return redirect(url_for("staff_privacy.resident", resident_id=resident_id)), 303
