"""Response shapes shared by every area."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from league_api.models import isoformat, utcnow


def now_iso() -> str:
    return isoformat(utcnow())  # type: ignore[return-value]


def answer(payload: dict[str, Any], status: int = 200) -> Response:
    """A read: the payload plus the response time."""
    response = jsonify({**payload, "timestamp": now_iso()})
    response.status_code = status
    return response


def success(http_status: int = 200, location: str | None = None, **fields: Any) -> Response:
    """A write: ``{"success": true, ..., "timestamp"}``; a creation also names its Location."""
    response = answer({"success": True, **fields}, http_status)
    if location is not None:
        response.headers["Location"] = location
    return response


def created(location: str, **fields: Any) -> Response:
    return success(201, location=location, **fields)
