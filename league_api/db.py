"""league_api's tables, the database of the current app, and creating or upgrading it.

The models live on league_api's own ``Base`` (its own MetaData), never on a host's: a host
passes its Flask-SQLAlchemy instance to ``league_api.init_app(app, db=host_db)`` and the API
then reads and writes through the host's session and engine, one session and one transaction
per request, with its tables beside the host's. Without ``db=`` league_api makes its own
instance. ``db`` below is a proxy to whichever instance the current app uses, so the domain
code keeps writing ``db.session``.

Table names carry ``LEAGUE_API_TABLE_PREFIX`` (an environment variable, read once when the
models are defined; default empty, the names of 0.1.0).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import DeclarativeBase

from league_api.errors import APIError, ServiceUnavailable, is_unavailable_error
from league_api.idempotency.model import check_prefix
from league_api.idempotency.transactions import (
    WRITE_OPTION,
    EngineConflict,
    WriteLockTimeout,
    begin_write,
    configure_engine,
    ensure_write_transaction,
    finish_write,
    read_row,
    release_read_connection,
    run_write,
    transactional,
    write_row,
)

log = logging.getLogger(__name__)

TABLE_PREFIX = check_prefix(os.environ.get("LEAGUE_API_TABLE_PREFIX", ""))
EXTENSION = "league_api"


def table_name(name: str) -> str:
    """A league table's name in the database: the prefix, then the name."""
    return TABLE_PREFIX + name


class Base(DeclarativeBase):
    """league_api's declarative base; its MetaData holds league tables only."""

    metadata = MetaData()


class _Database:
    """``league_api.db.db``: the Flask-SQLAlchemy instance the current app's league uses."""

    Model = Base
    metadata = Base.metadata

    @property
    def sa(self) -> SQLAlchemy:
        try:
            return current_app.extensions[EXTENSION]["db"]
        except KeyError:
            raise RuntimeError("league_api.init_app(app) was not called on this app") from None

    @property
    def session(self) -> Any:
        return self.sa.session

    @property
    def engine(self) -> Any:
        return self.sa.engine

    @property
    def engines(self) -> Any:
        return self.sa.engines

    def __getattr__(self, name: str) -> Any:
        # Everything else Flask-SQLAlchemy offers (db.select, db.Table, ...).
        return getattr(self.sa, name)

    def create_all(self) -> None:
        """``create_all`` of league tables only (tests compare it with the migrations)."""
        import league_api.models  # noqa: F401 - registers every table

        Base.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        import league_api.models  # noqa: F401

        Base.metadata.drop_all(self.engine)


db = _Database()

_own_sqlalchemy: SQLAlchemy | None = None


def own_sqlalchemy() -> SQLAlchemy:
    """league_api's own Flask-SQLAlchemy instance, for apps that do not bring one."""
    global _own_sqlalchemy
    if _own_sqlalchemy is None:
        _own_sqlalchemy = SQLAlchemy(metadata=Base.metadata)
    return _own_sqlalchemy


# -- creating and upgrading -----------------------------------------------------------------------


def init_db() -> None:
    """Create or upgrade the tables through the migrations (safe twice, or in many at once)."""
    from league_api import migrations

    migrations.upgrade(current_app)


TABLES_PENDING = "league_api.tables_pending"


def init_db_at_start(app: Flask) -> None:
    """Upgrade at start-up; if the database is down, on first contact instead.

    A server must come up while its database is briefly unreachable and answer 503 meanwhile
    (API.md 6), rather than die in every worker at boot.
    """
    from league_api.idempotency.migrating import MigrationRefused

    with app.app_context():
        try:
            init_db()
        except MigrationRefused:
            db.engine.dispose()  # the app will not start: close what it opened
            raise
        except OperationalError as error:
            if not is_unavailable_error(error):
                raise
            log.warning("database unreachable at start-up; tables will be created on first contact")
            app.extensions[TABLES_PENDING] = True


def check_tables_at_start(app: Flask) -> None:
    """Without AUTO_INIT_DB: refuse to start when a league table exists and is not ours.

    Ours means: recorded in our version table, or exactly a 0.1.0 schema (stamped on upgrade).
    """
    from sqlalchemy import inspect

    from league_api import migrations
    from league_api.idempotency.migrating import MigrationRefused, legacy_revisions

    with app.app_context():
        tree = migrations.tree(app)
        try:
            with tree.engine.connect() as connection:
                if tree.version_table not in inspect(connection).get_table_names():
                    legacy_revisions(connection, tree)
        except MigrationRefused:
            tree.engine.dispose()  # the app will not start: close what it opened
            raise
        except DBAPIError as error:
            if not is_unavailable_error(error):
                raise
            log.warning("database unreachable at start-up; its tables were not checked")


def ensure_tables() -> None:
    """Finish a start-up whose database was unreachable; 503 while it still is."""
    if not current_app.extensions.get(TABLES_PENDING):
        return
    try:
        init_db()
    except OperationalError as error:
        if is_unavailable_error(error):
            raise ServiceUnavailable() from None
        raise
    current_app.extensions[TABLES_PENDING] = False


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or upgrade the database tables (the same as the migration group's upgrade)."""
    init_db()
    click.echo("Initialised the database.")


def init_app(app: Flask, sa: SQLAlchemy | None = None) -> SQLAlchemy:
    """Bind league_api to ``sa`` (the host's) or to its own instance; add ``init-db``."""
    configured = app.config.get("LEAGUE_API_TABLE_PREFIX")
    if configured is not None and configured != TABLE_PREFIX:
        raise RuntimeError(
            f"LEAGUE_API_TABLE_PREFIX is {configured!r} in the app's config but the models were "
            f"defined with {TABLE_PREFIX!r}: set it in the environment before league_api is "
            "imported (table names are fixed when the models are defined)"
        )
    if sa is None:
        sa = own_sqlalchemy()
        if "sqlalchemy" in app.extensions and app.extensions["sqlalchemy"] is not sa:
            raise RuntimeError(
                "this app already has a Flask-SQLAlchemy instance: pass it, "
                "league_api.init_app(app, db=your_db)"
            )
        if "sqlalchemy" not in app.extensions:
            sa.init_app(app)
    elif app.extensions.get("sqlalchemy") is not sa:
        raise RuntimeError("init_app(app, db=...) needs the db already initialised on this app")
    app.extensions[EXTENSION] = {"db": sa, "prefix": TABLE_PREFIX}
    with app.app_context():
        for engine in sa.engines.values():
            try:
                configure_engine(
                    engine,
                    busy_timeout_ms=int(app.config.get("SQLITE_BUSY_TIMEOUT_MS", 5000)),
                    synchronous=str(app.config.get("SQLITE_SYNCHRONOUS", "FULL")).upper(),
                )
            except EngineConflict as error:
                raise EngineConflict(
                    f"league_api cannot use this app's database: {error}"
                ) from None
    app.cli.add_command(init_db_command)
    return sa


__all__ = [
    "APIError",
    "Base",
    "EngineConflict",
    "TABLE_PREFIX",
    "WRITE_OPTION",
    "WriteLockTimeout",
    "begin_write",
    "db",
    "ensure_write_transaction",
    "finish_write",
    "init_app",
    "read_row",
    "release_read_connection",
    "run_write",
    "table_name",
    "transactional",
    "write_row",
]
