"""Shared column helpers for the domain models."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime


def new_id() -> str:
    """Opaque, time-ordered ID: sorting by id is sorting by creation (newest-first lists)."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z; SQLite hands datetimes back without their zone."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
