"""Reads before the write transaction (authentication, the record lookup) answer the same
whether they run on the DBAPI cursor (nobody observes the engine) or through Core (someone
does: a listener sees every such statement); so do the writes sent straight to the driver."""

from __future__ import annotations

import gc

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from league_api.db import db
from league_api.idempotency import transactions

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


def _answers(api) -> list[tuple[int, bytes, str | None]]:
    """A keyed ticket, its replay, its conflict, a bad key and a GET: what each answers."""
    found = []
    for body, key, who in (
        (TICKET, "prelock", "alice"),
        (TICKET, "prelock", "alice"),
        ({**TICKET, "subject": "x"}, "prelock", "alice"),
    ):
        response = api.post("/tickets", who, body, key=key)
        found.append((response.status_code, response.headers.get("Idempotent-Replayed")))
    found.append((api.get("/tickets", "alice").status_code, None))
    bad = api.client.get("/api/v1/tickets", headers={"Authorization": "Bearer lk_nothing"})
    found.append((bad.status_code, None))
    return found


@pytest.mark.parametrize("observer", ["none", "engine", "connection class"])
def test_reads_answer_alike_observed_or_not(app, api, observer, monkeypatch):
    seen: list[str] = []
    direct: list[str] = []
    run = transactions._Prepared._run

    def spy(prepared, dbapi, values):
        direct.append(prepared.sql)
        return run(prepared, dbapi, values)

    monkeypatch.setattr(transactions._Prepared, "_run", spy)
    if observer == "none":
        # SQLAlchemy leaves the Connection class flagged once any class listener was added.
        monkeypatch.setattr(Connection, "_has_events", False)

    def on_execute(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    with app.app_context():
        target = db.engine if observer == "engine" else Connection
    if observer != "none":
        event.listen(target, "before_cursor_execute", on_execute)
    try:
        answers = _answers(api)
    finally:
        if observer != "none":
            event.remove(target, "before_cursor_execute", on_execute)
    assert answers == [(201, None), (201, "true"), (409, None), (200, None), (401, None)]
    # Unobserved, every key lookup went straight to the driver (both databases); observed, none.
    key_lookups = [sql for sql in direct if sql.startswith("SELECT api_keys.id")]
    assert len(key_lookups) == (5 if observer == "none" else 0), direct
    if observer != "none":
        # Every read is seen: three keyed requests, a GET and the refused key authenticate.
        assert sum(text.startswith("SELECT api_keys.id") for text in seen) == 5, seen
        assert sum("idempotency_records" in text for text in seen) >= 3, seen


@pytest.mark.backend("sqlite")
def test_a_duplicate_key_met_by_the_drivers_insert_is_answered_from_the_winner(
    app, api, monkeypatch
):
    """The record's INSERT goes straight to the driver when nobody observes the engine; a
    duplicate that committed after this request's lock-free read must still surface as
    SQLAlchemy's IntegrityError, so the request undoes its run and answers from the winner."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import IntegrityError

    from league_api.idempotency import store, transactions
    from league_api.idempotency.store import Claim
    from league_api.models import SupportTicket

    # SQLAlchemy leaves the Connection class flagged once any class listener was added (an
    # earlier test here adds one); none is left now, so nobody observes the engine.
    monkeypatch.setattr(Connection, "_has_events", False)
    first = api.post("/tickets", "alice", TICKET, key="driver-race")
    assert first.status_code == 201
    # This request's read missed the record: as if it ran just before the first committed.
    monkeypatch.setattr(store.SQLiteStore, "claim_unlocked", lambda *_args: Claim())
    raised: list[type[BaseException]] = []
    write = transactions._Prepared.write

    def spy_write(self, connection, parameters):
        assert not transactions._observed(connection.engine)  # the driver's path, not Core's
        try:
            return write(self, connection, parameters)
        except BaseException as error:
            raised.append(type(error))
            raise

    monkeypatch.setattr(transactions._Prepared, "write", spy_write)
    again = api.post("/tickets", "alice", TICKET, key="driver-race")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.data == first.data
    assert raised and issubclass(raised[0], IntegrityError)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SupportTicket)) == 1


@pytest.mark.backend("postgresql")
def test_a_pooled_connection_psycopg_knows_is_closed_is_replaced(app, api):
    """PostgreSQL's reads switch a raw pool connection to autocommit; one whose psycopg
    connection was closed while it sat in the pool is dropped and the request still answers."""
    assert api.post("/tickets", "alice", TICKET, key="dead-pooled").status_code == 201
    with app.app_context():
        pool = db.engine.pool
    idle = list(pool._pool.queue)
    assert idle, "the request returned its connections to the pool"
    for record in idle:
        record.dbapi_connection.close()
    replay = api.post("/tickets", "alice", TICKET, key="dead-pooled")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert api.get("/tickets", "alice").status_code == 200


@pytest.mark.backend("postgresql")
def test_a_read_connection_never_returns_to_the_pool_in_autocommit(app):
    """Even when its request never closes it (a teardown before ours raised), the connection
    the reads switched to autocommit is back in transactions when the pool takes it back."""
    with app.app_context():
        engine = db.engine
        reads = transactions._Reads(engine)
        assert reads.dbapi.driver_connection.autocommit
        del reads  # never closed
        gc.collect()
        idle = list(engine.pool._pool.queue)
    assert idle, "the collected connection went back to the pool"
    assert not any(record.dbapi_connection.autocommit for record in idle)
