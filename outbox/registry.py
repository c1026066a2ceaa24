"""The senders registry: ``app.extensions["otodoke.senders"]``, a dict channel → Sender.

The factory creates it empty; each channel package adds its sender when its credentials (or its sandbox)
are configured. A channel with no sender is not faked: its rows wait in the outbox, counted and marked
"channel not configured", until someone configures it.
"""

from __future__ import annotations

from flask import Flask, current_app

from outbox.senders import Sender
from outbox.service import CHANNELS

SENDERS_KEY = "otodoke.senders"


def init_app(app: Flask) -> None:
    app.extensions.setdefault(SENDERS_KEY, {})


def senders_for(app: Flask | None = None) -> dict[str, Sender]:
    return (app or current_app).extensions.setdefault(SENDERS_KEY, {})


def register_sender(app: Flask, sender: Sender) -> None:
    """Make ``sender`` the one used for ``sender.channel`` (replacing any earlier one)."""
    if sender.channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {sender.channel!r}")
    senders_for(app)[sender.channel] = sender


def unconfigured_channels(app: Flask | None = None) -> list[str]:
    senders = senders_for(app)
    return [channel for channel in CHANNELS if channel not in senders]
