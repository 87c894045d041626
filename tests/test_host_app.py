"""``@idempotent`` in a host Flask app of its own (API.md 4, "Reusable"), and embedding the API,
both on the host's own Flask-SQLAlchemy instance."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from flask import Flask, abort, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import String, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import league_api
from league_api import idempotency
from league_api.errors import APIError
from league_api.idempotency import decorator, idempotent, transactions
from league_api.idempotency.model import record_model
from league_api.jsonbody import json_object_body


class HostBase(DeclarativeBase):
    pass


# The host's own Flask-SQLAlchemy instance and model: nothing of league_api's.
host_db = SQLAlchemy(model_class=HostBase)

# The host keeps its records apart from league_api's with a prefix of its own.
IdempotencyRecord = record_model("host_")


class HostNote(host_db.Model):
    __tablename__ = "host_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(200))


def host_identity() -> str:
    return request.headers.get("X-User", "anonymous")


def make_host(database_url: str) -> tuple[Flask, list[str]]:
    """A minimal host: its own db, model and view, and league_api's idempotency layer only."""
    app = Flask(__name__)
    # Real error handling (no TESTING propagation): an unexpected error must become a 500.
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url)
    host_db.init_app(app)
    idempotency.init_app(app, db=host_db, identity=host_identity, table_prefix="host_")
    with app.app_context():
        host_db.create_all()
    # The record table comes from the layer's own migrations, as a host would create it.
    assert app.test_cli_runner().invoke(args=["idempotency", "upgrade"]).exit_code == 0
    calls: list[str] = []

    @app.post("/notes")
    @idempotent
    def add_note():
        body = json_object_body()
        calls.append(body.get("text", ""))
        note = HostNote(text=body.get("text", ""))
        host_db.session.add(note)
        host_db.session.flush()
        failure = app.config.pop("HOST_FAIL_NEXT", None)
        if failure == "crash":
            raise RuntimeError("the host view broke after writing")
        if failure == "reject" or body.get("reject"):
            raise APIError({"text": "not today"}, status=422, code="host_rejected")
        payload = {"id": note.id, "text": note.text, "n": body.get("n")}
        return payload, 201, {"Location": f"/notes/{note.id}", "Set-Cookie": "session=abc"}

    @app.post("/other-notes")
    @idempotent(identity=lambda: "fixed-caller")
    def add_other_note():
        note = HostNote(text="other")
        host_db.session.add(note)
        host_db.session.flush()
        return {"id": note.id}, 201

    return app, calls


@pytest.fixture
def host(database_url):
    app, calls = make_host(database_url)
    yield app, calls
    with app.app_context():
        host_db.engine.dispose()


def count(app, model: Any) -> int:
    with app.app_context():
        return host_db.session.scalar(select(func.count()).select_from(model))


def post(client, body: Any, key: str | None = None, user: str = "u1", path: str = "/notes"):
    headers = {"X-User": user}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path, json=body, headers=headers)


