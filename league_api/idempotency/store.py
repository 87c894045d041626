"""Reading, claiming and writing records inside the request's own transaction.

Two strategies, one per locking model:

* SQLite: the request already holds the database write lock (BEGIN IMMEDIATE), so a
  duplicate cannot be running. The keyed path is one indexed read, then one write.
* PostgreSQL: the claim is ``INSERT ... ON CONFLICT ... RETURNING``; a concurrent
  duplicate blocks on the unique index until the first transaction ends, then sees
  its committed record. A bounded ``lock_timeout`` applies to that statement alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import DateTime, Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from league_api.db import begin_write, db
from league_api.idempotency.model import IdempotencyRecord

records = IdempotencyRecord.__table__


class db_now_plus(FunctionElement):  # noqa: N801 - reads as the SQL function it stands for
    """The database clock plus N seconds, so every app server agrees on expiry."""

    type = DateTime(timezone=True)
    inherit_cache = True


@compiles(db_now_plus, "sqlite")
def _sqlite_now_plus(element, compiler, **kw):
    (seconds,) = element.clauses
    # Six fractional digits: the format SQLAlchemy's SQLite DateTime reads and writes.
    offset = compiler.process(seconds, **kw)
    return f"(strftime('%Y-%m-%d %H:%M:%f', 'now', ({offset}) || ' seconds') || '000')"


@compiles(db_now_plus, "postgresql")
def _pg_now_plus(element, compiler, **kw):
    (seconds,) = element.clauses
    return f"(now() + make_interval(secs => {compiler.process(seconds, **kw)}))"


@compiles(db_now_plus)
def _default_now_plus(element, compiler, **kw):
    return "CURRENT_TIMESTAMP"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Claim:
    """What the lookup found: a replayable answer, a conflict, or the right to run."""

    stored: StoredResponse | None = None
    conflict: bool = False
    # Row to fill in on save: the claimed row (PostgreSQL) or an expired one to replace.
    row_id: int | None = None


class ClaimTimeout(Exception):
    """A duplicate held the key longer than the claim's lock timeout."""


def _answer(row: Row, fingerprint: str) -> Claim:
    if row.fingerprint != fingerprint:
        return Claim(conflict=True)
    stored = StoredResponse(row.status_code, json.loads(row.headers or "{}"), row.body or b"")
    return Claim(stored=stored)


_LOOKUP_COLUMNS = (
    records.c.id,
    records.c.fingerprint,
    records.c.status_code,
    records.c.headers,
    records.c.body,
    (records.c.expires_at <= db_now_plus(0)).label("expired"),
)


class SQLiteStore:
    def claim(self, session: Session, scope: str, caller: str, fingerprint: str) -> Claim:
        row = session.execute(
            select(*_LOOKUP_COLUMNS).where(records.c.scope_hash == scope)
        ).one_or_none()
        if row is None:
            return Claim()
        if row.expired:
            return Claim(row_id=row.id)
        return _answer(row, fingerprint)

    def save(self, session, claim, scope, caller, fingerprint, stored, ttl_seconds) -> None:
        values = dict(
            caller=caller,
            fingerprint=fingerprint,
            status_code=stored.status_code,
            headers=json.dumps(stored.headers),
            body=stored.body,
            expires_at=db_now_plus(ttl_seconds),
        )
        if claim.row_id is None:
            session.execute(insert(records).values(scope_hash=scope, **values))
        else:
            session.execute(update(records).where(records.c.id == claim.row_id).values(**values))


class PostgresStore:
    def __init__(self, lock_timeout_ms: int) -> None:
        self.lock_timeout_ms = lock_timeout_ms

    def claim(self, session: Session, scope: str, caller: str, fingerprint: str) -> Claim:
        lookup = select(*_LOOKUP_COLUMNS).where(records.c.scope_hash == scope)
        # Fast path for retries: a committed, live record answers without any write.
        row = session.execute(lookup).one_or_none()
        if row is not None and not row.expired:
            return _answer(row, fingerprint)
        fresh = dict(
            caller=caller,
            fingerprint=fingerprint,
            status_code=None,
            headers=None,
            body=None,
            expires_at=func.now(),
        )
        statement = pg_insert(records).values(scope_hash=scope, **fresh)
        statement = statement.on_conflict_do_update(
            index_elements=[records.c.scope_hash],
            set_={name: statement.excluded[name] for name in fresh},
            where=records.c.expires_at <= func.now(),
        ).returning(records.c.id)
        self._set_lock_timeout(session, f"{int(self.lock_timeout_ms)}ms")
        try:
            claimed_id = session.execute(statement).scalar_one_or_none()
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise ClaimTimeout() from None
            raise
        self._set_lock_timeout(session, "0")
        if claimed_id is not None:
            return Claim(row_id=claimed_id)
        # The duplicate we waited for committed a live record: answer from it.
        return _answer(session.execute(lookup).one(), fingerprint)

    @staticmethod
    def _set_lock_timeout(session: Session, value: str) -> None:
        session.execute(select(func.set_config("lock_timeout", value, True)))

    def save(self, session, claim, scope, caller, fingerprint, stored, ttl_seconds) -> None:
        session.execute(
            update(records)
            .where(records.c.id == claim.row_id)
            .values(
                status_code=stored.status_code,
                headers=json.dumps(stored.headers),
                body=stored.body,
                expires_at=db_now_plus(ttl_seconds),
            )
        )


def store_for(session: Session, lock_timeout_ms: int) -> SQLiteStore | PostgresStore:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return SQLiteStore()
    if dialect == "postgresql":
        return PostgresStore(lock_timeout_ms)
    raise RuntimeError(f"idempotency records are not supported on {dialect}")


def purge_expired(batch_size: int = 1000) -> int:
    """Delete expired records in batches through the ``expires_at`` index; each batch commits.

    Short batches keep each write transaction brief, so live requests are barely delayed.
    """
    session = db.session()
    removed = 0
    while True:
        begin_write()
        expired = records.c.expires_at <= db_now_plus(0)
        batch = select(records.c.id).where(expired).order_by(records.c.expires_at).limit(batch_size)
        ids = session.execute(batch).scalars().all()
        if not ids:
            session.rollback()
            return removed
        # Expiry is checked again: on PostgreSQL a retry may have replaced one of these records
        # since the SELECT, and the DELETE re-evaluates its WHERE on that newer row, which stays.
        result = session.execute(delete(records).where(records.c.id.in_(ids), expired))
        session.commit()
        removed += result.rowcount
