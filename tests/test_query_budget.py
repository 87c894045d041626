"""The keyed path's SQL budget, counted statement by statement against the unkeyed baseline.

The idempotency layer promises one indexed read plus one write inside the request's own
transaction: no extra commit, no extra query. These tests count what actually reaches the
database (``before_cursor_execute``, plus the engine's commit/rollback events) for
``POST /tickets`` and compare each keyed request kind with the same request sent without a key.
Deterministic: nothing here is timed (speed is measured in bench/).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from league_api.db import db

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
RECORDS = "idempotency_records"


def statement_kind(statement: str) -> str:
    """A short, stable label: verb plus table (or function), e.g. ``SELECT api_keys``."""
    text = " ".join(statement.split())
    verb = text.split(" ", 1)[0].upper()
    if verb == "SELECT":
        table = re.search(r"\bFROM (\w+)", text)
        if table:
            return f"SELECT {table.group(1)}"
        function = re.match(r"SELECT (\w+)\(", text)
        return f"SELECT {function.group(1)}()" if function else "SELECT"
    if verb in {"INSERT", "WITH"}:  # WITH: PostgreSQL's claim sets its lock timeout in a CTE
        table = re.search(r"INSERT INTO (\w+)", text)
        suffix = " ON CONFLICT" if " ON CONFLICT " in text else ""
        return f"INSERT {table.group(1) if table else '?'}{suffix}"
    if verb in {"UPDATE", "DELETE"}:
        table = re.match(r"(?:UPDATE|DELETE FROM) (\w+)", text)
        return f"{verb} {table.group(1) if table else '?'}"
    if verb == "RELEASE":
        return "RELEASE SAVEPOINT"
    if verb == "ROLLBACK":
        return "ROLLBACK TO SAVEPOINT" if " TO " in text.upper() else "ROLLBACK"
    if verb == "BEGIN":
        return text.upper()
    return verb


class StatementLog:
    """Every statement and transaction end the app's engine sees, as kinds."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.raw: list[tuple[str, Any]] = []

    def clear(self) -> None:
        self.kinds.clear()
        self.raw.clear()

    def on_execute(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        self.kinds.append(statement_kind(statement))
        self.raw.append((statement, parameters))

    def on_commit(self, _conn) -> None:
        self.kinds.append("COMMIT")

    def on_rollback(self, _conn) -> None:
        self.kinds.append("ROLLBACK")


@pytest.fixture
def statements(app) -> Iterator[StatementLog]:
    log = StatementLog()
    with app.app_context():
        engine = db.engine
    hooks = [
        ("before_cursor_execute", log.on_execute),
        ("commit", log.on_commit),
        ("rollback", log.on_rollback),
    ]
    for name, hook in hooks:
        event.listen(engine, name, hook)
    yield log
    for name, hook in hooks:
        event.remove(engine, name, hook)


@pytest.fixture
def dialect(app) -> str:
    with app.app_context():
        return db.engine.dialect.name


def send(api, statements: StatementLog, key: str | None = None, body: Any = None):
    """One ticket creation; returns (response, the statement kinds it caused)."""
    statements.clear()
    response = api.post("/tickets", "alice", body or TICKET, key=key)
    return response, list(statements.kinds)


# Authentication reads before the write lock (API.md 3); then SQLite takes the lock with
# BEGIN IMMEDIATE on the same connection, before the view's first read. PostgreSQL needs none.
PREFIX = {
    "sqlite": ["SELECT api_keys", "BEGIN IMMEDIATE"],
    "postgresql": ["SELECT api_keys"],
}


def split_baseline(kinds: list[str], dialect: str) -> tuple[list[str], list[str]]:
    """Cut an unkeyed request into (authentication + write start, the view's work)."""
    assert kinds[-1] == "COMMIT" and kinds.count("COMMIT") == 1, kinds
    prefix = PREFIX[dialect]
    assert kinds[: len(prefix)] == prefix, kinds
    return prefix, kinds[len(prefix) : -1]


# A keyed request authenticates without any lock; the layer then decides (store.py and
# decorator.py document both strategies).
AUTH = ["SELECT api_keys"]
CLAIM = {
    # The record is read without SQLite's write lock; none found, the lock is taken (a
    # duplicate that committed in between meets the unique index when the record is saved).
    "sqlite": [f"SELECT {RECORDS}", "BEGIN IMMEDIATE"],
    # The claim itself, its lock timeout set and restored inside the same statement.
    "postgresql": [f"INSERT {RECORDS} ON CONFLICT"],
}
# A replay or a conflict. SQLite: the lock-free read answers (no BEGIN IMMEDIATE), on a
# connection outside any transaction: nothing to end. PostgreSQL: authentication's own
# statement joined the key's committed record (``record_of_caller``): nothing more.
REPLAY = {
    "sqlite": [f"SELECT {RECORDS}"],
    "postgresql": [],
}
SAVE = {"sqlite": [f"INSERT {RECORDS}"], "postgresql": [f"UPDATE {RECORDS}"]}
# Around the view: no savepoint on either database. The view (after PostgreSQL's claim) is all
# the transaction holds; a 4xx raised after a statement rolls it all back and claims again.
VIEW_SAVEPOINT = {"sqlite": ([], []), "postgresql": ([], [])}
# Statements (with transaction ends) per request kind before issue 11: never more than these.
CEILING = {
    "sqlite": {"unkeyed": 7, "first": 11, "replay": 4, "4xx": 5},
    "postgresql": {"unkeyed": 6, "first": 10, "replay": 4, "4xx": 4},
}


@pytest.fixture
def baseline(api, statements, dialect) -> tuple[list[str], list[str]]:
    send(api, statements)  # warm-up: first use of each statement and connection
    response, kinds = send(api, statements)
    assert response.status_code == 201
    return split_baseline(kinds, dialect)


# The view's statements today: the ticket, then its outbox event, whose INSERT also answers
# whether any subscription is live (none here: the commit reads no subscriptions).
VIEW = ["INSERT support_tickets", "INSERT webhook_events"]


def test_unkeyed_request_is_one_transaction_with_one_commit(baseline, dialect):
    prefix, view = baseline
    assert len(prefix + view) + 1 <= CEILING[dialect]["unkeyed"]
    assert view == VIEW
    # The ticket number comes from the INSERT itself (RETURNING), not a statement of its own.
    assert view[0] == "INSERT support_tickets", view
    assert prefix[0] == "SELECT api_keys"  # authentication before the write lock
    assert not any(RECORDS in kind for kind in prefix + view)
    assert "INSERT support_tickets" in view
    # One write begin only, before the view's first read; no statement of its own for auth.
    assert (prefix + view).count("BEGIN IMMEDIATE") == (1 if dialect == "sqlite" else 0)
    assert "BEGIN" not in prefix + view and "ROLLBACK" not in view


def test_first_keyed_request_adds_one_read_and_one_write(api, statements, baseline, dialect):
    prefix, view = baseline
    response, kinds = send(api, statements, key="budget-first")
    assert response.status_code == 201
    opened, released = VIEW_SAVEPOINT[dialect]
    expected = AUTH + CLAIM[dialect] + opened + view + released + SAVE[dialect] + ["COMMIT"]
    assert kinds == expected
    assert len(kinds) <= CEILING[dialect]["first"]
    # The same transaction: no commit between the claim, the view and the record.
    assert kinds.count("COMMIT") == 1 and "ROLLBACK" not in kinds


def test_replay_reads_the_record_and_runs_nothing(api, statements, baseline, dialect):
    first, _ = send(api, statements, key="budget-replay")
    response, kinds = send(api, statements, key="budget-replay")
    assert response.status_code == 201 and response.headers["Idempotent-Replayed"] == "true"
    assert response.data == first.data
    # The record is read, then the transaction is released: no write lock, no commit.
    assert kinds == AUTH + REPLAY[dialect]
    assert len(kinds) <= CEILING[dialect]["replay"]


def test_conflict_reads_the_record_and_runs_nothing(api, statements, baseline, dialect):
    send(api, statements, key="budget-conflict")
    response, kinds = send(api, statements, key="budget-conflict", body={**TICKET, "subject": "x"})
    assert response.status_code == 409
    assert response.get_json()["error"] == "error_idempotency_key_conflict"
    assert kinds == AUTH + REPLAY[dialect]


def test_view_4xx_stores_its_record_without_view_writes(api, statements, baseline, dialect):
    bad = {**TICKET, "category": "not-a-category"}
    response, kinds = send(api, statements, key="budget-4xx", body=bad)
    assert response.status_code == 400
    # The view failed validation before any SQL, so its savepoint was never needed.
    assert kinds == AUTH + CLAIM[dialect] + SAVE[dialect] + ["COMMIT"]
    assert len(kinds) <= CEILING[dialect]["4xx"]
    again, replay_kinds = send(api, statements, key="budget-4xx", body=bad)
    assert again.status_code == 400 and again.headers["Idempotent-Replayed"] == "true"
    assert replay_kinds == AUTH + REPLAY[dialect]


# A 4xx the view raises after a statement of its own. SQLite: nothing was written (its own
# count of changed rows says so), the 4xx is stored in the same transaction. PostgreSQL counts
# statements, not rows: the transaction and its claim are rolled back, and the key claimed again.
AFTER_A_READ = {
    "sqlite": ["SELECT support_tickets"],
    "postgresql": ["SELECT support_tickets", "ROLLBACK", f"INSERT {RECORDS} ON CONFLICT"],
}


def test_a_4xx_after_a_read_is_stored_and_replayed(api, statements, baseline, dialect):
    path = "/tickets/no-such-ticket/messages"
    statements.clear()
    response = api.post(path, "alice", {"content": "anyone?"}, key="budget-404")
    assert response.status_code == 404
    kinds = list(statements.kinds)
    assert kinds == AUTH + CLAIM[dialect] + AFTER_A_READ[dialect] + SAVE[dialect] + ["COMMIT"]
    # PostgreSQL's savepoint around the view sent as many: SAVEPOINT, the read, ROLLBACK TO.
    assert len(kinds) <= {"sqlite": 6, "postgresql": 7}[dialect]
    statements.clear()
    again = api.post(path, "alice", {"content": "anyone?"}, key="budget-404")
    assert again.status_code == 404 and again.headers["Idempotent-Replayed"] == "true"
    assert statements.kinds == AUTH + REPLAY[dialect]


def test_record_lookup_is_served_by_the_unique_index(app, api, statements, dialect):
    send(api, statements, key="budget-plan")
    send(api, statements, key="budget-plan")  # a replay reads the record on both databases
    lookups = [
        (sql, params)
        for sql, params in statements.raw
        if sql.lstrip().startswith(("SELECT", "WITH")) and RECORDS in sql
    ]
    assert lookups, statements.kinds
    sql, params = lookups[0]
    with app.app_context():
        connection = db.session.connection()
        if dialect == "sqlite":
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            detail = " ".join(str(row[-1]) for row in plan)
            assert "USING INDEX" in detail or "USING COVERING INDEX" in detail, detail
        else:
            # A tiny table is scanned sequentially when that is cheaper; forbid it to
            # prove an index can answer the lookup at all.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql("EXPLAIN " + sql, params).scalars().all()
            detail = " ".join(plan)
            assert "Index" in detail and "scope_hash" in detail, detail
        db.session.rollback()


@pytest.mark.parametrize(
    ("authorization", "status"),
    [("Bearer not-a-key", 401), (None, 401)],
    ids=["unknown key", "no key"],
)
def test_a_refused_write_opens_no_transaction(app, api, statements, authorization, status):
    """Authentication reads outside any transaction on both databases (SQLite: no lock;
    PostgreSQL: autocommit, one round trip): a refused write never begins or ends one."""
    began: list[Any] = []

    def on_begin(_conn) -> None:
        began.append(True)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "begin", on_begin)
    try:
        statements.clear()
        headers = {"Authorization": authorization} if authorization else {}
        response = api.client.post("/api/v1/tickets", json=TICKET, headers=headers)
    finally:
        event.remove(engine, "begin", on_begin)
    assert response.status_code == status
    expected = ["SELECT api_keys"] if authorization else []
    assert statements.kinds == expected and began == []


@pytest.mark.parametrize(
    "key",
    ['quote"d', "back\\slash", "~!@#$%^&*()_+`-={}|[]:;'<>?./", "x" * 255],
    ids=["quote", "backslash", "punctuation", "longest"],
)
def test_replay_of_any_key_costs_the_same_statements(api, statements, baseline, dialect, key):
    """PostgreSQL finds the record joined to the key's row by a scope it computes itself; keys
    that JSON escapes in the scope's text (API.md 2: visible ASCII) must find it too."""
    first, _ = send(api, statements, key=key)
    response, kinds = send(api, statements, key=key)
    assert response.headers["Idempotent-Replayed"] == "true" and response.data == first.data
    assert kinds == AUTH + REPLAY[dialect]
    conflict, kinds = send(api, statements, key=key, body={**TICKET, "subject": "other"})
    assert conflict.status_code == 409 and kinds == AUTH + REPLAY[dialect]
