"""``flask idempotency purge`` and the record table's own migrations (``upgrade``, ``current``)."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup

from league_api.idempotency.migrating import Tree
from league_api.idempotency.store import purge_expired
from league_api.idempotency.transactions import EXTENSION, sqlalchemy_of

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "idempotency_alembic_version"

idempotency_cli = AppGroup("idempotency", help="Manage idempotency records.")


def tree(app: Flask) -> Tree:
    """The record table's migration tree as ``app`` uses it (a host using only @idempotent)."""
    settings = app.extensions[EXTENSION]
    records = settings["records"]
    prefix = settings["prefix"]
    return Tree(
        engine=sqlalchemy_of(app).engine,
        metadata=records.metadata,
        version_table=prefix + VERSION_TABLE,
        prefix=prefix,
        owned_tables=frozenset({records.name}),
        legacy={"0.1.0-bigint": ["i0002"], "0.1.0-integer": ["i0001"]},
        legacy_snapshot=MIGRATIONS / "legacy.json",
    )


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(app: Flask, revision: str = "heads") -> None:
    """Create or upgrade the record table (one transaction, one migrator at a time)."""
    with app.app_context():
        command.upgrade(alembic_config(), revision)


@idempotency_cli.command("purge")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 100000),
    help="Records per transaction. [default: 400 on SQLite, 1000 on PostgreSQL]",
)
@click.option(
    "--pause-ms",
    type=click.IntRange(0, 10000),
    help="Pause between batches, for waiting writers. [default: 30 on SQLite, 0 on PostgreSQL]",
)
def purge_command(batch_size: int | None, pause_ms: int | None) -> None:
    """Delete expired idempotency records and print how many were removed."""
    pause = None if pause_ms is None else pause_ms / 1000
    removed = purge_expired(batch_size, pause)
    click.echo(f"Removed {removed} expired idempotency records.")


@idempotency_cli.command("upgrade")
def upgrade_command() -> None:
    """Create or upgrade the idempotency record table (its own migrations and version table)."""
    upgrade(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo("The idempotency record table is up to date.")


@idempotency_cli.command("current")
def current_command() -> None:
    """Show the record table's migration revision."""
    command.current(alembic_config())
