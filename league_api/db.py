"""The SQLAlchemy object, per-dialect connection setup, write transactions and ``init-db``."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import click
from flask import Flask, Response, current_app
from flask.cli import with_appcontext
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase

from league_api.errors import APIError, ServiceUnavailable, is_unavailable_error

log = logging.getLogger(__name__)


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# Execution option that marks a connection's transaction as a write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "league_api_write"
# With WRITE_OPTION: SQLite's BEGIN IMMEDIATE waits for ``begin_write`` (see ``defer_write``).
DEFERRED_OPTION = "league_api_deferred_write"


class WriteLockTimeout(ServiceUnavailable):
    """SQLite's write lock was not obtained within the busy timeout."""


def configure_sqlite(engine: Engine, busy_timeout_ms: int, synchronous: str) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for write transactions.

    Python 3.11's sqlite3 issues its own deferred BEGIN only before a write; a deferred
    transaction that reads then writes fails at once under concurrency instead of waiting.
    So the driver's transaction handling is switched off and we emit BEGIN ourselves,
    as SQLAlchemy's pysqlite dialect documentation describes.
    """

    if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(
            f"SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}"
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get(DEFERRED_OPTION, False):
            return  # reads run in autocommit mode until begin_write takes the lock
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")


def defer_write() -> None:
    """Open this request's write transaction, but let it read before taking the write lock.

    Authentication and its rate limit run before the write lock (API.md 3): on SQLite their
    reads run outside any transaction until ``begin_write`` issues BEGIN IMMEDIATE on the same
    connection, so no statement is added and no extra transaction ends. PostgreSQL needs no
    lock to write: the same transaction carries on.
    """
    session = db.session()
    if not session.in_transaction():
        session.connection(execution_options={WRITE_OPTION: True, DEFERRED_OPTION: True})


def begin_write() -> None:
    """Start this request's transaction as a write; a no-op if it already is one.

    On SQLite this takes the database write lock before the first read, so the
    transaction can never fail half-way for want of it.
    """
    session = db.session()
    try:
        if session.in_transaction():
            connection = session.connection()
            options = connection.get_execution_options()
            if options.get(DEFERRED_OPTION, False):
                dbapi = connection.connection.dbapi_connection
                if connection.dialect.name == "sqlite" and not dbapi.in_transaction:
                    connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            if options.get(WRITE_OPTION, False):
                return
            # A read-only transaction cannot be upgraded on SQLite; it wrote nothing, so end it.
            session.commit()
        session.connection(execution_options={WRITE_OPTION: True})
    except OperationalError as error:
        session.rollback()
        if "locked" in str(error.orig).lower() or "busy" in str(error.orig).lower():
            raise WriteLockTimeout("write lock not obtained in time, retry later") from None
        raise


def finish_write(response_status: int) -> None:
    """Commit below 500; a 5xx keeps nothing."""
    if response_status >= 500:
        db.session.rollback()
    else:
        db.session.commit()


def run_write(view: Callable[..., Any], *args: Any, **kwargs: Any) -> Response:
    """Run a view in one write transaction: committed below 500, rolled back on any error."""
    begin_write()
    try:
        response = current_app.make_response(view(*args, **kwargs))
    except BaseException:
        db.session.rollback()
        raise
    finish_write(response.status_code)
    return response


def transactional(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a non-keyed write view and run it in one transaction."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        return run_write(view, *args, **kwargs)

    wrapper.write_transaction = True  # type: ignore[attr-defined]
    return wrapper


def ensure_write_transaction(view: Callable[..., Any]) -> None:
    """Begin the write transaction early for a view marked as a write (before auth reads)."""
    if getattr(view, "write_transaction", False):
        begin_write()


def init_db() -> None:
    """Create every table that does not exist yet (safe twice, or in many workers at once)."""
    import league_api.models  # noqa: F401 - registers every table on db.metadata

    engine = db.engine
    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            if engine.dialect.name == "postgresql":
                # Workers starting together would race on CREATE; one at a time.
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7130423)")
            db.metadata.create_all(connection)


TABLES_PENDING = "league_api.tables_pending"


def init_db_at_start(app: Flask) -> None:
    """Create missing tables at start-up; if the database is down, on first contact instead.

    A server must come up while its database is briefly unreachable and answer 503 meanwhile
    (API.md 6), rather than die in every worker at boot.
    """
    with app.app_context():
        try:
            init_db()
        except OperationalError as error:
            if not is_unavailable_error(error):
                raise
            log.warning("database unreachable at start-up; tables will be created on first contact")
            app.extensions[TABLES_PENDING] = True


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
    """Create the database tables."""
    init_db()
    click.echo("Initialised the database.")


def init_app(app: Flask) -> None:
    """Bind ``db`` to the app, set SQLite up for a real web server, add ``init-db``."""
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                configure_sqlite(
                    engine,
                    busy_timeout_ms=int(app.config.get("SQLITE_BUSY_TIMEOUT_MS", 5000)),
                    synchronous=str(app.config.get("SQLITE_SYNCHRONOUS", "FULL")).upper(),
                )
    app.cli.add_command(init_db_command)


__all__ = ["APIError", "db", "begin_write", "transactional", "init_app", "WriteLockTimeout"]
