"""Reading, claiming and writing records inside the request's own transaction.

Two strategies, one per locking model:

* SQLite: the request already holds the database write lock (BEGIN IMMEDIATE), so a
  duplicate cannot be running. The keyed path is one indexed read, then one write.
* PostgreSQL: the claim is ``INSERT ... ON CONFLICT ... RETURNING``; a concurrent
  duplicate blocks on the unique index until the first transaction ends, then sees
  its committed record. A bounded ``lock_timeout`` applies to that statement alone.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from league_api.idempotency.fingerprint import PLAIN_CALLER
from league_api.idempotency.transactions import (
    DEFERRED_OPTION,
    EXTENSION,
    WRITE_OPTION,
    read_row,
    write_row,
)
from league_api.idempotency.transactions import session as current_session


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


def current_records() -> Table:
    """The record table of the current app (``init_app``'s ``table_prefix``)."""
    return current_app.extensions[EXTENSION]["records"]


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


def _answer(row: Any, fingerprint: str) -> Claim:
    if row.fingerprint != fingerprint:
        return Claim(conflict=True)
    stored = StoredResponse(row.status_code, json.loads(row.headers or "{}"), row.body or b"")
    return Claim(stored=stored)


@dataclass(frozen=True)
class Statements:
    """One record table's statements, built once: SQLAlchemy then reuses their compiled form."""

    lookup: Any
    insert_record: Any
    replace_record: Any
    fill_claimed: Any
    pg_claim_new: Any
    pg_claim_or_read: Any
    pg_claim_expired: Any


# PostgreSQL's claim, one round trip: the CTE sets lock_timeout before the INSERT can wait on
# the unique index (so only the claim is bounded), and RETURNING restores the previous value
# for the view's own locks. DO NOTHING takes no row lock when the key exists.
_PG_CLAIM_HEAD = """
WITH claim_timeout AS MATERIALIZED (
    SELECT current_setting('lock_timeout') AS previous,
           set_config('lock_timeout', :lock_timeout, true)
)
INSERT INTO {table} (scope_hash, caller, fingerprint, expires_at)
SELECT :scope, :caller, :fingerprint, now() FROM claim_timeout
"""
_PG_CLAIM_TAIL = """
RETURNING id, set_config('lock_timeout', (SELECT previous FROM claim_timeout), true)
"""
# The claim and, when the key is taken, the stored record, in one round trip: exactly one row,
# ``claimed_id`` set for a first request, else the record's columns. The record is read in the
# statement's snapshot: if the claim waited for a duplicate that then committed, neither shows
# (both NULL) and the caller reads the record again.
_PG_CLAIM_OR_READ = """
WITH claim_timeout AS MATERIALIZED (
    SELECT current_setting('lock_timeout') AS previous,
           set_config('lock_timeout', :lock_timeout, true)
), claimed AS (
    INSERT INTO {table} (scope_hash, caller, fingerprint, expires_at)
    SELECT :scope, :caller, :fingerprint, now() FROM claim_timeout
    ON CONFLICT (scope_hash) DO NOTHING
    RETURNING id, set_config('lock_timeout', (SELECT previous FROM claim_timeout), true)
)
SELECT claimed.id AS claimed_id, record.id, record.fingerprint, record.status_code,
       record.headers, record.body, record.expires_at <= now() AS expired
FROM (SELECT 1) AS one
LEFT JOIN claimed ON true
LEFT JOIN {table} AS record
       ON record.scope_hash = :scope AND NOT EXISTS (SELECT 1 FROM claimed)
"""
# Only for a key whose record has expired: take the row over, unless someone already did.
_PG_TAKE_OVER_EXPIRED = """ON CONFLICT (scope_hash) DO UPDATE SET
    caller = excluded.caller, fingerprint = excluded.fingerprint, status_code = NULL,
    headers = NULL, body = NULL, expires_at = excluded.expires_at
WHERE {table}.expires_at <= now()"""


@functools.cache
def statements_for(records: Table) -> Statements:
    lookup_columns = (
        records.c.id,
        records.c.fingerprint,
        records.c.status_code,
        records.c.headers,
        records.c.body,
        (records.c.expires_at <= db_now_plus(0)).label("expired"),
    )
    response_values = dict(
        status_code=bindparam("status_code"),
        headers=bindparam("headers"),
        body=bindparam("body"),
        expires_at=db_now_plus(bindparam("ttl")),
    )
    record_values = dict(
        caller=bindparam("caller"), fingerprint=bindparam("fingerprint"), **response_values
    )
    by_id = records.c.id == bindparam("row_id")
    head = _PG_CLAIM_HEAD.format(table=records.name)
    return Statements(
        lookup=select(*lookup_columns).where(records.c.scope_hash == bindparam("scope")),
        insert_record=insert(records).values(scope_hash=bindparam("scope"), **record_values),
        replace_record=update(records).where(by_id).values(**record_values),
        fill_claimed=update(records).where(by_id).values(**response_values),
        pg_claim_new=text(head + "ON CONFLICT (scope_hash) DO NOTHING" + _PG_CLAIM_TAIL),
        pg_claim_or_read=text(_PG_CLAIM_OR_READ.format(table=records.name)),
        pg_claim_expired=text(
            head + _PG_TAKE_OVER_EXPIRED.format(table=records.name) + _PG_CLAIM_TAIL
        ),
    )


def _response_values(stored: StoredResponse, ttl_seconds: int) -> dict[str, Any]:
    return {
        "status_code": stored.status_code,
        "headers": json.dumps(stored.headers),
        "body": stored.body,
        "ttl": ttl_seconds,
    }


def _found(row: Any, fingerprint: str) -> Claim:
    if row is None:
        return Claim()
    if row.expired:
        return Claim(row_id=row.id)
    return _answer(row, fingerprint)


def scope_in_sql(caller: ColumnElement) -> ColumnElement:
    """PostgreSQL's twin of ``scope_hash`` for a ``PLAIN_CALLER``; binds ``scope_tail``."""
    hashed = (
        literal_column("'[\"'")
        .concat(caller)
        .concat(literal_column("'\",'"))
        .concat(bindparam("scope_tail"))
    )
    return func.encode(
        func.sha256(func.convert_to(hashed, literal_column("'UTF8'"))), literal_column("'hex'")
    )


def record_of_caller(records: Table, caller: ColumnElement) -> tuple[Any, list[Any]]:
    """PostgreSQL: how to outer-join ``records`` to a row holding the caller, on the record the
    caller's request names, and that record's columns; binds ``scope_tail``.

    A query that reads the caller's row anyway (authentication) then answers a replay in the
    same round trip. Whoever uses the row compares its ``record_scope`` with the scope
    computed in Python, so a mismatch could only cost the shortcut, never a wrong answer.
    """
    onclause = and_(caller.regexp_match(PLAIN_CALLER), records.c.scope_hash == scope_in_sql(caller))
    columns = [
        records.c.scope_hash.label("record_scope"),
        records.c.fingerprint.label("record_fingerprint"),
        records.c.status_code.label("record_status_code"),
        records.c.headers.label("record_headers"),
        records.c.body.label("record_body"),
        (records.c.expires_at <= db_now_plus(0)).label("record_expired"),
    ]
    return onclause, columns


class _RecordAnswer(NamedTuple):
    """The columns ``_answer`` reads, taken from a joined row's labels."""

    fingerprint: str
    status_code: int
    headers: str | None
    body: bytes | None


@dataclass(frozen=True, slots=True)
class JoinedRecord:
    """A committed, complete record read through ``record_of_caller``'s columns."""

    scope: str
    expired: bool
    record: _RecordAnswer

    @classmethod
    def of(cls, row: Any) -> JoinedRecord | None:
        """None when the row joined no record, or one never filled in."""
        if row is None or row.record_scope is None or row.record_status_code is None:
            return None
        record = _RecordAnswer(
            row.record_fingerprint, row.record_status_code, row.record_headers, row.record_body
        )
        return cls(row.record_scope, bool(row.record_expired), record)

    def claim(self, fingerprint: str) -> Claim:
        """The answer for a request of this scope and ``fingerprint``: a replay or a conflict."""
        return _answer(self.record, fingerprint)


class SQLiteStore:
    """The request holds SQLite's write lock: read the record, write it after the view."""

    def __init__(self, statements: Statements) -> None:
        self.sql = statements

    def claim_unlocked(self, scope: str, fingerprint: str) -> Claim:
        """The lookup before the write lock (``read_row``: outside any transaction)."""
        return _found(read_row(self.sql.lookup, {"scope": scope}), fingerprint)

    def claim(
        self, session: Connection | Session, scope: str, caller: str, fingerprint: str
    ) -> Claim:
        """The lookup in the write transaction (its connection, or the Session itself)."""
        row = session.execute(self.sql.lookup, {"scope": scope}).one_or_none()
        return _found(row, fingerprint)

    def save(self, session, claim, scope, caller, fingerprint, stored, ttl_seconds) -> None:
        values = {
            "caller": caller,
            "fingerprint": fingerprint,
            **_response_values(stored, ttl_seconds),
        }
        # On the session's connection: a Core statement needs none of the ORM's execute path.
        connection = session.connection()
        if claim.row_id is None:
            write_row(connection, self.sql.insert_record, {"scope": scope, **values})
        else:
            write_row(connection, self.sql.replace_record, {"row_id": claim.row_id, **values})


class PostgresStore:
    """Claim first (a concurrent duplicate waits on the unique index), fill in after the view."""

    def __init__(self, statements: Statements, lock_timeout_ms: int) -> None:
        self.sql = statements
        self.lock_timeout_ms = lock_timeout_ms

    def claim(
        self, session: Connection | Session, scope: str, caller: str, fingerprint: str
    ) -> Claim:
        """In the request's transaction (its connection, or the Session itself)."""
        parameters = {
            "lock_timeout": f"{int(self.lock_timeout_ms)}ms",
            "scope": scope,
            "caller": caller,
            "fingerprint": fingerprint,
        }
        row = self._run(session, self.sql.pg_claim_or_read, parameters).one()
        if row.claimed_id is not None:
            return Claim(row_id=row.claimed_id)
        if row.id is None:
            # The claim waited for a duplicate that committed: read its record now.
            row = session.execute(self.sql.lookup, {"scope": scope}).one_or_none()
            if row is None:  # and a purge removed it since: claim it afresh
                return self.claim(session, scope, caller, fingerprint)
        if not row.expired:
            return _answer(row, fingerprint)
        claimed = self._claim(session, self.sql.pg_claim_expired, parameters)
        if claimed is not None:
            return claimed
        # Another request replaced the expired record first and committed: answer from it.
        return _answer(session.execute(self.sql.lookup, {"scope": scope}).one(), fingerprint)

    @staticmethod
    def _run(session: Connection | Session, statement: Any, parameters: dict[str, Any]) -> Any:
        try:
            return session.execute(statement, parameters)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise ClaimTimeout() from None
            raise

    def _claim(
        self, session: Connection | Session, statement: Any, parameters: dict[str, Any]
    ) -> Claim | None:
        row = self._run(session, statement, parameters).first()
        return None if row is None else Claim(row_id=row.id)

    def save(self, session, claim, scope, caller, fingerprint, stored, ttl_seconds) -> None:
        values = _response_values(stored, ttl_seconds)
        session.connection().execute(self.sql.fill_claimed, {"row_id": claim.row_id, **values})


def store_for(dialect: str, records: Table, lock_timeout_ms: int) -> SQLiteStore | PostgresStore:
    """The strategy for the database ``dialect`` (its name: ``sqlite`` or ``postgresql``)."""
    if dialect == "sqlite":
        return SQLiteStore(statements_for(records))
    if dialect == "postgresql":
        return PostgresStore(statements_for(records), lock_timeout_ms)
    raise RuntimeError(f"idempotency records are not supported on {dialect}")


# SQLite (bench/records.py). A writer waiting for the lock does not queue: its busy handler
# sleeps and retries (1, 2, 5, 10, 15, 20, 25, 25, 25 ms, then longer). So a purge batch is
# small (it holds the lock a few ms) and is followed by a pause longer than those sleeps, in
# which every waiting writer takes the lock. The purge itself waits for the lock by retrying
# every few ms (a busy timeout of SQLITE_PURGE_RETRY_MS): with the handler's longer sleeps
# it would rarely find the lock free between one request and the next.
SQLITE_PURGE_BATCH_SIZE = 400
SQLITE_PURGE_PAUSE_SECONDS = 0.03
SQLITE_PURGE_RETRY_MS = 10
# Below the 1000 WAL pages at which a request's commit would run the checkpoint.
SQLITE_PURGE_CHECKPOINT_PAGES = 500
PURGE_BATCH_SIZE = 1000


def purge_expired(batch_size: int | None = None, pause_seconds: float | None = None) -> int:
    """Delete expired records in batches through the ``expires_at`` index; each batch commits.

    One statement per batch deletes the oldest expired ids and checks expiry again on the row
    it deletes: on PostgreSQL a retry may have replaced (reused) a record after the subquery
    read it, and the re-check on that newer row keeps it. A batch that removes fewer than
    ``batch_size`` ends the run. SQLite: see above and ``_purge_pragmas``. PostgreSQL's
    deletes block no other request: no pause.
    """
    records = current_records()
    engine = current_session()().get_bind()
    sqlite = engine.dialect.name == "sqlite"
    if batch_size is None:
        batch_size = SQLITE_PURGE_BATCH_SIZE if sqlite else PURGE_BATCH_SIZE
    if pause_seconds is None:
        pause_seconds = SQLITE_PURGE_PAUSE_SECONDS if sqlite else 0.0
    expired = records.c.expires_at <= db_now_plus(0)
    oldest = select(records.c.id).where(expired).order_by(records.c.expires_at).limit(batch_size)
    purge = delete(records).where(records.c.id.in_(oldest), expired)
    removed = 0
    with engine.connect() as connection:
        # SQLite: no BEGIN from the engine's hook; _take_write_lock sends BEGIN IMMEDIATE.
        connection.execution_options(**{WRITE_OPTION: True, DEFERRED_OPTION: sqlite})
        # Pragmas go to the driver outside any transaction (SQLite refuses some inside one).
        driver = connection.connection.dbapi_connection if sqlite else None
        restore = _purge_pragmas(driver) if driver is not None else {}
        try:
            while True:
                with connection.begin():
                    if driver is not None:
                        _take_write_lock(connection, restore["busy_timeout"] / 1000)
                    deleted = connection.execute(purge).rowcount
                removed += deleted
                if deleted < batch_size:
                    return removed
                time.sleep(pause_seconds)
        finally:
            if not connection.invalidated:
                for name, value in restore.items():
                    driver.execute(f"PRAGMA {name} = {int(value)}").close()


def _purge_pragmas(driver: Any) -> dict[str, int]:
    """Set the purge's own SQLite connection up; returns the values to restore after it.

    ``synchronous`` NORMAL (or the engine's laxer level): no fsync while the purge holds the
    lock; a batch lost to a power cut is simply purged again (requests' FULL commits still
    sync the WAL, theirs included). A lower ``wal_autocheckpoint``: the purge's own commits
    checkpoint the WAL, after releasing the lock, before a request's commit would have to.
    """
    previous = {}
    for name, value in (
        ("synchronous", 1),
        ("wal_autocheckpoint", SQLITE_PURGE_CHECKPOINT_PAGES),
        ("busy_timeout", SQLITE_PURGE_RETRY_MS),
    ):
        cursor = driver.execute(f"PRAGMA {name}")
        (previous[name],) = cursor.fetchone()
        cursor.close()
        driver.execute(f"PRAGMA {name} = {min(previous[name], value)}").close()
    return previous


def _take_write_lock(connection: Any, patience_seconds: float) -> None:
    """BEGIN IMMEDIATE, retried until the engine's own busy timeout has passed."""
    give_up = time.monotonic() + patience_seconds
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as error:
            if "locked" not in str(error.orig) or time.monotonic() >= give_up:
                raise
