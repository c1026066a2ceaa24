"""The list of pages the home page links to: each package adds its own from its ``init_app``.

Kept in the core so that a channel can list its page without importing the app factory's package.
"""

from __future__ import annotations

from flask import Flask

SURFACES_KEY = "otodoke.surfaces"


def add_surface(app: Flask, url: str, label: str, audience: str) -> None:
    """List a page of this app on its home page."""
    surfaces = app.extensions.setdefault(SURFACES_KEY, [])
    if (url, label, audience) not in surfaces:
        surfaces.append((url, label, audience))


def surfaces(app: Flask) -> list[tuple[str, str, str]]:
    return list(app.extensions.get(SURFACES_KEY, []))