def test_replay_works_in_a_host_app(host):
    app, calls = host
    client = app.test_client()
    first = post(client, {"text": "hello", "n": 1}, key="h-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    # Canonically the same body: another key order and number spelling.
    again = client.post(
        "/notes",
        data=b'{"n": 1.0, "text": "hel\\u006co"}',
        content_type="application/json",
        headers={"X-User": "u1", "Idempotency-Key": "h-1"},
    )
    assert again.status_code == 201
    assert again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    # Only Content-Type and Location are stored, never a cookie.
    assert "Set-Cookie" in first.headers and "Set-Cookie" not in again.headers
    assert calls == ["hello"]
    assert count(app, HostNote) == 1
    conflict = post(client, {"text": "bye", "n": 1}, key="h-1")
    assert (conflict.status_code, conflict.get_json()["error"]) == (
        409,
        "error_idempotency_key_conflict",
    )
    assert calls == ["hello"]


def test_the_host_identity_scopes_records(host):
    app, calls = host
    client = app.test_client()
    by_u1 = post(client, {"text": "x"}, key="same", user="u1")
    by_u2 = post(client, {"text": "x"}, key="same", user="u2")
    assert "Idempotent-Replayed" not in by_u2.headers
    assert by_u1.get_json()["id"] != by_u2.get_json()["id"]
    assert calls == ["x", "x"]
    # identity= on the decorator wins over the app's: both users are one caller there.
    first = post(client, {}, key="same", user="u1", path="/other-notes")
    second = post(client, {}, key="same", user="u2", path="/other-notes")
    assert second.headers["Idempotent-Replayed"] == "true" and second.data == first.data


def test_without_a_key_nothing_is_stored(host):
    app, calls = host
    client = app.test_client()
    assert post(client, {"text": "a"}).status_code == 201
    assert post(client, {"text": "a"}).status_code == 201
    assert calls == ["a", "a"]
    assert count(app, IdempotencyRecord) == 0


def test_an_unexpected_error_after_a_write_persists_nothing_and_the_retry_runs_once(host):
    app, calls = host
    client = app.test_client()
    app.config["HOST_FAIL_NEXT"] = "crash"
    failed = post(client, {"text": "once"}, key="crash-1")
    assert failed.status_code == 500
    assert calls == ["once"]
    assert count(app, HostNote) == 0
    assert count(app, IdempotencyRecord) == 0
    retry = post(client, {"text": "once"}, key="crash-1")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert calls == ["once", "once"]
    assert count(app, HostNote) == 1
    replay = post(client, {"text": "once"}, key="crash-1")
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.data == retry.data
    assert calls == ["once", "once"]


def test_a_4xx_raised_after_a_write_is_stored_with_the_writes_rolled_back(host):
    app, calls = host
    client = app.test_client()
    app.config["HOST_FAIL_NEXT"] = "reject"
    first = post(client, {"text": "nope"}, key="reject-1")
    assert first.status_code == 422
    assert first.get_json() == {"error": "host_rejected", "details": {"text": "not today"}}
    assert count(app, HostNote) == 0
    with app.app_context():
        [record] = host_db.session.scalars(select(IdempotencyRecord)).all()
        assert record.status_code == 422 and record.body == first.data
        assert json.loads(record.headers) == {"Content-Type": "application/json"}
    # The view would succeed now, but a retry gets the stored 422.
    again = post(client, {"text": "nope"}, key="reject-1")
    assert again.status_code == 422 and again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert calls == ["nope"]
    assert count(app, HostNote) == 0


@pytest.mark.backend("postgresql")
def test_a_4xx_after_a_write_is_rolled_back_when_nothing_counts_the_statements(host):
    """PostgreSQL tells a write by the statements counted on the engine; an engine without the
    counter (never configured by the layer) is taken to have written, never to be clean."""
    app, calls = host
    with app.app_context():
        engine = host_db.engine
    event.remove(engine, "before_execute", transactions._count_statement)
    engine.dispose()  # pool connections whose info never saw a count
    try:
        app.config["HOST_FAIL_NEXT"] = "reject"
        first = post(app.test_client(), {"text": "nope"}, key="uncounted")
        assert first.status_code == 422
        assert count(app, HostNote) == 0
        assert count(app, IdempotencyRecord) == 1
    finally:
        event.listen(engine, "before_execute", transactions._count_statement)


def test_a_duplicate_that_commits_after_a_rolled_back_4xx_answers_both(host, monkeypatch):
    """The view runs without a savepoint: a 4xx raised after a write rolls the whole
    transaction back (on PostgreSQL its claim too) and takes the lock (claims) again to store
    it. A duplicate that ran and committed in that gap wins; the rejected run answers with the
    duplicate's stored response."""
    app, calls = host
    claim_again = decorator._claim_again
    duplicate: list[Any] = []

    def duplicate_commits_first(*args: Any):
        # In the gap (the write lock released), on a thread of its own: a whole request.
        worker = threading.Thread(
            target=lambda: duplicate.append(post(app.test_client(), {"text": "race"}, "race-1"))
        )
        worker.start()
        worker.join()
        return claim_again(*args)

    monkeypatch.setattr(decorator, "_claim_again", duplicate_commits_first)
    app.config["HOST_FAIL_NEXT"] = "reject"
    first = post(app.test_client(), {"text": "race"}, key="race-1")
    [winner] = duplicate
    assert winner.status_code == 201 and "Idempotent-Replayed" not in winner.headers
    assert first.status_code == 201 and first.data == winner.data
    assert first.headers["Idempotent-Replayed"] == "true"
    assert calls == ["race", "race"] and count(app, HostNote) == 1


def test_the_host_app_gets_json_body_errors_without_league_handlers(host):
    app, calls = host
    client = app.test_client()
    bad = client.post(
        "/notes",
        data=b"{nope",
        content_type="application/json",
        headers={"Idempotency-Key": "bad-json"},
    )
    assert (bad.status_code, bad.get_json()["error"]) == (400, "error_invalid_json")
    invalid = post(client, {"text": "a"}, key="bad key")
    assert invalid.get_json()["error"] == "error_idempotency_key_invalid"
    assert calls == []


# -- league_api.init_app on a host ----------------------------------------------------------------


@pytest.fixture
def embedded(database_url):
    app = Flask(__name__)
    app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=database_url)

    @app.get("/")
    def home():
        return "<h1>the host</h1>"

    @app.get("/items/<int:item_id>")
    def item(item_id: int):
        abort(404)

    host_db.init_app(app)
    league_api.init_app(app, db=host_db)
    yield app
    with app.app_context():
        host_db.engine.dispose()


