"""Access logs without link tokens (issue 12, hole 10).

A driver's run link and a shop's picking-list link carry their credential in the URL path
(``/driver/run/<token>``, ``/picking/<token>``): whoever reads an access log line could open the run,
with its residents' names and addresses, for 36 hours. Both servers' access logs are redacted here:
Werkzeug's (``otodoke run``) by a filter on its logger, gunicorn's (the Procfile) by a logger class
named in ``otodoke/gunicorn_conf.py``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

_TOKEN_PATH = re.compile(r"(/(?:driver/run|picking)/)[^/\s?\"#]+")
REDACTED = r"\1[token]"


def redact(text: str) -> str:
    return _TOKEN_PATH.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message and string arguments with the tokens replaced by ``[token]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_werkzeug_filter() -> None:
    """Once per process: the development server logs each request line through the "werkzeug" logger."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


class RedactingGunicornLogger(GunicornLogger):
    """gunicorn's logger with the request line, path, query and referrer atoms redacted."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f", "{raw_uri}e"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
