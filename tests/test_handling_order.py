"""The order of API.md section 3: the first failing step answers, and steps 1-6 store nothing."""

from __future__ import annotations

import io
import json
import sqlite3
from typing import Any

import pytest
from conftest import error_of
from sqlalchemy import func, select

from league_api import create_app
from league_api.db import db
from league_api.idempotency import IdempotencyRecord
from league_api.models import SupportTicket

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
LIMIT = 1024 * 1024


def count(app, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def post_raw(api, path: str, body: bytes, content_type: str | None, **headers: str):
    """POST raw bytes; ``headers`` may carry Authorization and Idempotency-Key."""
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.client.post("/api/v1" + path, data=body, headers=headers)


def bearer(api, who: str) -> str:
    return f"Bearer {api.world['keys'][who]}"


def test_each_step_answers_before_the_next_and_none_is_stored(api, app):
    valid = json.dumps(TICKET).encode()
    big = b"x" * (LIMIT + 1)
    key = {"Idempotency-Key": "ladder-1"}
    bad_key = {"Idempotency-Key": "bad key"}

    # 1. Size, before anything else: no auth, a bad key and a wrong content type too.
    response = post_raw(api, "/tickets", big, "text/plain", **bad_key)
    assert error_of(response) == (413, "error_payload_too_large")
    # 2. Authentication before scope, key, and body.
    response = post_raw(api, "/tickets", b"not json", "text/plain", **bad_key)
    assert error_of(response) == (401, "error_api_key_required")
    auth = {"Authorization": bearer(api, "alice_readonly")}
    # 3. Scope before the key format.
    response = post_raw(api, "/tickets", b"not json", "text/plain", **auth, **bad_key)
    assert error_of(response) == (403, "error_api_key_permission_denied")
    response = post_raw(
        api, "/tickets", b"not json", "text/plain", Authorization=bearer(api, "game"), **bad_key
    )
    assert error_of(response) == (403, "error_api_key_permission_denied")
    auth = {"Authorization": bearer(api, "alice")}
    # 4. Key format before the body.
    response = post_raw(api, "/tickets", b"not json", "text/plain", **auth, **bad_key)
    assert error_of(response) == (400, "error_idempotency_key_invalid")
    # 5. Media type, then strict JSON, then a JSON object.
    response = post_raw(api, "/tickets", valid, "text/plain", **auth, **key)
    assert error_of(response) == (415, "error_unsupported_media_type")
    response = post_raw(api, "/tickets", b"{not json", "application/json", **auth, **key)
    assert error_of(response) == (400, "error_invalid_json")
    response = post_raw(api, "/tickets", b"[1, 2]", "application/json", **auth, **key)
    assert error_of(response) == (400, "error_invalid_request")
    # The same failures with the good key: each is answered at its step, nothing is kept.
    for body, content_type, who in (
        (big, "application/json", "alice"),
        (valid, "application/json", "alice_readonly"),
        (valid, "application/json", "game"),
    ):
        response = post_raw(
            api, "/tickets", body, content_type, Authorization=bearer(api, who), **key
        )
        assert response.status_code in (403, 413)
    assert count(app, IdempotencyRecord) == 0
    assert count(app, SupportTicket) == 0
    # 6-7. Finally a valid request with that same key runs: a first request, not a replay.
    response = post_raw(api, "/tickets", valid, "application/json", **auth, **key)
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert count(app, SupportTicket) == 1


def test_unauthenticated_keyed_failure_is_not_stored(api, app):
    response = api.post("/tickets", None, TICKET, key="no-auth")
    assert error_of(response) == (401, "error_api_key_required")
    assert count(app, IdempotencyRecord) == 0
    assert api.post("/tickets", "alice", TICKET, key="no-auth").status_code == 201


def test_a_body_of_exactly_the_limit_passes_the_size_step(api):
    body = b" " * (LIMIT - 2) + b"{}"
    response = post_raw(api, "/tickets", body, "application/json", Authorization="Nope")
    assert error_of(response) == (401, "error_api_key_required")


def _chunked(api, body: bytes, key: str):
    """A body without Content-Length, as a server passes a chunked upload on."""
    return api.client.post(
        "/api/v1/tickets",
        input_stream=io.BytesIO(body),
        headers={
            "Authorization": bearer(api, "alice"),
            "Idempotency-Key": key,
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_the_limit_is_413(api, app):
    body = json.dumps({**TICKET, "description": "x" * LIMIT}).encode()
    response = _chunked(api, body, "chunked-1")
    assert error_of(response) == (413, "error_payload_too_large")
    assert count(app, IdempotencyRecord) == 0
    small = _chunked(api, json.dumps(TICKET).encode(), "chunked-1")
    assert small.status_code == 201 and "Idempotent-Replayed" not in small.headers


def test_a_chunked_body_is_never_truncated_to_the_limit(api, app):
    """Valid JSON padded with white space: cut at the limit it would still parse."""
    ticket = json.dumps(TICKET).encode()
    for size in (LIMIT + 1, LIMIT + 4096):
        response = _chunked(api, ticket + b" " * (size - len(ticket)), f"pad-{size}")
        assert error_of(response) == (413, "error_payload_too_large"), size
    assert count(app, SupportTicket) == 0
    response = _chunked(api, ticket + b" " * (LIMIT - len(ticket)), "pad-exact")
    assert response.status_code == 201
    assert count(app, SupportTicket) == 1


def test_an_empty_body_is_an_empty_object_whatever_the_content_type(api):
    auth = {"Authorization": bearer(api, "alice")}
    for content_type in (
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json",
        "image/png",
    ):
        ticket_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
        # A non-Idem write whose body must be empty: {} passes.
        closed = post_raw(api, f"/tickets/{ticket_id}/close", b"", content_type, **auth)
        assert closed.status_code == 200, content_type
        # An Idem write: {} reaches the schema, which names the missing fields (not a 415).
        key = {"Idempotency-Key": f"empty-{content_type}".replace(" ", "")}
        response = post_raw(api, "/tickets", b"", content_type, **auth, **key)
        assert error_of(response) == (400, "error_invalid_request"), content_type
        assert set(response.get_json()["details"]) == {"subject", "description", "category"}


def test_json_and_plus_json_types_are_accepted(api):
    body = json.dumps(TICKET).encode()
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/vnd.league+json",
    ):
        response = post_raw(api, "/tickets", body, content_type, Authorization=bearer(api, "alice"))
        assert response.status_code == 201, content_type


def test_a_non_empty_body_of_another_type_is_415(api, app):
    body = json.dumps(TICKET).encode()
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded", "text/json"):
        response = post_raw(api, "/tickets", body, content_type, Authorization=bearer(api, "alice"))
        assert error_of(response) == (415, "error_unsupported_media_type"), content_type
    assert count(app, SupportTicket) == 0


def test_a_non_object_json_body_is_invalid_request(api, app):
    auth = {"Authorization": bearer(api, "alice"), "Idempotency-Key": "non-object"}
    for body in ("[]", '"text"', "1", "null", "true", '[{"subject": "s"}]'):
        response = post_raw(api, "/tickets", body.encode(), "application/json", **auth)
        assert error_of(response) == (400, "error_invalid_request"), body
    assert count(app, IdempotencyRecord) == 0


def test_get_and_head_ignore_the_header(api, app):
    ticket_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
    for path in ("/tickets", f"/tickets/{ticket_id}"):
        for key in ("bad key", "", "ok-key"):
            response = api.get(path, "alice", key=key)
            assert response.status_code == 200, (path, key)
            assert "Idempotent-Replayed" not in response.headers
        head = api.call("HEAD", path, "alice", key="bad key")
        assert head.status_code == 200
    assert count(app, IdempotencyRecord) == 0


def test_a_non_idem_endpoint_ignores_the_header_entirely(api, app):
    first_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
    second_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
    # Not validated: an invalid key does not stop the close.
    closed = api.post(f"/tickets/{first_id}/close", "alice", key="not a valid key")
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    # Not stored: the same valid key twice runs twice (the second finds it closed).
    assert api.post(f"/tickets/{second_id}/close", "alice", key="close-k").status_code == 200
    again = api.post(f"/tickets/{second_id}/close", "alice", key="close-k")
    assert error_of(again) == (409, "error_ticket_closed")
    assert "Idempotent-Replayed" not in again.headers
    assert count(app, IdempotencyRecord) == 0


@pytest.mark.backend("sqlite")
def test_options_never_takes_the_write_lock(database_url):
    """OPTIONS never touches idempotency: not even a wait for SQLite's write lock."""
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SQLITE_BUSY_TIMEOUT_MS": 100}
    )
    client = app.test_client()
    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        for path in ("/api/v1/tickets", "/api/v1/tickets/some-id/close"):
            for headers in ({}, {"Idempotency-Key": "k"}, {"Idempotency-Key": "not valid"}):
                response = client.options(path, headers=headers)
                assert response.status_code == 200, (path, headers, response.data)
                assert "POST" in response.headers["Allow"]
    finally:
        writer.rollback()
        writer.close()
        with app.app_context():
            db.engine.dispose()
