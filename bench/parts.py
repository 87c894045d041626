"""Single steps of the keyed path timed alone: today's store against the one it replaced.

Each step runs inside one write transaction that is rolled back, alternating the variants
request by request; medians in microseconds. The "before" variants copy what
``league_api/idempotency/store.py`` did before commit d86868f (statements built per request;
on PostgreSQL a lookup, then the claim between two ``set_config`` round trips); the "now"
variants call the statements the store uses today.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable

from common import Backend, dispose, make_app, reset_database
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from league_api.db import begin_write, db
from league_api.idempotency.fingerprint import fingerprint
from league_api.idempotency.model import record_model
from league_api.idempotency.store import db_now_plus, statements_for

records = record_model("").__table__
_STATEMENTS = statements_for(records)
LOOKUP = _STATEMENTS.lookup
INSERT_RECORD = _STATEMENTS.insert_record
PG_CLAIM_NEW = _STATEMENTS.pg_claim_new
_LOOKUP_COLUMNS = tuple(LOOKUP.selected_columns)

HEADERS = json.dumps({"Content-Type": "application/json", "Location": "/api/v1/tickets/x"})
BODY = b'{"success":true,"ticketId":"0123456789abcdef01234567","ticketNumber":1}\n'
BEFORE = "before d86868f"
NOW = "store.py now"


def measure(backend: Backend, iterations: int, seed: int = 7) -> dict[str, float]:
    """Median microseconds of each step variant on ``backend`` (a fresh database)."""
    reset_database(backend)
    app = make_app(backend)
    rng = random.Random(seed)
    counter = iter(range(10**9))

    def lookup_before() -> None:
        scope = f"lookup-{next(counter)}"
        db.session.execute(
            select(*_LOOKUP_COLUMNS).where(records.c.scope_hash == scope)
        ).one_or_none()

    def lookup_now() -> None:
        db.session.execute(LOOKUP, {"scope": f"lookup-{next(counter)}"}).one_or_none()

    def insert_before() -> None:
        values = dict(
            caller="caller",
            fingerprint="f" * 64,
            status_code=201,
            headers=HEADERS,
            body=BODY,
            expires_at=db_now_plus(86400),
        )
        db.session.execute(insert(records).values(scope_hash=f"ins-{next(counter)}", **values))

    def insert_now() -> None:
        parameters = {
            "scope": f"ins-{next(counter)}",
            "caller": "caller",
            "fingerprint": "f" * 64,
            "status_code": 201,
            "headers": HEADERS,
            "body": BODY,
            "ttl": 86400,
        }
        db.session.execute(INSERT_RECORD, parameters)

    def claim_before() -> None:
        # A fresh key: lookup, set_config, INSERT ... ON CONFLICT DO UPDATE, set_config.
        scope = f"claim-{next(counter)}"
        db.session.execute(
            select(*_LOOKUP_COLUMNS).where(records.c.scope_hash == scope)
        ).one_or_none()
        fresh = dict(caller="caller", fingerprint="f" * 64, expires_at=func.now())
        statement = pg_insert(records).values(scope_hash=scope, **fresh)
        statement = statement.on_conflict_do_update(
            index_elements=[records.c.scope_hash],
            set_={name: statement.excluded[name] for name in fresh},
            where=records.c.expires_at <= func.now(),
        ).returning(records.c.id)
        db.session.execute(select(func.set_config("lock_timeout", "5000ms", True)))
        db.session.execute(statement).scalar_one_or_none()
        db.session.execute(select(func.set_config("lock_timeout", "0", True)))

    def claim_now() -> None:
        parameters = {
            "lock_timeout": "5000ms",
            "scope": f"claim-{next(counter)}",
            "caller": "caller",
            "fingerprint": "f" * 64,
        }
        db.session.execute(PG_CLAIM_NEW, parameters).first()

    def round_trip() -> None:
        db.session.execute(select(func.set_config("lock_timeout", "0", True)))

    def fingerprint_body() -> None:
        fingerprint({"subject": "Lag", "description": "The lobby lags", "category": "x"}, b"")

    steps: dict[str, Callable[[], None]] = {
        f"record lookup, statement built per request ({BEFORE})": lookup_before,
        f"record lookup, prebuilt with bindparam ({NOW})": lookup_now,
        f"record INSERT, statement built per request ({BEFORE})": insert_before,
        f"record INSERT, prebuilt with bindparam ({NOW})": insert_now,
        "request fingerprint (RFC 8785 + SHA-256)": fingerprint_body,
    }
    if backend.is_postgres:
        steps[f"claim of a fresh key: 4 statements ({BEFORE})"] = claim_before
        steps[f"claim of a fresh key: 1 statement ({NOW})"] = claim_now
        steps["one round trip (SELECT set_config)"] = round_trip
    samples: dict[str, list[int]] = {name: [] for name in steps}
    names = list(steps)
    try:
        with app.app_context():
            begin_write()
            for name in names:  # warm-up: compile caches
                steps[name]()
            for _ in range(iterations):
                rng.shuffle(names)
                for name in names:
                    started = time.perf_counter_ns()
                    steps[name]()
                    samples[name].append(time.perf_counter_ns() - started)
            db.session.rollback()
    finally:
        dispose(app)
    return {name: statistics.median(values) / 1000 for name, values in samples.items()}
