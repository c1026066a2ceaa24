"""The home page (what is running, links to every surface) and a health check."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import text

from core.config import channel_statuses
from core.db import db
from core.surfaces import surfaces

bp = Blueprint("home", __name__)

def without_password(url: str) -> str:
    """A URL fit for a public page: any password (a Redis URL carries one) replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@bp.get("/")
def index() -> str:
    """Say in Japanese what is running and link to every surface."""
    return render_template(
        "home.html",
        channels=channel_statuses(current_app.config),
        database=db.engine.url.render_as_string(hide_password=True),
        backend=db.engine.dialect.name,
        jobs_url=without_password(current_app.config["JOBS_URL"]),
        surfaces=surfaces(current_app),
    )


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    """Liveness plus a database round trip; never shows secrets."""
    with db.reading() as session:
        session.execute(text("SELECT 1"))
    return jsonify(status="ok", database=db.engine.dialect.name)
