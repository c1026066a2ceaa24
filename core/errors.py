"""Domain errors: a machine code for API callers and logs, a Japanese sentence for people."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule was broken; nothing was changed. Channels show ``message`` to the user as is."""

    http_status = 400

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.details}


class NotFound(DomainError):
    http_status = 404


class Forbidden(DomainError):
    # Shown as 404 by web adapters so that another person's record's existence is not revealed.
    http_status = 404


class Conflict(DomainError):
    http_status = 409
