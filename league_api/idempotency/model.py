"""The idempotency record table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from league_api.db import db


class IdempotencyRecord(db.Model):
    """One keyed operation and, once its transaction commits, its stored response.

    ``scope_hash`` is SHA-256 over (caller identity, method, path, key): one fixed-size
    unique index serves every lookup, and no two callers can ever share a row.
    ``status_code`` is only NULL inside the transaction that claimed the row (PostgreSQL);
    that transaction always fills it before it commits, so no committed row is "in progress".
    """

    __tablename__ = "idempotency_records"

    # 64-bit on PostgreSQL: its claim (INSERT ... ON CONFLICT DO NOTHING) draws an id from the
    # sequence even when the key exists, so every replay uses one up. SQLite's rowid is 64-bit.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    scope_hash: Mapped[str] = mapped_column(String(64), unique=True)
    caller: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
