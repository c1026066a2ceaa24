"""Run the Huey tasks a request queued, here and now, in the test's thread (what the consumer would do)."""

from __future__ import annotations

from flask import Flask

from otodoke.jobs import get_huey


def run_queued_jobs(app: Flask) -> int:
    huey = get_huey(app)
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
    return ran
