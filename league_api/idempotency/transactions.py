"""Write transactions on the app's own Flask-SQLAlchemy instance, and what they need of its engine.

Generic: knows nothing of leagues. The SQLAlchemy instance is the one passed to
``league_api.idempotency.init_app(app, db=...)`` (league_api passes its own, or the host's).
"""

from __future__ import annotations

import functools
import itertools
import logging
import weakref
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from league_api.errors import ServiceUnavailable

EXTENSION = "league_api.idempotency"

# Execution option that marks a connection's transaction as a write (SQLite: BEGIN IMMEDIATE).
WRITE_OPTION = "league_api_write"
# With WRITE_OPTION: the caller sends SQLite's BEGIN IMMEDIATE itself (the purge retries it).
DEFERRED_OPTION = "league_api_deferred_write"

SYNCHRONOUS_LEVELS = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})

# Engines already set up (a host may mount both the API and @idempotent on one engine).
_configured: weakref.WeakSet[Engine] = weakref.WeakSet()


class WriteLockTimeout(ServiceUnavailable):
    """SQLite's write lock was not obtained within the busy timeout."""


class EngineConflict(RuntimeError):
    """The host's engine is set up in a way the exactly-once guarantees cannot work with."""


def sqlalchemy_of(app: Flask | None = None) -> Any:
    """The Flask-SQLAlchemy instance the layer writes through, for ``app`` or the current app."""
    app = app or current_app
    settings = app.extensions.get(EXTENSION)
    if settings is None or settings.get("db") is None:
        raise RuntimeError("call league_api.idempotency.init_app(app, db=...) first")
    return settings["db"]


def session() -> Any:
    return sqlalchemy_of().session


def default_engine() -> Engine:
    """The engine of the layer's SQLAlchemy instance (its records and the session's writes)."""
    settings = current_app.extensions.get(EXTENSION)
    engine = settings.get("engine") if settings else None
    return engine if engine is not None else sqlalchemy_of().engine


def check_engine(engine: Engine) -> None:
    """Refuse engine settings under which a keyed request could run twice or fail half-way."""
    dialect = engine.dialect.name
    if dialect not in {"sqlite", "postgresql"}:
        raise EngineConflict(f"league_api supports SQLite and PostgreSQL, not {dialect}")
    level = engine.get_execution_options().get("isolation_level") or getattr(
        engine.dialect, "_on_connect_isolation_level", None
    )
    if level is None:
        return
    level = str(level).upper().replace("_", " ")
    if dialect == "postgresql" and level != "READ COMMITTED":
        raise EngineConflict(
            f"the engine's isolation_level is {level}: league_api needs READ COMMITTED on "
            "PostgreSQL (a duplicate waits on the unique index, then reads the committed answer)"
        )
    if dialect == "sqlite" and level == "AUTOCOMMIT":
        raise EngineConflict(
            "the engine's isolation_level is AUTOCOMMIT: league_api needs transactions "
            "(a view's writes and its idempotency record commit together)"
        )


def configure_engine(
    engine: Engine, busy_timeout_ms: int = 5000, synchronous: str = "FULL"
) -> None:
    """Check the engine; on SQLite add WAL, foreign keys, a busy timeout and BEGIN [IMMEDIATE].

    Python 3.11's sqlite3 issues its own deferred BEGIN only before a write; a deferred
    transaction that reads then writes fails at once under concurrency instead of waiting.
    So the driver's transaction handling is switched off and we emit BEGIN ourselves,
    as SQLAlchemy's pysqlite dialect documentation describes. Only transactions marked with
    ``WRITE_OPTION`` (the layer's own write views) begin IMMEDIATE; every other one, the
    host's included, gets a plain BEGIN.
    """
    check_engine(engine)
    if engine.dialect.name != "sqlite":
        # ``before_execute``: every Core, ORM and driver-SQL execution on the engine's
        # connections, and unlike a cursor listener it keeps the direct read path (``_observed``).
        if not event.contains(engine, "before_execute", _count_statement):
            event.listen(engine, "before_execute", _count_statement)
        _configured.add(engine)
        return
    if engine in _configured:
        return
    if synchronous not in SYNCHRONOUS_LEVELS:
        raise ValueError(
            f"SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}"
        )
    if event.contains(engine, "begin", _on_begin):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.close()

    event.listen(engine, "begin", _on_begin)
    _configured.add(engine)
    # A host may have connected before: connections opened without the set-up above would
    # mix the driver's transactions with ours. Start the pool afresh.
    engine.dispose()


