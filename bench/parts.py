"""Costs of single steps of the keyed path, to size the avoidable work the report names.

Each step runs inside one write transaction that is rolled back, alternating the variants
request by request; medians in microseconds.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable

from common import Backend, dispose, make_app, reset_database
from sqlalchemy import bindparam, func, insert, select

from league_api.db import begin_write, db
from league_api.idempotency.fingerprint import fingerprint
from league_api.idempotency.store import _LOOKUP_COLUMNS, db_now_plus, records

HEADERS = json.dumps({"Content-Type": "application/json", "Location": "/api/v1/tickets/x"})
BODY = b'{"success":true,"ticketId":"0123456789abcdef01234567","ticketNumber":1}\n'
PREBUILT_LOOKUP = select(*_LOOKUP_COLUMNS).where(records.c.scope_hash == bindparam("scope"))
PREBUILT_INSERT = insert(records).values(
    scope_hash=bindparam("scope"),
    caller=bindparam("caller"),
    fingerprint=bindparam("fp"),
    status_code=bindparam("status"),
    headers=bindparam("headers"),
    body=bindparam("body"),
    expires_at=db_now_plus(bindparam("ttl")),
)


def measure(backend: Backend, iterations: int, seed: int = 7) -> dict[str, float]:
    """Median microseconds of each step variant on ``backend`` (a fresh database)."""
    reset_database(backend)
    app = make_app(backend)
    rng = random.Random(seed)
    counter = iter(range(10**9))

    def lookup_built() -> None:
        scope = f"lookup-{next(counter)}"
        db.session.execute(
            select(*_LOOKUP_COLUMNS).where(records.c.scope_hash == scope)
        ).one_or_none()

    def lookup_prebuilt() -> None:
        db.session.execute(PREBUILT_LOOKUP, {"scope": f"lookup-{next(counter)}"}).one_or_none()

    def insert_built() -> None:
        # What SQLiteStore.save builds per request today.
        values = dict(
            caller="caller",
            fingerprint="f" * 64,
            status_code=201,
            headers=HEADERS,
            body=BODY,
            expires_at=db_now_plus(86400),
        )
        db.session.execute(insert(records).values(scope_hash=f"ins-{next(counter)}", **values))

    def insert_prebuilt() -> None:
        db.session.execute(
            PREBUILT_INSERT,
            {
                "scope": f"ins-{next(counter)}",
                "caller": "caller",
                "fp": "f" * 64,
                "status": 201,
                "headers": HEADERS,
                "body": BODY,
                "ttl": 86400,
            },
        )

    def set_config_round_trip() -> None:
        db.session.execute(select(func.set_config("lock_timeout", "0", True)))

    def fingerprint_body() -> None:
        fingerprint({"subject": "Lag", "description": "The lobby lags", "category": "x"}, b"")

    steps: dict[str, Callable[[], None]] = {
        "record lookup, statement built per request (today)": lookup_built,
        "record lookup, prebuilt statement with bindparam": lookup_prebuilt,
        "record INSERT, statement built per request (today)": insert_built,
        "record INSERT, prebuilt statement with bindparam": insert_prebuilt,
        "request fingerprint (RFC 8785 + SHA-256)": fingerprint_body,
    }
    if backend.is_postgres:
        steps["one set_config(lock_timeout) round trip"] = set_config_round_trip
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
