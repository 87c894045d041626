"""API keys (API.md 1), the error shape (API.md 2), key format and strict JSON bodies."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update

from league_api import create_app
from league_api.db import db
from league_api.idempotency import IdempotencyRecord
from league_api.models import ApiKey, SupportTicket, utcnow

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
VISIBLE_ASCII = "".join(chr(code) for code in range(0x21, 0x7F))


def count(app, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def error_of(response) -> tuple[int, str]:
    body = response.get_json()
    assert set(body) == {"error", "details"}, body
    assert response.headers["Content-Type"] == "application/json"
    return response.status_code, body["error"]


def post_raw(api, body: bytes, key: str | None = None, content_type: str = "application/json"):
    headers = {"Authorization": f"Bearer {api.world['keys']['alice']}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return api.client.post("/api/v1/tickets", data=body, headers=headers, content_type=content_type)


# -- Idempotency-Key format --


INVALID_KEYS = {
    "empty": "",
    "256 characters": "x" * 256,
    "space": "a b",
    "leading space": " leading",
    "non-ASCII": "clé",
    "UTF-8 bytes as a WSGI server passes them (latin-1)": "caf\u00c3\u00a9",
    "tab": "tab\there",
    "control": "ctl\x01",
    "NUL": "nul\x00",
    "DEL": "del\x7f",
    "a repeated header as gunicorn and werkzeug join it": "k,k",
}


def test_invalid_keys_are_400_and_nothing_runs(api, app):
    for case, key in INVALID_KEYS.items():
        response = api.post("/tickets", "alice", TICKET, key=key)
        assert error_of(response) == (400, "error_idempotency_key_invalid"), case
    assert count(app, SupportTicket) == 0
    assert count(app, IdempotencyRecord) == 0


def test_a_repeated_header_is_invalid(api, app):
    headers = [
        ("Authorization", f"Bearer {api.world['keys']['alice']}"),
        ("Idempotency-Key", "same"),
        ("Idempotency-Key", "same"),
    ]
    response = api.client.post("/api/v1/tickets", json=TICKET, headers=headers)
    assert error_of(response) == (400, "error_idempotency_key_invalid")
    assert count(app, SupportTicket) == 0


VALID_KEYS = {
    "255 characters": "x" * 255,
    "every visible character but the comma": (VISIBLE_ASCII.replace(",", "") * 3)[:255],
    "lowest": "!",
    "highest": "~",
    "uuid": "550e8400-e29b-41d4-a716-446655440000",
}


def test_valid_keys_are_accepted_and_replayed(api, app):
    for case, key in VALID_KEYS.items():
        first = api.post("/tickets", "alice", TICKET, key=key)
        assert first.status_code == 201, case
        again = api.post("/tickets", "alice", TICKET, key=key)
        assert again.headers.get("Idempotent-Replayed") == "true", case
        assert again.data == first.data, case
    assert count(app, SupportTicket) == len(VALID_KEYS)


# -- strict JSON bodies --


def nested(depth: int) -> str:
    """An object whose total nesting (the object included) is ``depth``."""
    return '{"n":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"


NOT_STRICT_JSON = [
    b"{not json",
    b'{"a": NaN}',
    b'{"a": Infinity}',
    b'{"a": -Infinity}',
    b'{"a": 1e400}',
    b'{"a": 9007199254740992}',
    b'{"a": -9007199254740992}',
    b'{"a": "\xff"}',
    b'{"a": "caf\xe9"}',
    b'\xef\xbb\xbf{"a": 1}',
    b'{"a": 1, "a": 2}',
    b'{"a": "\\ud800"}',
    b'{"a": 1} trailing',
    b"   ",
    b"{'a': 1}",
    nested(65).encode(),
]
STRICT_JSON_AT_THE_EDGES = [
    b'{"a": 9007199254740991}',
    b'{"a": -9007199254740991}',
    b'{"a": 1e300}',
    b'{"a": "\\ud83d\\ude00"}',
    nested(64).encode(),
]


def test_bodies_that_are_not_strict_json_are_400_invalid_json(api, app):
    for body in NOT_STRICT_JSON:
        response = post_raw(api, body, key="strict")
        assert error_of(response) == (400, "error_invalid_json"), body[:40]
    assert count(app, IdempotencyRecord) == 0


def test_strict_json_at_the_edges_reaches_the_schema(api):
    for body in STRICT_JSON_AT_THE_EDGES:
        # Parsed fine: the schema then refuses the unknown field.
        response = post_raw(api, body)
        assert error_of(response) == (400, "error_invalid_request"), body[:40]


def test_a_json_body_with_another_content_type_is_415(api):
    response = post_raw(api, json.dumps(TICKET).encode(), content_type="text/plain")
    assert error_of(response) == (415, "error_unsupported_media_type")


def test_a_refused_body_stores_nothing_and_the_key_stays_free(api, app):
    assert post_raw(api, b'{"a": NaN}', key="later").status_code == 400
    assert post_raw(api, b"{}", key="later", content_type="text/plain").status_code == 415
    response = post_raw(api, json.dumps(TICKET).encode(), key="later")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


# -- authentication --


def test_missing_or_malformed_authorization_is_401_required(api):
    malformed = ["", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Token abc", "lk_abc", "Bearerx"]
    for header in [None, *malformed]:
        headers = {} if header is None else {"Authorization": header}
        for response in (
            api.client.post("/api/v1/tickets", json=TICKET, headers=headers),
            api.client.get("/api/v1/tickets", headers=headers),
        ):
            assert error_of(response) == (401, "error_api_key_required"), header


def test_the_scheme_is_case_insensitive(api):
    headers = {"Authorization": f"bearer {api.world['keys']['alice']}"}
    assert api.client.get("/api/v1/tickets", headers=headers).status_code == 200


def test_an_unknown_key_is_401_invalid(api):
    for token in ("lk_unknown", "alice-but-wrong", "x" * 500):
        headers = {"Authorization": f"Bearer {token}"}
        response = api.client.post("/api/v1/tickets", json=TICKET, headers=headers)
        assert error_of(response) == (401, "error_api_key_invalid"), token


def test_a_key_with_extra_characters_is_invalid(api):
    key = api.world["keys"]["alice"]
    for token in (key + "x", key[:-1], key.upper()):
        response = api.client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"})
        assert error_of(response) == (401, "error_api_key_invalid")


def test_a_revoked_key_is_401_invalid(api, app):
    assert api.get("/tickets", "bob").status_code == 200
    with app.app_context():
        db.session.execute(update(ApiKey).where(ApiKey.name == "bob").values(revoked_at=utcnow()))
        db.session.commit()
    assert error_of(api.get("/tickets", "bob")) == (401, "error_api_key_invalid")
    assert error_of(api.post("/tickets", "bob", TICKET, key="k")) == (401, "error_api_key_invalid")
    assert api.get("/tickets", "alice").status_code == 200


def test_a_key_of_the_wrong_kind_is_403(api, app):
    for who in ("game", "league", "other_game"):
        for response in (api.post("/tickets", who, TICKET, key="kind"), api.get("/tickets", who)):
            assert error_of(response) == (403, "error_api_key_permission_denied"), who
    assert count(app, SupportTicket) == 0


def test_a_missing_scope_is_403_and_reads_still_work(api, app):
    response = api.post("/tickets", "alice_readonly", TICKET, key="ro")
    assert error_of(response) == (403, "error_api_key_permission_denied")
    assert "tickets.write" in response.get_json()["details"]
    assert api.get("/tickets", "alice_readonly").status_code == 200
    assert count(app, SupportTicket) == 0


def _issue(runner, *scopes: str) -> str:
    args = ["keys", "create", "limited", "--kind", "personal", "--owner", "alice"]
    for scope in scopes:
        args += ["--scope", scope]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def test_a_write_scope_implies_its_read_and_a_read_scope_grants_no_write(api, runner):
    writer = {"Authorization": f"Bearer {_issue(runner, 'tickets.write=on')}"}
    assert api.client.get("/api/v1/tickets", headers=writer).status_code == 200
    assert api.client.post("/api/v1/tickets", json=TICKET, headers=writer).status_code == 201
    reader = {"Authorization": f"Bearer {_issue(runner, 'tickets.read=on')}"}
    assert api.client.get("/api/v1/tickets", headers=reader).status_code == 200
    response = api.client.post("/api/v1/tickets", json=TICKET, headers=reader)
    assert error_of(response) == (403, "error_api_key_permission_denied")
    nothing = {"Authorization": f"Bearer {_issue(runner, 'tickets.write=off')}"}
    response = api.client.get("/api/v1/tickets", headers=nothing)
    assert error_of(response) == (403, "error_api_key_permission_denied")


def _database_text(app) -> str:
    """Every row of every table, as text."""
    with app.app_context():
        parts = []
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                parts.append(repr(tuple(row)))
        return "\n".join(parts)


def test_keys_are_stored_only_as_hashes(api, app, database_url):
    # Use every key once, keyed, so any place a request might record it is filled.
    for who in ("alice", "bob"):
        assert api.post("/tickets", who, TICKET, key="hash-check").status_code == 201
    keys = api.world["keys"]
    text = _database_text(app)
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in (path, Path(f"{path}-wal")):
            if file.exists():
                text += file.read_bytes().decode("latin-1")
    for name, plaintext in keys.items():
        assert plaintext not in text, name
        # Only a short prefix is kept to recognise a key; the secret part never is.
        assert plaintext[10:] not in text, name
    with app.app_context():
        hashes = set(db.session.scalars(select(ApiKey.key_hash)))
    assert hashlib.sha256(keys["alice"].encode()).hexdigest() in hashes


# -- the error shape --


def test_unknown_routes_and_methods_are_json_under_the_api(api, client):
    assert error_of(client.get("/api/v1/no/such/route")) == (404, "error_not_found")
    assert error_of(client.get("/api/v1")) == (404, "error_not_found")
    response = client.delete("/api/v1/tickets")
    assert error_of(response) == (405, "error_method_not_allowed")
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_outside_the_api_errors_stay_html(client):
    response = client.get("/not-the-api")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_an_unexpected_error_is_a_json_500_without_a_trace(api, app, monkeypatch):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def explode(*_args: Any, **_kwargs: Any):
        raise ZeroDivisionError("secret internals")

    monkeypatch.setattr("league_api.domain.tickets.list_tickets", explode)
    response = api.get("/tickets", "alice")
    assert error_of(response) == (500, "error_internal")
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_unreachable_database_is_503_with_retry_after(tmp_path):
    for url in (
        "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2",
        f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite'}",
    ):
        app = create_app(
            {
                "TESTING": True,
                "PROPAGATE_EXCEPTIONS": False,
                "AUTO_INIT_DB": False,
                "SQLALCHEMY_DATABASE_URI": url,
            }
        )
        client = app.test_client()
        headers = {"Authorization": "Bearer lk_whatever", "Idempotency-Key": "k"}
        for response in (
            client.get("/api/v1/tickets", headers=headers),
            client.post("/api/v1/tickets", json=TICKET, headers=headers),
        ):
            assert error_of(response) == (503, "error_service_unavailable"), url
            assert response.headers["Retry-After"].isdigit()
        with app.app_context():
            db.engine.dispose()