def _on_begin(connection: Any) -> None:
    options = connection.get_execution_options()
    if options.get(DEFERRED_OPTION):
        return
    statement = "BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN"
    if _observed(connection.engine):
        connection.exec_driver_sql(statement)
        return
    # Nobody sees the engine's statements: straight to the driver, as for the pre-lock reads.
    dialect = connection.dialect
    try:
        connection.connection.dbapi_connection.execute(statement)
    except dialect.loaded_dbapi.Error as error:
        # What Core would raise (e.g. OperationalError "database is locked" past the timeout).
        raise DBAPIError.instance(
            statement, (), error, dialect.loaded_dbapi.Error, dialect=dialect
        ) from error


def configure_app_engines(app: Flask, sa: Any) -> None:
    """Apply ``configure_engine`` to every engine of ``sa`` on ``app``."""
    if release_read_connection not in app.teardown_appcontext_funcs:
        app.teardown_appcontext(release_read_connection)
    with app.app_context():
        # Looked up once: Flask-SQLAlchemy's own lookup goes through the app per call.
        app.extensions[EXTENSION]["engine"] = sa.engine
        for engine in sa.engines.values():
            configure_engine(
                engine,
                busy_timeout_ms=int(app.config.get("SQLITE_BUSY_TIMEOUT_MS", 5000)),
                synchronous=str(app.config.get("SQLITE_SYNCHRONOUS", "FULL")).upper(),
            )


# ``flask.g`` attribute of the request's reads before its transaction (``_Reads``).
_READS = "league_api_reads"


class _Reads:
    """The reads before a write's transaction: one pool connection, outside the Session.

    Each read sees the last commit and takes no lock: SQLite's WAL readers never block, and
    PostgreSQL's connection is in autocommit (no ``BEGIN``, no ``ROLLBACK``: one round trip per
    read). A request answered from these reads alone (a replay, a conflict, a 401) never starts
    the Session's transaction. The connection goes back to the pool before the write
    transaction begins (``begin_write``), when the request guard is done, and at the latest when
    the request ends.
    """

    __slots__ = ("connection", "dbapi", "engine")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None
        try:
            self.dbapi = engine.raw_connection()
        except engine.dialect.loaded_dbapi.Error:
            # Again through Core, which raises it wrapped (a 503 for an unusable file).
            self.connection = Connection(engine, _allow_autobegin=False)
            self.dbapi = self.connection.connection
        if engine.dialect.name != "sqlite":
            try:
                # psycopg: each statement commits alone (no BEGIN, no ROLLBACK), until ``close``.
                self.dbapi.driver_connection.autocommit = True
                # And never back in the pool in autocommit, even if ``close`` is skipped (a
                # teardown before ours raised; the fairy is garbage-collected): the pool runs
                # this at check-in, after its reset, as for SQLAlchemy's own isolation level.
                self.dbapi._connection_record.finalize_callback.append(_autocommit_off)
            except engine.dialect.loaded_dbapi.Error:
                # A connection psycopg knows is dead: drop it; a new one, or Core's wrapped
                # error (a 503).
                self.dbapi.invalidate()
                self.connection = Connection(engine, _allow_autobegin=False).execution_options(
                    isolation_level="AUTOCOMMIT"
                )
                self.dbapi = self.connection.connection

    def core(self) -> Connection:
        """A Core connection on the same pool connection, for reads someone observes.

        Without autobegin (as SQLAlchemy's own first-connect queries): no BEGIN, and no
        transaction to end, so an observer sees the statements alone.
        """
        if self.connection is None:
            self.connection = Connection(self.engine, self.dbapi, _allow_autobegin=False)
        return self.connection

    def close(self) -> None:
        driver = self.dbapi.driver_connection
        if self.engine.dialect.name != "sqlite" and driver is not None and not driver.closed:
            try:
                driver.autocommit = False  # back to the pool as the pool handed it out
            except self.engine.dialect.loaded_dbapi.Error:
                self.dbapi.invalidate()
        (self.connection or self.dbapi).close()


def _autocommit_off(driver_connection: Any) -> None:
    try:
        driver_connection.autocommit = False
    except Exception:  # noqa: BLE001 - a connection psycopg can no longer use
        # Closed, it is refused at its next checkout and replaced, never used in autocommit.
        driver_connection.close()


def _pre_reads() -> _Reads:
    context = g._get_current_object()
    found = context.get(_READS)
    if found is None:
        found = _Reads(default_engine())
        setattr(context, _READS, found)
    return found


def release_read_connection(_error: BaseException | None = None) -> None:
    """Give the SQLite read connection back to the pool (a no-op without one)."""
    found = g.pop(_READS, None)
    if found is not None:
        found.close()


