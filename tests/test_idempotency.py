"""The idempotency table of API.md section 4 on the support-ticket endpoints, expiry and purge."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import pytest
from commit_hook import HOOK
from sqlalchemy import event, func, select, text, update

from league_api import create_app
from league_api.api import tickets as tickets_api
from league_api.db import db
from league_api.errors import InvalidRequest, ServiceUnavailable
from league_api.idempotency import IdempotencyRecord
from league_api.idempotency.store import db_now_plus, purge_expired
from league_api.models import SupportTicket, TicketMessage

BACKEND = "postgresql" if os.environ.get("LEAGUE_API_TEST_DATABASE_URL") else "sqlite"
TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
RECORDS = IdempotencyRecord.__table__


def count(app, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def record_rows(app) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.execute(select(RECORDS).order_by(RECORDS.c.id)).all()
        return [dict(row._mapping) for row in rows]


def expire_all_records(app, seconds_ago: int = 60) -> None:
    """Move every record's expiry into the past, as if the retention period had passed."""
    with app.app_context():
        db.session.execute(update(RECORDS).values(expires_at=db_now_plus(-seconds_ago)))
        db.session.commit()


def is_expired(app) -> list[bool]:
    with app.app_context():
        query = select(RECORDS.c.expires_at <= db_now_plus(0)).order_by(RECORDS.c.id)
        return [bool(value) for value in db.session.scalars(query)]


def new_ticket(api, who: str = "alice") -> str:
    return api.post("/tickets", who, TICKET).get_json()["ticketId"]


# -- the table of section 4 ---------------------------------------------------------------------


def test_no_header_processes_normally_and_stores_nothing(api, app):
    first = api.post("/tickets", "alice", TICKET)
    second = api.post("/tickets", "alice", TICKET)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["ticketId"] != second.get_json()["ticketId"]
    assert "Idempotent-Replayed" not in second.headers
    assert count(app, SupportTicket) == 2
    assert count(app, IdempotencyRecord) == 0


def test_invalid_key_runs_nothing(api, app):
    response = api.post("/tickets", "alice", TICKET, key="has space")
    assert (response.status_code, response.get_json()["error"]) == (
        400,
        "error_idempotency_key_invalid",
    )
    assert count(app, SupportTicket) == 0
    assert count(app, IdempotencyRecord) == 0


def test_first_request_is_processed_once_and_its_response_stored(api, app):
    response = api.post("/tickets", "alice", TICKET, key="first-1")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert count(app, SupportTicket) == 1
    [row] = record_rows(app)
    assert row["status_code"] == 201
    assert row["body"] == response.data
    assert "first-1" not in row["scope_hash"]
    stored_headers = json.loads(row["headers"])
    assert stored_headers == {
        "Content-Type": response.headers["Content-Type"],
        "Location": response.headers["Location"],
    }
    assert is_expired(app) == [False]


def test_retry_replays_the_stored_response_without_side_effect(api, app):
    first = api.post("/tickets", "alice", TICKET, key="retry-1")
    replays = [api.post("/tickets", "alice", TICKET, key="retry-1") for _ in range(2)]
    for replay in replays:
        assert replay.status_code == first.status_code == 201
        assert replay.data == first.data
        assert replay.headers["Content-Type"] == first.headers["Content-Type"]
        assert replay.headers["Location"] == first.headers["Location"]
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert "Set-Cookie" not in replay.headers
    assert count(app, SupportTicket) == 1
    # The replay consumed nothing: the next ticket is number 2.
    assert api.post("/tickets", "alice", TICKET).get_json()["ticketNumber"] == 2


