"""The LINE sandbox: ``/sandbox/line`` acts as the LINE app for a chosen demo user, and
``/sandbox/line-api/...`` is the fake LINE platform the SDK talks to in sandbox mode.

The page asks ``/sandbox/line/event`` for an event body exactly as LINE would send it (ids, reply
token, timestamp) and its ``X-Line-Signature``, then posts both to ``/line/callback`` itself; the
replies and pushes the app sends land in the in-app fake and the page polls them. Only mounted when
``LINE_SANDBOX`` is on (never in production with real LINE credentials unless asked for).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from sqlalchemy import select

from sandbox.fake_line import FakeLine
from core.clock import get_clock
from core.db import db
from core.inputs import db_int

bp = Blueprint("line_sandbox", __name__, template_folder="templates")

FAKE_KEY = "otodoke.line_fake"
NEW_USER = "Usandbox0000000000000000000000new"


def fake(app: Flask | None = None) -> FakeLine:
    return (app or current_app).extensions[FAKE_KEY]


def init_app(app: Flask) -> None:
    app.extensions.setdefault(FAKE_KEY, FakeLine())
    # The sandbox pages post JSON from their own script and stand in for LINE/Twilio's servers (the
    # fake APIs are called by the SDKs, never with a form): no CSRF token to carry.
    from accounts.security import csrf
    csrf.exempt(bp)
    app.register_blueprint(bp)
    from core.surfaces import add_surface
    add_surface(app, "/sandbox/line", "LINE サンドボックス（いま動いているのはこちら。本物のLINEには送りません）", "職員・デモ")


def sign(secret: str, body: str) -> str:
    """LINE's algorithm: base64(HMAC-SHA256(channel secret, UTF-8 body))."""
    return base64.b64encode(hmac.new(secret.encode(), body.encode("utf-8"), hashlib.sha256).digest()).decode()


def _ulid_like() -> str:
    return (format(int(time.time() * 1000), "012X") + uuid.uuid4().hex.upper())[:26]


def build_event(kind: str, user_id: str, timestamp_ms: int, **fields: Any) -> dict[str, Any]:
    """One event as LINE sends it (the shape of line-openapi webhook.yml)."""
    event: dict[str, Any] = {
        "type": kind, "mode": "active", "timestamp": timestamp_ms,
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": _ulid_like(), "deliveryContext": {"isRedelivery": False},
    }
    if kind != "unfollow":
        event["replyToken"] = uuid.uuid4().hex
    if kind == "follow":
        event["follow"] = {"isUnblocked": False}
    elif kind == "postback":
        event["postback"] = {"data": fields.get("data", "")}
    elif kind == "text":
        event.update(type="message", message={"id": str(time.time_ns()), "type": "text",
                                              "quoteToken": uuid.uuid4().hex, "text": fields.get("text", "")})
    elif kind == "location":
        event.update(type="message", message={"id": str(time.time_ns()), "type": "location",
                                              "title": "送信した位置", "address": fields.get("address", ""),
                                              "latitude": float(fields["lat"]), "longitude": float(fields["lon"])})
    return event


def _demo_users() -> list[dict[str, str]]:
    """Every LINE account the database knows, by role, plus a brand-new user for registration."""
    from delivery.models import Driver
    from residents.models import FamilyLink, Resident
    from shops.models import Shop, ShopOwner
    users = [{"id": NEW_USER, "label": "はじめての利用者（登録から）"}]
    with db.reading() as session:
        for r in session.scalars(select(Resident).where(Resident.line_user_id.is_not(None)).order_by(Resident.id).limit(30)):
            users.append({"id": r.line_user_id or "", "label": f"利用者：{r.name}"})
        for f in session.scalars(select(FamilyLink).order_by(FamilyLink.id).limit(20)):
            users.append({"id": f.line_user_id, "label": f"家族：{f.name}"})
        for o, s in session.execute(select(ShopOwner, Shop).join(Shop, Shop.id == ShopOwner.shop_id).limit(20)):
            users.append({"id": o.line_user_id, "label": f"お店：{s.name}"})
        for d in session.scalars(select(Driver).where(Driver.line_user_id.is_not(None)).limit(20)):
            users.append({"id": d.line_user_id or "", "label": f"配達員：{d.name}"})
    seen: set[str] = set()
    return [u for u in users if not (u["id"] in seen or seen.add(u["id"]))]  # type: ignore[func-returns-value]


@bp.get("/sandbox/line")
def page() -> str:
    """The LINE-app stand-in for staff and demos."""
    return render_template("sandbox/line.html", users=_demo_users(),
                           coordinator=current_app.config.get("COORDINATOR_PHONE", ""))


@bp.post("/sandbox/line/event")
def event() -> Response:
    """Build and sign one event for the page to post to /line/callback (the page never sees the secret)."""
    from bot.views import channel_secret
    params = request.get_json(force=True, silent=True) or {}
    user_id = str(params.get("user") or NEW_USER)[:64]
    if not user_id.startswith("U"):
        user_id = "U" + user_id
    kind = str(params.get("type") or "text")
    now_ms = int(get_clock().now().timestamp() * 1000)
    raw = build_event(kind, user_id, now_ms, **{k: params[k] for k in ("text", "data", "lat", "lon", "address") if k in params})
    if raw.get("replyToken"):
        fake().token_owner[raw["replyToken"]] = user_id
    body = json.dumps({"destination": "U" + "0" * 32, "events": [raw]}, ensure_ascii=False)
    return jsonify(body=body, signature=sign(channel_secret() or "", body))


@bp.get("/sandbox/line/inbox")
def inbox() -> Response:
    """Messages delivered to one user since ``after`` (replies and pushes), for the page to render."""
    user_id = request.args.get("user", "")
    after = db_int(request.args.get("after", "0")) or 0
    out = []
    for call in list(fake().calls):
        if call.seq > after and call.status == 200 and call.to == user_id and \
                call.path.endswith(("/message/reply", "/message/push")):
            kind = "reply" if call.path.endswith("reply") else "push"
            out.append({"seq": call.seq, "kind": kind, "messages": call.body.get("messages", [])})
    last = max([c.seq for c in list(fake().calls)] or [after])
    return jsonify(messages=out, last=last)


@bp.route("/sandbox/line-api/<path:path>", methods=["GET", "POST", "DELETE"])
def fake_api(path: str) -> Response:
    """The fake LINE platform (same behaviour as the test fake; reply tokens, retry keys, limits)."""
    status, answer, extra = fake().handle(request.method, "/" + path, dict(request.headers), request.get_data())
    return Response(json.dumps(answer), status=status, mimetype="application/json", headers=extra)