class _Prepared:
    """A statement compiled once, sent straight to the driver when nobody looks (SQLite; on
    PostgreSQL the reads before the write transaction).

    When nothing observes the engine's statements (no ``before/after_cursor_execute``
    listener, no echo), it runs on the DBAPI cursor: the same SQL and parameters SQLAlchemy
    would send (its bind processors applied here), with the columns' own result conversions,
    at a fraction of the CPU of a Core execution. Anyone who listens (query counters, tracing,
    tests) gets the ordinary Core execution, so what they see is unchanged. Statements with
    Python-side defaults, expanding parameters or a missing required parameter always go
    through Core.
    """

    def __init__(self, statement: Any, dialect: Any, column_keys: tuple[str, ...] | None) -> None:
        compiled = statement.compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
        )
        columns = list(statement.exported_columns) if _returns_rows(statement) else []
        self.statement = statement
        self.dialect = dialect
        self.sql = compiled.string
        binds = compiled.binds
        # qmark (sqlite3): a tuple in the order of the SQL; pyformat (psycopg): a dict by name.
        self.named = dialect.paramstyle == "pyformat"
        if self.named:
            # By each bind's key (a caller's parameter, or an anonymous one with its value),
            # sent under the name the SQL renders for it.
            escaped = getattr(compiled, "escaped_bind_names", None) or {}
            rendered = list(compiled.bind_names.items())
            self.positions = tuple(bind.key for bind, _ in rendered)
            self.names = tuple(escaped.get(name, name) for _, name in rendered)
        else:
            self.positions = tuple(compiled.positiontup or ())
            self.names = self.positions
        self.optional = {name: bind.value for name, bind in binds.items() if not bind.required}
        self.bind_processors = tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.positions
        )
        self.processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]
        self.row = namedtuple("Row", [column.key for column in columns]) if columns else None  # noqa: PYI024
        self.direct = (
            dialect.paramstyle in {"qmark", "pyformat"}
            and "POSTCOMPILE" not in self.sql
            and set(self.positions) <= set(binds)
            and not getattr(compiled, "insert_prefetch", None)
            and not getattr(compiled, "update_prefetch", None)
            and not any(bind.callable is not None for bind in binds.values())
        )

    def values(self, parameters: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any] | None:
        """The driver's parameters, or None if one is missing (Core then raises its error)."""
        try:
            raw = [
                parameters[name] if name in parameters else self.optional[name]
                for name in self.positions
            ]
        except KeyError:
            return None
        values = [
            value if process is None else process(value)
            for process, value in zip(self.bind_processors, raw, strict=True)
        ]
        return dict(zip(self.names, values, strict=True)) if self.named else tuple(values)

    def read_first(self, reads: _Reads, parameters: dict[str, Any]) -> Any:
        """A SELECT's first row on the pre-lock read connection (outside any transaction)."""
        values = self.values(parameters) if self.direct else None
        if values is not None and not _observed(reads.engine):
            try:
                row = self._run(reads.dbapi, values)
            except reads.engine.dialect.loaded_dbapi.Error:
                pass  # through Core below: its exception, its invalidation of a dead connection
            else:
                return None if row is None else self._convert(row)
        row = reads.core().execute(self.statement, parameters).first()
        return None if row is None else self.row(*row)

    def write(self, connection: Connection, parameters: dict[str, Any]) -> Any:
        """A write in the connection's transaction; its RETURNING row, if any, else None."""
        values = self.values(parameters) if self.direct else None
        if values is None or _observed(connection.engine) or _listened(connection):
            result = connection.execute(self.statement, parameters)
            return result.first() if self.row is not None else None
        dbapi = connection.connection.dbapi_connection
        try:
            row = self._run(dbapi, values)
        except self.dialect.loaded_dbapi.Error as error:
            # What Core raises (an IntegrityError for a duplicate key, say). A failed statement
            # changed nothing: SQLite undoes it alone and the transaction goes on.
            raise DBAPIError.instance(
                self.sql, values, error, self.dialect.loaded_dbapi.Error, dialect=self.dialect
            ) from error
        return None if row is None else self._convert(row)

    def _run(self, dbapi: Any, values: tuple[Any, ...]) -> Any:
        cursor = dbapi.cursor()
        try:
            cursor.execute(self.sql, values)
            return cursor.fetchone() if self.row is not None else None
        finally:
            cursor.close()

    def _convert(self, row: tuple[Any, ...]) -> Any:
        return self.row(
            *[
                value if process is None else process(value)
                for process, value in zip(self.processors, row, strict=True)
            ]
        )


def _returns_rows(statement: Any) -> bool:
    return bool(getattr(statement, "is_select", False) or getattr(statement, "_returning", ()))


def _listened(connection: Connection) -> bool:
    """Cursor listeners on this one connection (an engine's are ``_observed``)."""
    events = connection.dispatch
    return bool(events.before_cursor_execute or events.after_cursor_execute)


def _observed(engine: Engine) -> bool:
    """Whether anyone sees this engine's statements: its cursor listeners (the Engine class's
    included), a listener on the Connection class (SQLAlchemy flags the class), its SQL log."""
    events = engine.dispatch
    return bool(
        events.before_cursor_execute
        or events.after_cursor_execute
        or getattr(Connection, "_has_events", True)
        or engine.logger.isEnabledFor(logging.INFO)
    )