def test_init_app_mounts_the_api_with_json_errors_only_under_the_prefix(embedded):
    runner = embedded.test_cli_runner()
    result = runner.invoke(args=["demo-seed"])
    assert result.exit_code == 0, result.output
    keys = json.loads(result.stdout)["keys"]
    client = embedded.test_client()
    headers = {"Authorization": f"Bearer {keys['alice']}", "Idempotency-Key": "emb-1"}
    ticket = {"subject": "Lag", "description": "The lobby lags", "category": "other"}
    first = client.post("/api/v1/tickets", json=ticket, headers=headers)
    assert first.status_code == 201
    assert first.headers["Location"].startswith("/api/v1/tickets/")
    again = client.post("/api/v1/tickets", json=ticket, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.data == first.data
    # JSON errors under /api/v1, every status.
    missing = client.get("/api/v1/nowhere")
    assert (missing.status_code, missing.get_json()["error"]) == (404, "error_not_found")
    wrong = client.put("/api/v1/tickets")
    assert (wrong.status_code, wrong.get_json()["error"]) == (405, "error_method_not_allowed")
    # The host's own pages keep Flask's HTML errors.
    assert client.get("/").data == b"<h1>the host</h1>"
    for path in ("/nowhere", "/items/3"):
        response = client.get(path)
        assert response.status_code == 404 and response.mimetype == "text/html", path
    host_405 = client.post("/")
    assert host_405.status_code == 405 and host_405.mimetype == "text/html"
    # The league commands are on the host's CLI too.
    assert runner.invoke(args=["idempotency", "purge"]).exit_code == 0


@pytest.mark.parametrize("host_first", [False, True], ids=["host-after", "host-before"])
def test_a_host_identity_and_the_api_key_scope_coexist(database_url, host_first):
    """A host that embeds the API and gives @idempotent its own default identity: API records
    stay scoped by API key, and the host's views keep the host's identity."""
    app = Flask(__name__)
    app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=database_url)
    host_db.init_app(app)
    if host_first:
        idempotency.init_app(app, db=host_db, identity=host_identity)
    league_api.init_app(app, db=host_db)
    if not host_first:
        idempotency.init_app(app, identity=host_identity)
    with app.app_context():
        host_db.create_all()

    @app.post("/notes")
    @idempotent
    def add_note():
        note = HostNote(text=json_object_body().get("text", ""))
        host_db.session.add(note)
        host_db.session.flush()
        return {"id": note.id}, 201

    try:
        result = app.test_cli_runner().invoke(args=["demo-seed"])
        assert result.exit_code == 0, result.output
        keys = json.loads(result.stdout)["keys"]
        client = app.test_client()
        ticket = {"subject": "Lag", "description": "The lobby lags", "category": "other"}
        answers = {
            who: client.post(
                "/api/v1/tickets",
                json=ticket,
                headers={"Authorization": f"Bearer {keys[who]}", "Idempotency-Key": "shared"},
            )
            for who in ("alice", "bob")
        }
        assert answers["bob"].status_code == 201
        assert "Idempotent-Replayed" not in answers["bob"].headers
        assert answers["bob"].data != answers["alice"].data
        # The host's view is scoped by the host's identity.
        by_u1 = post(client, {"text": "n"}, key="shared", user="u1")
        by_u2 = post(client, {"text": "n"}, key="shared", user="u2")
        assert (by_u1.status_code, by_u2.status_code) == (201, 201)
        assert "Idempotent-Replayed" not in by_u2.headers
        assert post(client, {"text": "n"}, key="shared", user="u1").data == by_u1.data
    finally:
        with app.app_context():
            host_db.engine.dispose()


ISOLATION = """
import gc, json, sys
from sqlalchemy import Table

def tables():
    return sorted(o.name for o in gc.get_objects() if isinstance(o, Table))

import league_api.idempotency as idempotency
from league_api.idempotency import idempotent
loaded = sorted(m for m in sys.modules if m.startswith("league_api"))
report = {"loaded": loaded, "tables": tables(), "fsa": "flask_sqlalchemy" in sys.modules}

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
app = Flask("host")
app.config["SQLALCHEMY_DATABASE_URI"] = sys.argv[1]
host_db = SQLAlchemy()
host_db.init_app(app)
idempotency.init_app(app, db=host_db, identity=lambda: "me", table_prefix="iso_")
report["after"] = tables()
report["loaded_after"] = sorted(m for m in sys.modules if m.startswith("league_api"))
print(json.dumps(report))
"""
# Generic modules the layer may use; every other league_api module is league code.
GENERIC = {
    "league_api",
    "league_api.errors",
    "league_api.jsonbody",
    "league_api.idempotency",
    "league_api.idempotency.decorator",
    "league_api.idempotency.fingerprint",
    "league_api.idempotency.store",
    "league_api.idempotency.transactions",
}


def test_importing_the_layer_loads_no_league_module_and_defines_no_table(tmp_path):
    """A fresh interpreter: importing league_api.idempotency imports nothing of leagues and
    makes no SQLAlchemy instance and no table; init_app(db=...) then defines the record table
    (on the layer's own MetaData, not the host's)."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'iso.sqlite'}"
    result = subprocess.run(
        [sys.executable, "-c", ISOLATION, url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["loaded"]) <= GENERIC, set(report["loaded"]) - GENERIC
    assert report["tables"] == [] and report["fsa"] is False
    # (SQLAlchemy's own pg_catalog tables come with its PostgreSQL dialect, loaded by Alembic.)
    assert [name for name in report["after"] if not name.startswith("pg_")] == [
        "iso_idempotency_records"
    ]
    league = {"league_api.db", "league_api.models", "league_api.api", "league_api.auth"}
    assert not league & set(report["loaded_after"])
