"""Migrations: ``flask db upgrade`` on empty and on 0.1.0 databases, models == migrations,
refusals, SQLite rebuilds, and processes starting together (about 15 s on SQLite)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from conftest import BACKEND, make_app, seed_world, wipe_database
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from league_api import migrations
from league_api.db import Base, db
from league_api.idempotency.migrating import (
    MigrationRefused,
    load_snapshots,
    schema_differences,
    schema_dump,
)
from league_api.models.webhooks import WebhookEvent

ROOT = Path(__file__).resolve().parents[1]
VERSION_TABLE = "league_api_alembic_version"
HEAD = "l0004"  # league_api's newest revision: the single head of the tree
TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
# A 0.1.0 database: the schema variant, and the revisions that stand for it.
LEGACY_VARIANTS = {"0.1.0-bigint": ("i0002", "l0001"), "0.1.0-integer": ("i0001", "l0001")}


def flask(database_url: str, *args: str, app: str = "league_api", **env: str):
    """``flask --app <app> <args>`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", app, *args],
        env={
            **os.environ,
            "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            "FLASK_AUTO_INIT_DB": "false",
            **env,
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def offline_app(database_url: str):
    """The app without start-up migrations (what the CLI sees with AUTO_INIT_DB off)."""
    return make_app(database_url, AUTO_INIT_DB=False)


def dump(app) -> dict[str, Any]:
    with app.app_context(), db.engine.connect() as connection:
        return schema_dump(connection, migrations.owned_tables())


def row_counts(app) -> dict[str, int]:
    """Rows per league table that exists (a downgrade drops the tables of later revisions)."""
    with app.app_context():
        present = set(inspect(db.engine).get_table_names())
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
            if table.name in present
        }


def versions(app) -> list[str]:
    with app.app_context(), db.engine.connect() as connection:
        return sorted(
            connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars()
        )


def wipe(app) -> None:
    dispose(app)
    wipe_database(app.config["SQLALCHEMY_DATABASE_URI"])


@pytest.fixture
def database_url(empty_database_url: str) -> str:
    """Each test here starts from no table at all, and may leave odd states behind."""
    return empty_database_url


def dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


def make_legacy(app, variant: str) -> None:
    """Turn a head database into a 0.1.0 one, rows kept: down to that variant's revisions,
    then no version table (as create_all left it before migrations existed)."""
    with app.app_context():
        config = migrations.alembic_config()
        command.downgrade(config, "l0001")  # l0002 is the merge: both branch heads remain
        if variant == "0.1.0-integer":
            command.downgrade(config, "i0001")
        assert versions(app) == sorted(LEGACY_VARIANTS[variant])
        with db.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TABLE {VERSION_TABLE}")
        db.engine.dispose()


def seeded_with_traffic(app) -> None:
    """The demo world, a keyed ticket (an idempotency record) and a team membership to cascade."""
    keys = seed_world(app.test_cli_runner())["keys"]
    headers = {"Authorization": f"Bearer {keys['alice']}", "Idempotency-Key": "legacy-1"}
    assert (
        app.test_client().post("/api/v1/tickets", json=TICKET, headers=headers).status_code == 201
    )


def test_one_head_and_the_migrations_ship_inside_the_package():
    script = ScriptDirectory.from_config(migrations.alembic_config())
    assert script.get_heads() == [HEAD]
    for path in (
        "league_api/migrations/alembic.ini",
        "league_api/migrations/env.py",
        "league_api/migrations/legacy.json",
        "league_api/idempotency/migrations/env.py",
        "league_api/idempotency/migrations/legacy.json",
    ):
        assert (ROOT / path).is_file(), path
    # Revisions are packages (found by setuptools); the rest is package data.
    for package in ("league_api/migrations/versions", "league_api/idempotency/migrations/versions"):
        assert (ROOT / package / "__init__.py").is_file(), package
    setup = (ROOT / "setup.cfg").read_text()
    for data in (
        "migrations/alembic.ini",
        "migrations/legacy.json",
        "idempotency/migrations/legacy.json",
    ):
        assert data in setup, data


def test_flask_db_upgrade_twice_matches_create_all_and_autogenerate_finds_nothing(database_url):
    for _ in range(2):
        result = flask(database_url, "db", "upgrade")
        assert result.returncode == 0, result.stderr
    app = offline_app(database_url)
    assert versions(app) == [HEAD]
    with app.app_context():
        command.check(migrations.alembic_config())  # raises if autogenerate finds a difference
    upgraded = dump(app)
    wipe(app)
    with app.app_context():
        db.create_all()
    created = dump(app)
    dispose(app)
    assert schema_differences(upgraded, created) == []
    assert upgraded == created
    assert VERSION_TABLE not in upgraded["tables"]


@pytest.mark.parametrize(
    "variant",
    [
        "0.1.0-bigint",
        pytest.param("0.1.0-integer", marks=pytest.mark.backend("postgresql")),
    ],
)
def test_upgrade_over_a_0_1_0_database_with_data_keeps_every_row(database_url, variant):
    app = make_app(database_url)
    seeded_with_traffic(app)
    before = row_counts(app)
    make_legacy(app, variant)
    # The downgrade rebuilt users on SQLite (drop column): no child row was cascaded away.
    # (Tables of later revisions, e.g. the webhook outbox, are gone with their revision.)
    legacy = row_counts(app)
    assert legacy == {name: before[name] for name in legacy}
    # The 0.1.0 schema, exactly as 0.1.0's create_all made it (snapshot taken from 0.1.0).
    snapshot = load_snapshots(migrations.DIRECTORY / "legacy.json", BACKEND)
    assert schema_differences(dump(app), snapshot[variant]) == []
    dispose(app)
    for _ in range(2):
        result = flask(database_url, "db", "upgrade")
        assert result.returncode == 0, result.stderr
    app = offline_app(database_url)
    assert versions(app) == [HEAD]
    upgraded = row_counts(app)
    assert {name: upgraded[name] for name in legacy} == legacy
    with app.app_context():
        command.check(migrations.alembic_config())
        assert db.session.scalar(text("SELECT count(host_user_id) FROM users")) == 0
    dispose(app)


def test_l0004_drops_the_outbox_type_index_and_keeps_every_outbox_row(database_url):
    events = WebhookEvent.__table__.name
    index = f"ix_{events}_type"

    def indexes(app) -> set[str]:
        with app.app_context():
            return {ix["name"] for ix in inspect(db.engine).get_indexes(events)}

    app = make_app(database_url)
    seeded_with_traffic(app)  # the keyed ticket wrote an outbox event
    before = row_counts(app)
    assert before[events] >= 1
    config = migrations.alembic_config()
    with app.app_context():
        command.downgrade(config, "l0003")
    assert versions(app) == ["l0003"]
    assert index in indexes(app)
    assert row_counts(app) == before
    dispose(app)
    app = offline_app(database_url)
    with app.app_context():
        command.upgrade(config, "head")
    assert versions(app) == [HEAD]
    assert index not in indexes(app)
    assert row_counts(app) == before
    with app.app_context():
        command.downgrade(config, "l0003")
    assert versions(app) == ["l0003"]
    assert index in indexes(app)
    assert row_counts(app) == before
    dispose(app)


def test_a_0_1_0_database_that_differs_is_refused_with_the_differences(database_url):
    app = make_app(database_url)
    make_legacy(app, "0.1.0-bigint")
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE games ADD COLUMN colour VARCHAR(20)")
    dispose(app)
    result = flask(database_url, "db", "upgrade")
    assert result.returncode != 0
    assert "table games, column colour" in result.stderr
    with pytest.raises(MigrationRefused, match="table games, column colour"):
        make_app(database_url)
    with pytest.raises(MigrationRefused, match="table games, column colour"):
        offline_app(database_url)  # without AUTO_INIT_DB too: it refuses to start
    engine = create_engine(database_url)
    with engine.connect() as connection:
        assert VERSION_TABLE not in inspect(connection).get_table_names()
    engine.dispose()


@pytest.mark.parametrize("auto_init", [True, False], ids=["auto-init", "no-auto-init"])
def test_a_table_that_is_not_ours_is_refused_by_name(database_url, auto_init):
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    with pytest.raises(MigrationRefused, match="users"):
        make_app(database_url, AUTO_INIT_DB=auto_init)
    with engine.connect() as connection:
        tables = inspect(connection).get_table_names()
    engine.dispose()
    assert tables == ["users"]  # nothing was created beside it


@pytest.mark.backend("sqlite")
def test_a_rebuild_that_would_break_a_foreign_key_is_refused_and_changes_nothing(database_url):
    app = make_app(database_url)
    seeded_with_traffic(app)
    before = row_counts(app)
    dispose(app)
    # A row pointing nowhere, as a 0.1.0 database written without foreign keys may hold.
    path = make_url(database_url).database
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO team_members VALUES ('no-team', 'no-user')")
    app = offline_app(database_url)
    with app.app_context(), pytest.raises(MigrationRefused, match="foreign key check failed"):
        command.downgrade(migrations.alembic_config(), "l0001")  # rebuilds users
    assert versions(app) == [HEAD]
    assert row_counts(app) == {**before, "team_members": before["team_members"] + 1}
    dispose(app)


STARTER = """
import json, sys
from league_api import create_app
from league_api.db import db
from league_api.idempotency.migrating import schema_dump
from league_api.migrations import owned_tables
print("ready", flush=True)
sys.stdin.read()  # released together with the other processes
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1]})
with app.app_context(), db.engine.connect() as connection:
    print(json.dumps(schema_dump(connection, owned_tables()), sort_keys=True))
"""


def test_four_processes_starting_at_once_on_an_empty_database_make_one_schema(database_url):
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", STARTER, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(4)
    ]
    for starter in starters:  # each has imported league_api and waits on its stdin
        assert starter.stdout.readline() == "ready\n"
    for starter in starters:
        starter.stdin.close()
    outputs = []
    for starter in starters:
        with starter.stdout, starter.stderr:
            outputs.append((starter.stdout.read(), starter.stderr.read()))
        starter.wait(timeout=120)
    assert [starter.returncode for starter in starters] == [0] * 4, [err for _, err in outputs]
    schemas = {out for out, _ in outputs}
    assert len(schemas) == 1
    app = offline_app(database_url)
    assert versions(app) == [HEAD]
    assert json.loads(schemas.pop()) == dump(app)
    dispose(app)
