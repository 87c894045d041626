"""Acceptance of issue 8: a host app with its own ``SQLAlchemy()`` mounts the API and uses
``@idempotent`` on its own model; its ``flask db`` stays its own; a table prefix keeps league
tables clear of the host's; a gunicorn storm on the host's view (about 25 s on SQLite)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests
from apps import host_app
from conftest import make_app
from sqlalchemy import create_engine, func, inspect, select

import league_api
from league_api import migrations
from league_api.db import db as league_db
from league_api.idempotency import EngineConflict
from league_api.testing import LeagueApi, assert_replayed, seed_demo_world

ROOT = Path(__file__).resolve().parents[1]
HOST_SPEC = "tests.apps.host_app:create_app()"
TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


@pytest.fixture
def host(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_SQLALCHEMY_DATABASE_URI", database_url)
    monkeypatch.setenv("FLASK_TESTING", "true")
    monkeypatch.setenv("HOST_MIGRATIONS_DIR", str(tmp_path / "host-migrations"))
    app = host_app.create_app()
    yield app
    with app.app_context():
        host_app.db.engine.dispose()


def order_count(app) -> int:
    with app.app_context():
        return host_app.db.session.scalar(select(func.count()).select_from(host_app.Order))


def keyed(key: str, member: str = "m1") -> dict[str, str]:
    return {"Idempotency-Key": key, "X-Member": member}


def play_a_match(api: LeagueApi) -> dict:
    """Challenge, accept, ready, lobby code, start, score, confirm: the match completes."""
    world = api.world
    alpha, bravo = world["teams"]["alpha"], world["teams"]["bravo"]

    def ok(method, path, who, body=None):
        response = api.call(method, path, who, body, key=str(uuid.uuid4()))
        assert 200 <= response.status_code < 300, (path, response.get_json())
        return response.get_json()

    match = ok(
        "POST",
        "/matches/create",
        "alice",
        {
            "teamId": alpha,
            "gameId": world["games"]["demo-game"],
            "gameModeId": "5v5",
            "teamSize": 1,
            "bestOf": 1,
            "activeRoster": [world["users"]["alice"]],
            "challengedTeamId": bravo,
        },
    )["matchId"]
    ok(
        "POST",
        f"/matches/{match}/accept",
        "bob",
        {"teamId": bravo, "activeRoster": [world["users"]["bob"]]},
    )
    ok("POST", f"/matches/{match}/ready", "alice")
    ok("POST", f"/matches/{match}/ready", "bob")
    ok("POST", f"/matches/{match}/lobby-code", "alice", {"lobbyCode": "EU-4711"})
    ok("POST", f"/matches/{match}/start", "alice")
    score = {"mapIndex": 0, "mapId": "dust", "creatorTeamScore": 16, "opponentTeamScore": 9}
    ok("POST", f"/matches/{match}/scores", "alice", score)
    ok("PATCH", f"/matches/{match}/scores", "bob", {"mapIndex": 0})
    body = api.get(f"/matches/{match}", "alice").get_json()
    return body.get("match", body)


def test_a_host_with_its_own_db_mounts_the_api_and_keeps_its_idempotent_view(host):
    # One Flask-SQLAlchemy instance: the host's; league tables beside the host's table.
    assert host.extensions["sqlalchemy"] is host_app.db
    with host.test_request_context():
        assert league_db.session is host_app.db.session
        tables = set(inspect(host_app.db.engine).get_table_names())
    assert {"host_orders", "users", "matches", "league_api_alembic_version"} <= tables

    world = seed_demo_world(host.test_cli_runner())
    client = host.test_client()
    api = LeagueApi(client, world)
    finished = play_a_match(api)
    assert finished["status"] == "COMPLETED", finished
    assert finished["winnerTeamId"] == world["teams"]["alpha"]

    first = api.post("/tickets", "alice", TICKET, key="host-ticket-1")
    assert first.status_code == 201
    assert_replayed(first, api.post("/tickets", "alice", TICKET, key="host-ticket-1"))

    # The host's own view, on its own model, scoped by the host's member id.
    order = client.post("/orders", json={"item": "jersey"}, headers=keyed("o-1"))
    assert order.status_code == 201
    assert_replayed(order, client.post("/orders", json={"item": "jersey"}, headers=keyed("o-1")))
    other = client.post("/orders", json={"item": "jersey"}, headers=keyed("o-1", member="m2"))
    assert other.status_code == 201 and "Idempotent-Replayed" not in other.headers
    assert order_count(host) == 2

    # The CLI: league_api's migrations under their own group; `flask db` is the host's.
    runner = host.test_cli_runner()
    assert "league-db" in host.cli.list_commands(None)
    assert host.cli.get_command(None, "db").name == "db"
    assert runner.invoke(args=["league-db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["idempotency", "purge"]).exit_code == 0


def test_doubled_slashes_are_a_json_404_under_the_api_and_the_hosts_routes_keep_its_map(host):
    client = host.test_client()
    for method in ("GET", "POST", "OPTIONS"):
        response = client.open("/api/v1//tickets", method=method, json={})
        assert response.status_code == 404, method
        assert response.get_json()["error"] == "error_not_found"
    # The host's map is left as the host set it (Werkzeug merges, for the host's own routes).
    assert host.url_map.merge_slashes


def test_the_hosts_flask_db_migrate_proposes_nothing_for_league_tables(
    empty_database_url, tmp_path
):
    database_url = empty_database_url
    migrations_dir = tmp_path / "host-migrations"
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        "HOST_MIGRATIONS_DIR": str(migrations_dir),
        "HOST_CREATE_ALL": "0",  # the host's table comes from the host's own migration
    }

    def flask(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", HOST_SPEC, *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result

    flask("db", "init")
    flask("db", "migrate", "-m", "orders")  # league tables exist by now (AUTO_INIT_DB)
    [revision] = (migrations_dir / "versions").glob("*.py")
    proposed = revision.read_text()
    assert "'host_orders'" in proposed
    hidden = migrations.owned_tables() | {
        "league_api_alembic_version",
        "idempotency_alembic_version",
    }
    assert [name for name in sorted(hidden) if f"'{name}'" in proposed] == []
    flask("db", "upgrade")
    again = flask("db", "migrate", "-m", "nothing")
    assert "No changes in schema detected" in again.stdout + again.stderr
    assert len(list((migrations_dir / "versions").glob("*.py"))) == 1
    engine = create_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"alembic_version", "league_api_alembic_version", "host_orders", "users"} <= tables
    current = flask("league-db", "current")
    assert "l0004" in current.stdout + current.stderr


@pytest.mark.slow
def test_a_storm_of_one_keyed_order_on_the_hosts_view_makes_one_order(host, live_server, tmp_path):
    """16 clients send the same keyed order at once to 4 gunicorn workers of the host."""
    server = live_server(
        workers=4, app_spec=HOST_SPEC, env={"HOST_MIGRATIONS_DIR": str(tmp_path / "m")}
    )
    url = server.url.removesuffix("/api/v1") + "/orders"
    clients = 16
    barrier = threading.Barrier(clients)
    answers: list = [None] * clients
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with requests.Session() as session:
                barrier.wait(timeout=60)
                for _ in range(50):  # a client retries 409 in_use, as API.md allows
                    response = session.post(
                        url, json={"item": "cap"}, headers=keyed("storm-1"), timeout=60
                    )
                    if response.status_code != 409:
                        break
                answers[index] = response
        except BaseException as error:  # reported below, with the thread's traceback
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.content for answer in answers}) == 1
    originals = [a for a in answers if "Idempotent-Replayed" not in a.headers]
    assert len(originals) == 1
    for answer in answers:
        if answer is not originals[0]:
            assert_replayed(originals[0], answer)
    assert order_count(host) == 1


# -- refusals and the table prefix ----------------------------------------------------------------


def test_init_app_without_db_on_a_host_that_has_one_says_what_to_do(database_url):
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_url
    SQLAlchemy().init_app(app)
    with pytest.raises(RuntimeError, match=r"league_api.init_app\(app, db=your_db\)"):
        league_api.init_app(app)


CONFLICTS = [
    pytest.param({"isolation_level": "AUTOCOMMIT"}, "AUTOCOMMIT", id="autocommit"),
    pytest.param(
        {"isolation_level": "SERIALIZABLE"},
        "READ COMMITTED",
        id="serializable",
        marks=pytest.mark.backend("postgresql"),
    ),
]


@pytest.mark.parametrize(("options", "message"), CONFLICTS)
def test_a_conflicting_engine_setting_is_refused_with_a_clear_message(
    database_url, options, message
):
    from flask import Flask
    from flask_sqlalchemy import SQLAlchemy

    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, SQLALCHEMY_ENGINE_OPTIONS=options)
    host_db = SQLAlchemy()
    host_db.init_app(app)
    try:
        with pytest.raises(EngineConflict, match=message):
            league_api.init_app(app, db=host_db)
    finally:
        with app.app_context():
            host_db.engine.dispose()


def test_a_prefix_set_in_the_config_but_not_the_environment_is_refused(database_url):
    with pytest.raises(RuntimeError, match="LEAGUE_API_TABLE_PREFIX"):
        make_app(database_url, LEAGUE_API_TABLE_PREFIX="league_")


PREFIXED = """
import json, sys
from league_api import create_app
from league_api.testing import seed_demo_world
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "LEAGUE_API_TABLE_PREFIX": "lg_"})
world = seed_demo_world(app.test_cli_runner())
headers = {"Authorization": "Bearer " + world["keys"]["alice"], "Idempotency-Key": "p-1"}
ticket = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
first = app.test_client().post("/api/v1/tickets", json=ticket, headers=headers)
again = app.test_client().post("/api/v1/tickets", json=ticket, headers=headers)
print(json.dumps([first.status_code, again.headers.get("Idempotent-Replayed")]))
"""


def test_a_table_prefix_keeps_league_tables_clear_of_the_hosts(empty_database_url):
    """The host already has `users` and `teams`; with LEAGUE_API_TABLE_PREFIX=lg_ the API
    runs beside them (the prefix is read when the models are defined: a fresh process)."""
    database_url = empty_database_url
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        connection.exec_driver_sql("CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT)")
        connection.exec_driver_sql("INSERT INTO users VALUES (1, 'host@example.org')")
    try:
        result = subprocess.run(
            [sys.executable, "-c", PREFIXED, database_url],
            env={**os.environ, "LEAGUE_API_TABLE_PREFIX": "lg_"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [201, "true"]
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            host_users = connection.exec_driver_sql("SELECT id, email FROM users").all()
        assert {"lg_users", "lg_teams", "lg_idempotency_records"} <= tables
        assert {"lg_league_api_alembic_version", "users", "teams"} <= tables
        assert host_users == [(1, "host@example.org")]
    finally:
        engine.dispose()


@pytest.mark.parametrize("migrate_first", [True, False], ids=["migrate-first", "migrate-after"])
@pytest.mark.parametrize("mount", ["api", "idempotency-only"])
def test_the_hosts_autogenerate_is_told_to_ignore_our_tables(database_url, migrate_first, mount):
    """Whichever order the host sets Flask-Migrate and league_api up in."""
    from flask import Flask
    from flask_migrate import Migrate
    from flask_sqlalchemy import SQLAlchemy

    from league_api import idempotency

    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, AUTO_INIT_DB=False)
    host_db = SQLAlchemy()
    host_db.init_app(app)
    if migrate_first:
        Migrate(app, host_db)
    if mount == "api":
        league_api.init_app(app, db=host_db)
    else:
        idempotency.init_app(app, db=host_db, identity=lambda: "me")
    if not migrate_first:
        Migrate(app, host_db)
    try:
        with app.app_context():  # the host's `flask db ...` runs in one
            include = app.extensions["migrate"].configure_args["include_name"]
        ours = {"idempotency_records", "idempotency_alembic_version"}
        if mount == "api":
            ours |= {"users", "matches", "league_api_alembic_version"}
        assert [name for name in sorted(ours) if include(name, "table", {})] == []
        assert include("host_orders", "table", {}) and include("users_email", "index", {})
        if mount != "api":
            assert include("users", "table", {})  # not ours without the API
    finally:
        with app.app_context():
            host_db.engine.dispose()
