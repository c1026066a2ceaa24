"""Loads the pilot-town demo data into an empty database (used by ``otodoke run``)."""

from __future__ import annotations

from flask import Flask


def seed_if_empty(app: Flask) -> bool:
    """Return True if demo data was loaded. Filled in by the demo data module once it exists."""
    return False
