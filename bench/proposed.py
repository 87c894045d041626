"""A bench-only prototype of the store changes docs/BENCHMARK.md proposes, to size their gain.

Not part of league_api and not used outside the benchmark: an app built with
``BENCH_PROPOSED_STORE=True`` gets these stores instead of the real ones (``install()`` wraps
the decorator's ``store_for``). The real stores stay the reference for behaviour; this one is
only exercised on the four benchmark paths (first, replay, conflict; an expired record falls
back to the real claim).

* both databases: statements built once at import, with bind parameters, so SQLAlchemy does
  not regenerate their cache keys on every request;
* PostgreSQL: the claim first, as ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` with the
  lock timeout set in a materialized CTE of the same statement and reset in its RETURNING
  (one round trip instead of four for a first request); a replay or conflict then reads the
  record (two round trips instead of one: the failed claim writes and locks nothing).
"""

from __future__ import annotations

import json

from flask import current_app
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

import league_api.idempotency.decorator as decorator
from league_api.idempotency.store import (
    _LOOKUP_COLUMNS,
    Claim,
    ClaimTimeout,
    PostgresStore,
    SQLiteStore,
    _answer,
    db_now_plus,
    records,
)

FLAG = "BENCH_PROPOSED_STORE"
LOOKUP = select(*_LOOKUP_COLUMNS).where(records.c.scope_hash == bindparam("scope"))
SAVED_VALUES = dict(
    caller=bindparam("caller"),
    fingerprint=bindparam("fingerprint"),
    status_code=bindparam("status_code"),
    headers=bindparam("headers"),
    body=bindparam("body"),
    expires_at=db_now_plus(bindparam("ttl")),
)
INSERT_RECORD = insert(records).values(scope_hash=bindparam("scope"), **SAVED_VALUES)
UPDATE_RECORD = update(records).where(records.c.id == bindparam("row_id")).values(**SAVED_VALUES)
FILL_CLAIMED = (
    update(records)
    .where(records.c.id == bindparam("row_id"))
    .values(
        status_code=bindparam("status_code"),
        headers=bindparam("headers"),
        body=bindparam("body"),
        expires_at=db_now_plus(bindparam("ttl")),
    )
)
CLAIM = text(
    "WITH bench_lock_timeout AS MATERIALIZED "
    "(SELECT set_config('lock_timeout', :lock_timeout, true)) "
    "INSERT INTO idempotency_records (scope_hash, caller, fingerprint, expires_at) "
    "SELECT :scope, :caller, :fingerprint, now() FROM bench_lock_timeout "
    "ON CONFLICT (scope_hash) DO NOTHING "
    "RETURNING id, set_config('lock_timeout', '0', true)"
)


def _saved(stored, caller: str, fingerprint: str, ttl_seconds: int) -> dict:
    return {
        "caller": caller,
        "fingerprint": fingerprint,
        "status_code": stored.status_code,
        "headers": json.dumps(stored.headers),
        "body": stored.body,
        "ttl": ttl_seconds,
    }


class ProposedSQLiteStore(SQLiteStore):
    def claim(self, session: Session, scope: str, caller: str, fingerprint: str) -> Claim:
        row = session.execute(LOOKUP, {"scope": scope}).one_or_none()
        if row is None:
            return Claim()
        if row.expired:
            return Claim(row_id=row.id)
        return _answer(row, fingerprint)

    def save(self, session, claim, scope, caller, fingerprint, stored, ttl_seconds) -> None:
        values = _saved(stored, caller, fingerprint, ttl_seconds)
        if claim.row_id is None:
            session.execute(INSERT_RECORD, {"scope": scope, **values})
        else:
            session.execute(UPDATE_RECORD, {"row_id": claim.row_id, **values})


class ProposedPostgresStore(PostgresStore):
    def claim(self, session: Session, scope: str, caller: str, fingerprint: str) -> Claim:
        parameters = {
            "lock_timeout": f"{int(self.lock_timeout_ms)}ms",
            "scope": scope,
            "caller": caller,
            "fingerprint": fingerprint,
        }
        try:
            claimed = session.execute(CLAIM, parameters).first()
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise ClaimTimeout() from None
            raise
        if claimed is not None:
            return Claim(row_id=claimed.id)
        row = session.execute(LOOKUP, {"scope": scope}).one()
        if row.expired:
            return super().claim(session, scope, caller, fingerprint)
        return _answer(row, fingerprint)

    def save(self, session, claim, scope, caller, fingerprint, stored, ttl_seconds) -> None:
        values = _saved(stored, caller, fingerprint, ttl_seconds)
        del values["caller"], values["fingerprint"]
        session.execute(FILL_CLAIMED, {"row_id": claim.row_id, **values})


def install() -> None:
    """Route apps configured with ``BENCH_PROPOSED_STORE`` to the prototype stores."""
    real = decorator.store_for
    if getattr(real, "bench_proposed", False):
        return

    def store_for(session: Session, lock_timeout_ms: int):
        store = real(session, lock_timeout_ms)
        if not current_app.config.get(FLAG):
            return store
        if isinstance(store, PostgresStore):
            return ProposedPostgresStore(lock_timeout_ms)
        return ProposedSQLiteStore()

    store_for.bench_proposed = True  # type: ignore[attr-defined]
    decorator.store_for = store_for