@functools.lru_cache(maxsize=256)
def _prepared(statement: Any, dialect: Any, column_keys: tuple[str, ...] | None) -> _Prepared:
    return _Prepared(statement, dialect, column_keys)


def read_row(statement: Any, parameters: dict[str, Any]) -> Any:
    """The first row of a SELECT built once at import, read before the write lock; or None.

    Columns are read by name or position, as on a SQLAlchemy ``Row``.
    """
    engine = default_engine()
    return _prepared(statement, engine.dialect, None).read_first(_pre_reads(), parameters)


def write_row(connection: Connection, statement: Any, parameters: dict[str, Any]) -> Any:
    """Run a write built once at import in ``connection``'s transaction (the Session's).

    Returns the ``RETURNING`` row, if the statement has one, else None. On SQLite it goes
    straight to the driver unless someone observes the engine's statements (``_Prepared``).
    An ``INSERT`` without ``.values()`` is compiled for the parameters' keys.
    """
    if connection.dialect.name != "sqlite":
        result = connection.execute(statement, parameters)
        return result.first() if _returns_rows(statement) else None
    cache_key = (statement, connection.dialect, tuple(parameters))
    prepared = _written.get(cache_key)
    if prepared is None:
        # Column values given only at execution (``insert(table)`` without them in ``.values()``).
        columns = statement.table.c if statement.is_insert or statement.is_update else ()
        column_keys = tuple(name for name in parameters if name in columns) if columns else None
        prepared = _written[cache_key] = _prepared(statement, connection.dialect, column_keys)
    return prepared.write(connection, parameters)


# write_row's statements by (statement, dialect, parameter names): a dict lookup per write.
# Bounded by the statements built at import and the parameter sets they are given.
_written: dict[tuple[Any, Any, tuple[str, ...]], _Prepared] = {}


# ``flask.g`` attribute: the Session transaction ``begin_write`` began as a write.
_WRITE_TRANSACTION = "league_api_write_transaction"


def begin_write() -> None:
    """Start this request's transaction as a write; a no-op if it already is one.

    On SQLite this takes the database write lock before the first read, so the
    transaction can never fail half-way for want of it.
    """
    release_read_connection()
    current = session()()  # the Session itself: scoped_session does not proxy in_transaction
    begun = g.get(_WRITE_TRANSACTION)
    if begun is not None and begun is current.get_transaction() and begun.is_active:
        return  # the request guard began it, the view's decorator asks again
    try:
        if current.in_transaction():
            if current.connection().get_execution_options().get(WRITE_OPTION, False):
                return
            # A read-only transaction cannot be upgraded on SQLite; it wrote nothing, so end it.
            current.commit()
        current.connection(execution_options={WRITE_OPTION: True})
        setattr(g, _WRITE_TRANSACTION, current.get_transaction())
    except OperationalError as error:
        current.rollback()
        if "locked" in str(error.orig).lower() or "busy" in str(error.orig).lower():
            raise WriteLockTimeout("write lock not obtained in time, retry later") from None
        raise


def database_footprint() -> int:
    """A count that moves whenever the session's connection may have changed the database.

    SQLite counts the rows changed itself (``total_changes``), whatever wrote them: Core, the
    ORM's flush, the raw driver. PostgreSQL: the statements sent on the connection (a read
    counts too). Only for a session already in its write transaction.
    """
    connection = session()().connection()
    if connection.dialect.name == "sqlite":
        return connection.connection.dbapi_connection.total_changes
    sent = connection.info.get(_STATEMENTS_SENT)
    if sent is None:
        # Nothing counts this connection's statements (its engine lacks ``_count_statement``;
        # PostgreSQL's claim has always gone through it by now): assume the view wrote.
        return next(_uncounted)
    return sent


# ``Connection.info`` key (it lives with the pool's connection): statements sent on it so far.
_STATEMENTS_SENT = "league_api_statements_sent"
# Footprints of connections nothing counts: never twice the same.
_uncounted = itertools.count()


def _count_statement(connection: Connection, *_args: Any) -> None:
    info = connection.info
    info[_STATEMENTS_SENT] = info.get(_STATEMENTS_SENT, 0) + 1


def finish_write(response_status: int) -> None:
    """Commit below 500; a 5xx keeps nothing."""
    if response_status >= 500:
        session().rollback()
    else:
        session().commit()


def run_write(view: Callable[..., Any], *args: Any, **kwargs: Any) -> Response:
    """Run a view in one write transaction: committed below 500, rolled back on any error."""
    begin_write()
    try:
        response = current_app.make_response(view(*args, **kwargs))
    except BaseException:
        session().rollback()
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