def test_replay_of_a_200_carries_no_location(api, app):
    ticket_id = new_ticket(api)
    path = f"/tickets/{ticket_id}/messages"
    first = api.post(path, "alice", {"content": "hello"}, key="msg-1")
    again = api.post(path, "alice", {"content": "hello"}, key="msg-1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.data == first.data and again.headers["Idempotent-Replayed"] == "true"
    assert "Location" not in first.headers and "Location" not in again.headers
    assert count(app, TicketMessage) == 1


def test_same_key_other_body_is_a_conflict_and_the_record_is_untouched(api, app):
    first = api.post("/tickets", "alice", TICKET, key="conflict-1")
    before = record_rows(app)
    other = {**TICKET, "subject": "Something else"}
    response = api.post("/tickets", "alice", other, key="conflict-1")
    assert (response.status_code, response.get_json()["error"]) == (
        409,
        "error_idempotency_key_conflict",
    )
    assert "Idempotent-Replayed" not in response.headers
    assert record_rows(app) == before
    assert count(app, SupportTicket) == 1
    # The original answer is still what a true retry gets.
    assert api.post("/tickets", "alice", TICKET, key="conflict-1").data == first.data


def test_same_key_after_expiry_is_a_new_operation_replacing_the_record(api, app):
    first = api.post("/tickets", "alice", TICKET, key="expiry-1")
    expire_all_records(app)
    again = api.post("/tickets", "alice", TICKET, key="expiry-1")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["ticketId"] != first.get_json()["ticketId"]
    assert count(app, SupportTicket) == 2
    [row] = record_rows(app)
    assert row["body"] == again.data
    assert is_expired(app) == [False]
    # The replacement is itself replayed from now on.
    third = api.post("/tickets", "alice", TICKET, key="expiry-1")
    assert third.data == again.data and third.headers["Idempotent-Replayed"] == "true"


def test_after_expiry_another_body_is_not_a_conflict(api, app):
    api.post("/tickets", "alice", TICKET, key="expiry-2")
    expire_all_records(app)
    other = {**TICKET, "subject": "Another subject"}
    response = api.post("/tickets", "alice", other, key="expiry-2")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert count(app, SupportTicket) == 2
    assert count(app, IdempotencyRecord) == 1


def test_zero_ttl_makes_every_retry_a_new_operation(api, app):
    app.config["IDEMPOTENCY_TTL_SECONDS"] = 0
    first = api.post("/tickets", "alice", TICKET, key="ttl-0")
    again = api.post("/tickets", "alice", TICKET, key="ttl-0")
    assert "Idempotent-Replayed" not in again.headers
    assert again.get_json()["ticketId"] != first.get_json()["ticketId"]
    assert count(app, IdempotencyRecord) == 1
    assert count(app, SupportTicket) == 2


def test_a_replay_never_extends_the_expiry(api, app):
    api.post("/tickets", "alice", TICKET, key="no-extend")
    # Shorten the remaining life, then replay: expires_at must not move.
    with app.app_context():
        db.session.execute(update(RECORDS).values(expires_at=db_now_plus(30)))
        db.session.commit()
    before = record_rows(app)
    assert api.post("/tickets", "alice", TICKET, key="no-extend").headers["Idempotent-Replayed"]
    assert record_rows(app) == before


# -- purge ------------------------------------------------------------------------------------


def _make_records(api, app, live: int, expired: int) -> None:
    for index in range(expired):
        api.post("/tickets", "alice", TICKET, key=f"old-{index}")
    expire_all_records(app)
    for index in range(live):
        api.post("/tickets", "alice", TICKET, key=f"live-{index}")


def test_purge_removes_only_expired_records_and_prints_the_count(api, app, runner):
    _make_records(api, app, live=2, expired=3)
    result = runner.invoke(args=["idempotency", "purge"])
    assert result.exit_code == 0, result.output
    assert "Removed 3 expired idempotency records." in result.stdout
    assert count(app, IdempotencyRecord) == 2
    assert is_expired(app) == [False, False]
    # Live records still replay.
    assert api.post("/tickets", "alice", TICKET, key="live-0").headers["Idempotent-Replayed"]
    again = runner.invoke(args=["idempotency", "purge"])
    assert "Removed 0 expired idempotency records." in again.stdout


def test_purge_works_in_batches(api, app, runner):
    _make_records(api, app, live=1, expired=5)
    deletes: list[str] = []

    def spy(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("DELETE FROM IDEMPOTENCY_RECORDS"):
            deletes.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", spy)
    try:
        result = runner.invoke(args=["idempotency", "purge", "--batch-size", "2"])
    finally:
        event.remove(engine, "before_cursor_execute", spy)
    assert result.exit_code == 0, result.output
    assert "Removed 5 expired idempotency records." in result.stdout
    assert len(deletes) == 3  # 2 + 2 + 1
    assert count(app, IdempotencyRecord) == 1


def test_purge_rejects_a_zero_batch_size(runner):
    result = runner.invoke(args=["idempotency", "purge", "--batch-size", "0"])
    assert result.exit_code != 0


def test_purge_goes_by_expiry_with_a_changed_ttl_and_a_reused_record(api, app, runner):
    """Id order is not expiry order: after the TTL is shortened, newer records expire before
    older ones, and an expired record reused by a retry keeps its old id with a new expiry.
    The purge removes exactly the expired records, one batch at a time."""
    for index in range(2):
        api.post("/tickets", "alice", TICKET, key=f"long-{index}")
    first_reused = api.post("/tickets", "alice", TICKET, key="reused")
    expire_all_records(app)
    app.config["IDEMPOTENCY_TTL_SECONDS"] = 60
    reused = api.post("/tickets", "alice", TICKET, key="reused")
    assert reused.status_code == 201 and reused.data != first_reused.data
    assert "Idempotent-Replayed" not in reused.headers
    with app.app_context():
        # Only the long-TTL records were expired above: give them back a day's TTL.
        long_ids = [row["id"] for row in record_rows(app)][:2]
        db.session.execute(
            update(RECORDS).where(RECORDS.c.id.in_(long_ids)).values(expires_at=db_now_plus(86400))
        )
        db.session.commit()
    for index in range(2):
        api.post("/tickets", "alice", TICKET, key=f"short-{index}")
    before = record_rows(app)
    reused_id = before[2]["id"]
    with app.app_context():
        # The short TTL has passed for the two newest records, not for the older ones.
        db.session.execute(
            update(RECORDS)
            .where(RECORDS.c.id.in_([row["id"] for row in before[3:]]))
            .values(expires_at=db_now_plus(-1))
        )
        db.session.commit()
    result = runner.invoke(args=["idempotency", "purge", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert "Removed 2 expired idempotency records." in result.stdout
    assert [row["id"] for row in record_rows(app)] == [row["id"] for row in before[:3]]
    assert is_expired(app) == [False, False, False]
    assert record_rows(app)[2]["id"] == reused_id
    replay = api.post("/tickets", "alice", TICKET, key="reused")
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.data == reused.data


# -- scope --------------------------------------------------------------------------------------


def test_same_key_by_two_api_keys_is_two_operations(api, app):
    by_alice = api.post("/tickets", "alice", TICKET, key="shared")
    by_bob = api.post("/tickets", "bob", TICKET, key="shared")
    assert (by_alice.status_code, by_bob.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in by_bob.headers
    assert by_bob.get_json()["ticketId"] != by_alice.get_json()["ticketId"]
    assert count(app, SupportTicket) == 2
    # Each key's retry gets its own answer, never the other's.
    assert api.post("/tickets", "bob", TICKET, key="shared").data == by_bob.data
    assert api.post("/tickets", "alice", TICKET, key="shared").data == by_alice.data
    bob_ids = {t["id"] for t in api.get("/tickets", "bob").get_json()["tickets"]}
    assert bob_ids == {by_bob.get_json()["ticketId"]}


def test_two_keys_of_the_same_user_do_not_share_records(api, app, runner):
    """The scope is the API key, not its owner: a second key of alice's is its own caller."""
    result = runner.invoke(
        args=[
            "keys",
            "create",
            "alice2",
            "--kind",
            "personal",
            "--owner",
            "alice",
            "--scope",
            "tickets.write=on",
        ]
    )
    assert result.exit_code == 0, result.output
    second_key = result.stdout.strip()
    first = api.post("/tickets", "alice", TICKET, key="per-key")
    other = api.post(
        "/tickets",
        json_body=TICKET,
        key="per-key",
        headers={"Authorization": f"Bearer {second_key}"},
    )
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert other.get_json()["ticketId"] != first.get_json()["ticketId"]


def test_same_key_on_two_paths_is_two_operations(api, app):
    ticket_a, ticket_b = new_ticket(api), new_ticket(api)
    on_a = api.post(f"/tickets/{ticket_a}/messages", "alice", {"content": "hi"}, key="k")
    on_b = api.post(f"/tickets/{ticket_b}/messages", "alice", {"content": "hi"}, key="k")
    assert (on_a.status_code, on_b.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in on_b.headers
    assert on_a.get_json()["messageId"] != on_b.get_json()["messageId"]
    assert count(app, TicketMessage) == 2
    # The same key on another endpoint altogether is a third operation.
    created = api.post(
        "/tickets", "alice", {"subject": "s", "description": "d", "category": "other"}, key="k"
    )
    assert created.status_code == 201 and "Idempotent-Replayed" not in created.headers


# -- fingerprint --------------------------------------------------------------------------------


def _raw(api, body: str | bytes, key: str, path: str = "/tickets"):
    data = body.encode("utf-8") if isinstance(body, str) else body
    return api.post(path, "alice", key=key, data=data, content_type="application/json")


def test_canonically_equal_bodies_replay(api, app):
    first = _raw(api, '{"subject":"Caf\\u00e9","description":"d","category":"other"}', "fp-1")
    assert first.status_code == 201
    same_bodies = [
        '{ "category" : "other",\n\t"description": "d",  "subject": "Café" }',
        '{"description":"d","subject":"Caf\\u00E9","category":"oth\\u0065r"}',
        '{"subject":"Caf\\u00e9","description":"d","category":"other"}\n',
    ]
    for body in same_bodies:
        again = _raw(api, body, "fp-1")
        assert again.headers.get("Idempotent-Replayed") == "true", body
        assert again.data == first.data
    assert count(app, SupportTicket) == 1


def test_number_spelling_does_not_matter(api, app):
    # An unknown field makes a 400 from the schema (step 7): it is stored like any other answer.
    first = _raw(api, '{"subject":"s","description":"d","category":"other","n":1}', "fp-num")
    assert (first.status_code, first.get_json()["error"]) == (400, "error_invalid_request")
    for spelling in ("1.0", "1e0", "10E-1", "1.000"):
        body = '{"subject":"s","description":"d","category":"other","n":' + spelling + "}"
        again = _raw(api, body, "fp-num")
        assert again.headers.get("Idempotent-Replayed") == "true", spelling
        assert again.data == first.data
    changed = _raw(api, '{"subject":"s","description":"d","category":"other","n":2}', "fp-num")
    assert changed.get_json()["error"] == "error_idempotency_key_conflict"


def test_a_changed_value_conflicts(api, app):
    api.post("/tickets", "alice", TICKET, key="fp-2")
    for change in ({"subject": "lag"}, {"category": "other"}, {"description": "The lobby lags "}):
        response = api.post("/tickets", "alice", {**TICKET, **change}, key="fp-2")
        assert response.get_json()["error"] == "error_idempotency_key_conflict", change
    assert count(app, SupportTicket) == 1


def test_a_changed_query_string_conflicts(api, app):
    first = api.post("/tickets?source=app", "alice", TICKET, key="fp-3")
    assert first.status_code == 201
    assert api.post("/tickets?source=app", "alice", TICKET, key="fp-3").data == first.data
    for query in ("?source=web", "", "?source=app&x=1"):
        response = api.post("/tickets" + query, "alice", TICKET, key="fp-3")
        assert response.get_json()["error"] == "error_idempotency_key_conflict", query
    assert count(app, SupportTicket) == 1


# -- what the view raises -----------------------------------------------------------------------


def _open_then_raise(error: BaseException):
    real_open = tickets_api.domain.open_ticket

    def open_ticket(*args: Any, **kwargs: Any):
        real_open(*args, **kwargs)
        raise error

    return open_ticket


def test_a_4xx_raised_after_writes_is_stored_and_replayed_with_writes_undone(api, app, monkeypatch):
    monkeypatch.setattr(
        tickets_api.domain,
        "open_ticket",
        _open_then_raise(InvalidRequest({"subject": ["a late rule"]})),
    )
    first = api.post("/tickets", "alice", TICKET, key="raise-4xx")
    assert (first.status_code, first.get_json()["error"]) == (400, "error_invalid_request")
    assert count(app, SupportTicket) == 0
    [row] = record_rows(app)
    assert row["status_code"] == 400 and row["body"] == first.data
    monkeypatch.undo()
    # The view would now succeed, but the stored 400 is what a retry gets.
    again = api.post("/tickets", "alice", TICKET, key="raise-4xx")
    assert again.status_code == 400 and again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Content-Type"] == "application/json"
    assert count(app, SupportTicket) == 0


def test_a_schema_400_is_stored_and_replayed(api, app):
    bad = {**TICKET, "category": "nonsense"}
    first = api.post("/tickets", "alice", bad, key="schema-400")
    assert (first.status_code, first.get_json()["error"]) == (400, "error_invalid_request")
    assert "category" in first.get_json()["details"]
    again = api.post("/tickets", "alice", bad, key="schema-400")
    assert again.data == first.data and again.headers["Idempotent-Replayed"] == "true"
    fixed = api.post("/tickets", "alice", TICKET, key="schema-400")
    assert fixed.get_json()["error"] == "error_idempotency_key_conflict"


@pytest.mark.parametrize(
    "error",
    [RuntimeError("boom"), ServiceUnavailable("database went away")],
    ids=["unexpected", "503"],
)
def test_a_5xx_stores_nothing_and_the_retry_runs_once(api, app, monkeypatch, error):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(tickets_api.domain, "open_ticket", _open_then_raise(error))
    failed = api.post("/tickets", "alice", TICKET, key="raise-5xx")
    assert failed.status_code >= 500
    assert failed.get_json()["error"] in {"error_internal", "error_service_unavailable"}
    assert "Traceback" not in failed.get_data(as_text=True)
    assert count(app, SupportTicket) == 0
    assert count(app, IdempotencyRecord) == 0
    monkeypatch.undo()
    retry = api.post("/tickets", "alice", TICKET, key="raise-5xx")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert count(app, SupportTicket) == 1
    assert api.post("/tickets", "alice", TICKET, key="raise-5xx").data == retry.data


# -- a duplicate while the first is still running -----------------------------------------------


class Hold:
    """A before-commit hook that parks the request keyed ``key`` until released."""

    def __init__(self, key: str, fail: bool = False) -> None:
        self.key, self.fail = key, fail
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, key: str) -> None:
        if key != self.key or self.reached.is_set():
            return
        self.reached.set()
        assert self.release.wait(timeout=30)
        if self.fail:
            raise RuntimeError("the first request failed after writing its record")


def in_thread(call) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["response"] = call()
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            result["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def hold_first(api, app, hold: Hold, body: dict[str, Any] = TICKET):
    """Start a keyed POST /tickets that stops inside its transaction, just before commit."""
    app.config[HOOK] = hold
    first = in_thread(lambda: api.post("/tickets", "alice", body, key=hold.key))
    assert hold.reached.wait(timeout=30)
    return first


def finish(thread_and_result) -> Any:
    thread, result = thread_and_result
    thread.join(timeout=30)
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    return result["response"]


def test_a_duplicate_past_the_bounded_wait_is_409_in_use_never_5xx(api, app):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    hold = Hold("busy")
    first = hold_first(api, app, hold)
    try:
        # Short waits for this test only: the duplicate gives up on the held key quickly.
        app.config["IDEMPOTENCY_LOCK_TIMEOUT_MS"] = 100
        with app.app_context():
            for engine in db.engines.values():
                if engine.dialect.name == "sqlite":
                    event.listen(engine, "connect", _short_busy_timeout)
                    engine.dispose()
        duplicate = api.post("/tickets", "alice", TICKET, key="busy")
        assert (duplicate.status_code, duplicate.get_json()["error"]) == (
            409,
            "error_idempotency_key_in_use",
        )
        assert duplicate.headers["Retry-After"].isdigit()
        conflicting = api.post("/tickets", "alice", {**TICKET, "subject": "x"}, key="busy")
        assert conflicting.status_code == 409
        unkeyed = api.post("/tickets", "alice", TICKET)
        if BACKEND == "sqlite":
            # The held request has the write lock: an unkeyed write is a 503, never a 500.
            assert (unkeyed.status_code, unkeyed.get_json()["error"]) == (
                503,
                "error_service_unavailable",
            )
            assert unkeyed.headers["Retry-After"].isdigit()
        else:
            assert unkeyed.status_code == 201  # PostgreSQL: no lock shared with the held key
    finally:
        hold.release.set()
    assert finish(first).status_code == 201
    replay = api.post("/tickets", "alice", TICKET, key="busy")
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert count(app, SupportTicket) == (1 if BACKEND == "sqlite" else 2)
    assert count(app, IdempotencyRecord) == 1


def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout = 100")


def test_replays_and_conflicts_are_answered_while_a_writer_holds_the_lock(api, app):
    """On SQLite a keyed retry reads its record before the write lock: it never queues."""
    stored = api.post("/tickets", "alice", TICKET, key="stored")
    first = hold_first(api, app, Hold("holder"))
    hold = app.config[HOOK]
    try:
        replay = api.post("/tickets", "alice", TICKET, key="stored")
        conflict = api.post("/tickets", "alice", {**TICKET, "subject": "x"}, key="stored")
        assert first[0].is_alive()  # the writer still holds its transaction
    finally:
        hold.release.set()
    assert finish(first).status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.data == stored.data
    assert conflict.get_json()["error"] == "error_idempotency_key_conflict"
    assert count(app, SupportTicket) == 2


def test_a_waiting_duplicate_gets_the_replay_or_the_conflict(api, app):
    hold = Hold("waited")
    first = hold_first(api, app, hold)
    same = in_thread(lambda: api.post("/tickets", "alice", TICKET, key="waited"))
    other = in_thread(
        lambda: api.post("/tickets", "alice", {**TICKET, "subject": "x"}, key="waited")
    )
    assert same[0].is_alive() and other[0].is_alive()
    hold.release.set()
    original = finish(first)
    assert original.status_code == 201
    replayed = finish(same)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.data == original.data
    assert finish(other).get_json()["error"] == "error_idempotency_key_conflict"
    assert count(app, SupportTicket) == 1


def test_a_duplicate_that_read_before_the_first_committed_gets_its_answer(api, app):
    """The duplicate reads no record, then the first commits: it is answered from that record.

    SQLite: the duplicate's lock-free read misses, it waits for the lock, runs the view and
    its record INSERT meets the unique index: everything it did is rolled back. PostgreSQL: its
    claim waits on the unique index, then reads the committed record.
    """
    first = hold_first(api, app, Hold("raced"))
    hold = app.config[HOOK]
    read, inserts = threading.Event(), []
    with app.app_context():
        engine = db.engine

    def on_read(_conn, _cursor, statement, *_args) -> None:
        text = " ".join(statement.split())
        if text.startswith(("SELECT", "WITH")) and RECORDS.name in text:
            read.set()

    def on_insert(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().startswith(f"INSERT INTO {RECORDS.name}"):
            inserts.append(statement)

    # SQLite: after the lock-free read ran; PostgreSQL: as its claim starts waiting.
    moment = "after_cursor_execute" if BACKEND == "sqlite" else "before_cursor_execute"
    event.listen(engine, moment, on_read)
    event.listen(engine, "before_cursor_execute", on_insert)
    try:
        duplicate = in_thread(lambda: api.post("/tickets", "alice", TICKET, key="raced"))
        assert read.wait(timeout=30)
        hold.release.set()
        original, replayed = finish(first), finish(duplicate)
    finally:
        hold.release.set()
        event.remove(engine, moment, on_read)
        event.remove(engine, "before_cursor_execute", on_insert)
    assert original.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.data == original.data
    assert count(app, SupportTicket) == 1 and count(app, IdempotencyRecord) == 1
    if BACKEND == "sqlite":
        assert len(inserts) == 1  # the duplicate's record INSERT: refused by the unique index


def test_when_the_first_fails_the_waiting_duplicate_runs_as_a_first_request(api, app):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    hold = Hold("fails", fail=True)
    first = hold_first(api, app, hold)
    duplicate = in_thread(lambda: api.post("/tickets", "alice", TICKET, key="fails"))
    hold.release.set()
    assert finish(first).status_code == 500
    response = finish(duplicate)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert count(app, SupportTicket) == 1
    [row] = record_rows(app)
    assert row["body"] == response.data


def test_the_ttl_comes_from_flask_environment_variables(database_url, monkeypatch):
    monkeypatch.setenv("FLASK_IDEMPOTENCY_TTL_SECONDS", "0")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    try:
        assert app.config["IDEMPOTENCY_TTL_SECONDS"] == 0
        result = app.test_cli_runner().invoke(args=["demo-seed"])
        assert result.exit_code == 0, result.output
        headers = {
            "Authorization": f"Bearer {json.loads(result.stdout)['keys']['alice']}",
            "Idempotency-Key": "env-ttl",
        }
        client = app.test_client()
        first = client.post("/api/v1/tickets", json=TICKET, headers=headers)
        again = client.post("/api/v1/tickets", json=TICKET, headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert "Idempotent-Replayed" not in again.headers
        assert again.get_json()["ticketId"] != first.get_json()["ticketId"]
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.backend("postgresql")
def test_purge_never_deletes_a_record_replaced_while_it_runs(api, app, runner):
    """A retry replaces an expired record just before the purge's DELETE runs: the fresh
    record must survive, or a later retry would run the operation a second time."""
    api.post("/tickets", "alice", TICKET, key="race")
    expire_all_records(app)
    replaced: dict[str, Any] = {}

    def replace_first(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("DELETE FROM IDEMPOTENCY_RECORDS"):
            if "thread" not in replaced:
                replaced["thread"] = in_thread(
                    lambda: api.post("/tickets", "alice", TICKET, key="race")
                )
                replaced["response"] = finish(replaced["thread"])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", replace_first)
    try:
        result = runner.invoke(args=["idempotency", "purge"])
    finally:
        event.remove(engine, "before_cursor_execute", replace_first)
    assert result.exit_code == 0, result.output
    fresh = replaced["response"]
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert "Removed 0 expired idempotency records." in result.stdout
    retry = api.post("/tickets", "alice", TICKET, key="race")
    assert retry.headers.get("Idempotent-Replayed") == "true" and retry.data == fresh.data
    assert count(app, SupportTicket) == 2


def _wait_for_a_waiting_purge(app, purging, timeout: float = 20.0) -> None:
    """Poll until the purge's DELETE waits on a row lock, or the purge has ended (bounded).

    The purge may also end first under a loaded run; the record's survival below is asserted
    either way.
    """
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        " AND query LIKE :delete"
    )
    deadline = time.monotonic() + timeout
    with app.app_context(), db.engine.connect() as connection:
        while time.monotonic() < deadline and purging[0].is_alive():
            waiting = connection.execute(query, {"delete": f"DELETE FROM {RECORDS.name}%"})
            if waiting.scalar_one():
                return
            # pg_stat_activity is a snapshot taken once per transaction: end it to poll afresh.
            connection.rollback()
            time.sleep(0.01)
    if purging[0].is_alive():
        raise AssertionError("the purge neither waited on the retry's row lock nor ended")


@pytest.mark.backend("postgresql")
def test_purge_keeps_a_record_a_retry_replaces_while_the_delete_waits(api, app):
    """The purge's DELETE has read the expired record and waits on the row lock of a retry that
    is replacing it; once the retry commits, the DELETE checks expiry again on the newer row and
    keeps it."""
    api.post("/tickets", "alice", TICKET, key="race")
    expire_all_records(app)
    hold = Hold("race")
    retry = hold_first(api, app, hold)

    def purge() -> int:
        with app.app_context():
            return purge_expired()

    try:
        purging = in_thread(purge)
        _wait_for_a_waiting_purge(app, purging)
    finally:
        hold.release.set()
    fresh = finish(retry)
    assert finish(purging) == 0
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    again = api.post("/tickets", "alice", TICKET, key="race")
    assert again.headers.get("Idempotent-Replayed") == "true" and again.data == fresh.data
    assert count(app, SupportTicket) == 2
