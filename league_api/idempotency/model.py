"""The idempotency record table, built on demand for a table prefix (never at import)."""

from __future__ import annotations

import functools
import re
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

TABLE = "idempotency_records"
# Lower-case letters, digits and underscores: names that need no quoting in raw SQL.
PREFIX_PATTERN = re.compile(r"(?:[a-z_][a-z0-9_]*)?")


def check_prefix(prefix: str) -> str:
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise ValueError(f"a table prefix is lower-case letters, digits and _, not {prefix!r}")
    return prefix


@functools.cache
def record_model(prefix: str = "") -> type:
    """The mapped record class for tables named ``<prefix>idempotency_records``.

    Each prefix gets its own MetaData, so a host's ``create_all`` or autogenerate never sees
    the table: it is created by the layer's own migration (``flask idempotency upgrade``).
    """

    check_prefix(prefix)

    class RecordBase(DeclarativeBase):
        metadata = MetaData()

    class IdempotencyRecord(RecordBase):
        """One keyed operation and, once its transaction commits, its stored response.

        ``scope_hash`` is SHA-256 over (caller identity, method, path, key): one fixed-size
        unique index serves every lookup, and no two callers can ever share a row.
        ``status_code`` is only NULL inside the transaction that claimed the row (PostgreSQL);
        that transaction always fills it before it commits, so no committed row is "in
        progress".
        """

        __tablename__ = prefix + TABLE

        # 64-bit on PostgreSQL: its claim (INSERT ... ON CONFLICT DO NOTHING) draws an id from
        # the sequence even when the key exists, so every replay uses one up. SQLite's rowid is
        # 64-bit.
        id: Mapped[int] = mapped_column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True
        )
        scope_hash: Mapped[str] = mapped_column(String(64), unique=True)
        caller: Mapped[str] = mapped_column(String(255))
        fingerprint: Mapped[str] = mapped_column(String(64))
        status_code: Mapped[int | None] = mapped_column(Integer)
        headers: Mapped[str | None] = mapped_column(Text)
        body: Mapped[bytes | None] = mapped_column(LargeBinary)
        expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)

    return IdempotencyRecord
