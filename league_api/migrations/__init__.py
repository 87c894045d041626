"""league_api's schema migrations (Alembic), shipped inside the package.

One migration tree: league_api's own revisions (``versions/``, branch ``league``) plus the
idempotency layer's (``league_api/idempotency/migrations/versions``, branch ``idempotency``),
merged into a single head, recorded in league_api's own version table
``<prefix>league_api_alembic_version``.

* ``create_app()``: Flask-Migrate's ``flask --app league_api db ...`` group on this tree.
* Mounted on a host (``league_api.init_app(app, db=host_db)``): its own group,
  ``flask league-db ...``; the host's ``flask db`` stays the host's, and its autogenerate is
  told to ignore league tables.
* ``init-db`` and ``AUTO_INIT_DB`` run :func:`upgrade`.
"""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup

from league_api.db import EXTENSION, Base
from league_api.idempotency.migrating import Tree, hide_from_host_migrate

DIRECTORY = Path(__file__).parent
VERSION_TABLE = "league_api_alembic_version"
# A 0.1.0 database (create_all, no version table) is stamped at these revisions when its
# schema equals the snapshot of that variant (the record id became BIGINT within 0.1.0).
LEGACY = {"0.1.0-bigint": ["i0002", "l0001"], "0.1.0-integer": ["i0001", "l0001"]}


def owned_tables() -> frozenset[str]:
    import league_api.models  # noqa: F401 - registers every table on Base.metadata

    # Sequence names too (PostgreSQL ticket numbers): the schema dump covers them.
    return frozenset(Base.metadata.tables) | frozenset(Base.metadata._sequences)


def tree(app: Flask) -> Tree:
    state = app.extensions[EXTENSION]
    prefix = state["prefix"]
    return Tree(
        engine=state["db"].engine,
        metadata=Base.metadata,
        version_table=prefix + VERSION_TABLE,
        prefix=prefix,
        owned_tables=owned_tables(),
        legacy=LEGACY,
        legacy_snapshot=DIRECTORY / "legacy.json",
    )


def alembic_config() -> Config:
    """The tree's Alembic configuration (alembic.ini lists both version directories)."""
    config = Config(str(DIRECTORY / "alembic.ini"))
    config.set_main_option("script_location", str(DIRECTORY))
    return config


def upgrade(app: Flask, revision: str = "head") -> None:
    """Create or upgrade league_api's tables: one transaction, one process at a time."""
    with app.app_context():
        command.upgrade(alembic_config(), revision)


# -- commands on a host -------------------------------------------------------------------------

league_db_cli = AppGroup("league-db", help="league_api's own database migrations.")


@league_db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Create or upgrade league_api's tables."""
    upgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]


@league_db_cli.command("downgrade")
@click.argument("revision", default="-1")
def downgrade_command(revision: str) -> None:
    """Revert league_api's tables to an earlier revision."""
    command.downgrade(alembic_config(), revision)


@league_db_cli.command("current")
def current_command() -> None:
    """Show the revision league_api's tables are at."""
    command.current(alembic_config())


@league_db_cli.command("check")
def check_command() -> None:
    """Fail if league_api's models and its migrations disagree."""
    command.check(alembic_config())


def init_app(app: Flask, standalone: bool) -> None:
    """``db`` (Flask-Migrate) for league_api's own app; ``league-db`` on a host."""
    if standalone:
        from flask_migrate import Migrate

        Migrate(app, app.extensions[EXTENSION]["db"], directory=str(DIRECTORY))
        return
    app.cli.add_command(league_db_cli)
    # The host's own `flask db migrate` must never propose anything for league tables.
    prefix = app.extensions[EXTENSION]["prefix"]
    hide_from_host_migrate(app, owned_tables() | {prefix + VERSION_TABLE})
