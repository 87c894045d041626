"""Running Alembic migrations safely: one transaction, one migrator at a time, legacy stamping.

Generic (no league knowledge), shared by the idempotency layer's own migrations and by
league_api's. Each migration tree's ``env.py`` calls :func:`run_env` with what it owns.

* One transaction for the whole upgrade, under a lock: ``pg_advisory_xact_lock`` on
  PostgreSQL, the write lock (``BEGIN IMMEDIATE``) on SQLite. A second process waits, then
  reads the version table and finds nothing left to do.
* SQLite runs with ``foreign_keys=OFF`` (a table rebuild under ON would cascade-delete child
  rows), then ``PRAGMA foreign_key_check`` must come back empty before the commit.
* Tables a tree owns that exist without its version table (made by ``create_all`` before
  migrations existed) are stamped only if their schema equals a known legacy snapshot
  exactly; otherwise the upgrade is refused, listing the differences.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, inspect
from sqlalchemy.engine import Connection, Engine

from league_api.idempotency.transactions import WRITE_OPTION, _on_begin, configure_engine

# Any fixed number serves; it only has to differ from the locks a host takes for itself.
ADVISORY_LOCK_ID = 7130423


class MigrationRefused(RuntimeError):
    """The database holds tables this app would own but cannot recognise as its own."""


@dataclass
class Tree:
    """One migration tree as an app uses it."""

    engine: Engine
    metadata: MetaData
    version_table: str
    prefix: str
    owned_tables: frozenset[str]
    # (snapshot file, {variant name: revisions to stamp}) for databases made before migrations.
    legacy: dict[str, list[str]] = field(default_factory=dict)
    legacy_snapshot: Path | None = None

    def include_name(self, name: str | None, type_: str, parent_names: Any) -> bool:
        """Autogenerate looks at our own tables only: never the host's, never a version table."""
        if type_ == "table":
            return name in self.owned_tables
        return True


# -- beside a host's own Flask-Migrate ---------------------------------------------------------

HIDDEN = "league_api.hidden_tables"


def hide_from_host_migrate(app: Any, names: Iterable[str]) -> None:
    """Make the host's Flask-Migrate autogenerate ignore ``names`` (tables we migrate ourselves).

    Flask-Migrate keeps one configuration per app, read by the host's env.py; we chain an
    ``include_name`` filter into it, now or, if the host sets Flask-Migrate up later, when
    its first app context is pushed.
    """
    from flask import appcontext_pushed

    hidden = app.extensions.setdefault(HIDDEN, set())
    first = not hidden
    hidden.update(names)
    _install_filter(app)
    if first:
        appcontext_pushed.connect(_on_app_context, app, weak=False)


def _on_app_context(sender: Any, **_: Any) -> None:
    _install_filter(sender)


def _install_filter(app: Any) -> None:
    host = app.extensions.get("migrate")
    if host is None or getattr(host, "_league_api_filtered", False):
        return
    hidden = app.extensions[HIDDEN]
    theirs = host.configure_args.get("include_name")

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table" and name in hidden:
            return False
        return theirs is None or theirs(name, type_, parent_names)

    host.configure_args["include_name"] = include_name
    host._league_api_filtered = True


# -- schema dumps -------------------------------------------------------------------------------


def schema_dump(connection: Connection, tables: Iterable[str]) -> dict[str, Any]:
    """A normalised, JSON-able description of ``tables`` as the database has them.

    Covers what autogenerate does not compare reliably: server defaults and (PostgreSQL)
    sequences. Column order and constraint names the database made up are left out.
    """
    inspector = inspect(connection)
    dialect = connection.dialect
    existing = set(inspector.get_table_names())
    dump: dict[str, Any] = {"tables": {}}
    for table in sorted(set(tables) & existing):
        columns = {}
        for column in inspector.get_columns(table):
            default = column.get("default")
            columns[column["name"]] = {
                "type": str(column["type"].compile(dialect=dialect)),
                "nullable": bool(column["nullable"]),
                "default": None if default is None else str(default),
            }
        foreign_keys = sorted(
            [
                fk["constrained_columns"],
                fk["referred_table"],
                fk["referred_columns"],
                (fk.get("options") or {}).get("ondelete"),
            ]
            for fk in inspector.get_foreign_keys(table)
        )
        unique = sorted(sorted(u["column_names"]) for u in inspector.get_unique_constraints(table))
        indexes = sorted(
            [
                index["name"],
                index["column_names"],
                bool(index["unique"]),
                {k: str(v) for k, v in sorted((index.get("dialect_options") or {}).items())},
            ]
            for index in inspector.get_indexes(table)
            if not index.get("duplicates_constraint")
        )
        dump["tables"][table] = {
            "columns": columns,
            "primary_key": sorted(inspector.get_pk_constraint(table)["constrained_columns"]),
            "foreign_keys": foreign_keys,
            "unique": unique,
            "indexes": indexes,
        }
    if dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            "SELECT sequencename, data_type::text, start_value, increment_by"
            " FROM pg_sequences WHERE schemaname = current_schema()"
        ).all()
        dump["sequences"] = {
            name: [data_type, int(start), int(step)]
            for name, data_type, start, step in sorted(rows)
            if _sequence_owned(name, tables)
        }
    return dump


def _sequence_owned(name: str, tables: Iterable[str]) -> bool:
    # A SERIAL column's sequence is <table>_<column>_seq; others are listed among the tables.
    names = set(tables)
    return name in names or any(name.startswith(table + "_") for table in names)


def schema_differences(actual: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Human-readable differences, one line each (empty when the schemas are the same)."""
    lines = []
    for table in sorted(set(actual["tables"]) | set(expected["tables"])):
        have, want = actual["tables"].get(table), expected["tables"].get(table)
        if have is None:
            lines.append(f"table {table}: missing")
        elif want is None:
            lines.append(f"table {table}: not expected")
        else:
            for part in ("columns", "primary_key", "foreign_keys", "unique", "indexes"):
                if part == "columns":
                    for column in sorted(set(have[part]) | set(want[part])):
                        if have[part].get(column) != want[part].get(column):
                            lines.append(
                                f"table {table}, column {column}: is {have[part].get(column)},"
                                f" expected {want[part].get(column)}"
                            )
                elif have[part] != want[part]:
                    lines.append(f"table {table}, {part}: is {have[part]}, expected {want[part]}")
    if actual.get("sequences") != expected.get("sequences"):
        lines.append(
            f"sequences: are {actual.get('sequences')}, expected {expected.get('sequences')}"
        )
    return lines


def load_snapshots(path: Path, dialect: str) -> dict[str, dict[str, Any]]:
    """Legacy schema snapshots of one dialect, by variant name."""
    return json.loads(path.read_text())[dialect]


# -- the locked transaction ---------------------------------------------------------------------


def _pragma(connection: Connection, statement: str) -> None:
    # Outside any transaction (SQLite ignores foreign_keys changes inside one), so through the
    # DBAPI connection, which SQLAlchemy does not auto-begin.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction holding the migration lock; SQLite with foreign keys off."""
    sqlite = engine.dialect.name == "sqlite"
    if sqlite and not event.contains(engine, "begin", _on_begin):
        configure_engine(engine)
    with engine.connect() as connection:
        if sqlite:
            _pragma(connection, "PRAGMA foreign_keys = OFF")
        try:
            connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                if engine.dialect.name == "postgresql":
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})")
                yield connection
                if sqlite:
                    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if problems:
                        raise MigrationRefused(
                            "foreign key check failed after migrating, nothing was changed: "
                            + "; ".join(f"{row[0]} row {row[1]} -> {row[2]}" for row in problems)
                        )
        finally:
            if sqlite:
                _pragma(connection, "PRAGMA foreign_keys = ON")


# -- env.py -------------------------------------------------------------------------------------


def legacy_revisions(connection: Connection, tree: Tree) -> list[str]:
    """Revisions to stamp on a database made before migrations; [] for an empty one.

    Raises MigrationRefused, naming each table that differs, when our tables exist but
    match no snapshot (or belong to someone else).
    """
    present = sorted(set(inspect(connection).get_table_names()) & tree.owned_tables)
    if not present:
        return []
    if tree.prefix or tree.legacy_snapshot is None:
        raise MigrationRefused(
            f"table {present[0]} exists and is not league_api's (no {tree.version_table}); "
            "choose another table prefix"
        )
    actual = schema_dump(connection, tree.owned_tables)
    snapshots = load_snapshots(tree.legacy_snapshot, connection.dialect.name)
    best: list[str] | None = None
    for variant, revisions in tree.legacy.items():
        expected = snapshots.get(variant)
        if expected is None:
            continue
        differences = schema_differences(actual, expected)
        if not differences:
            return revisions
        if best is None or len(differences) < len(best):
            best = differences
    raise MigrationRefused(
        f"tables {', '.join(present)} exist without {tree.version_table} and differ from every "
        "schema league_api made before migrations, so they were left alone:\n  "
        + "\n  ".join(best or ["no snapshot for this database"])
    )


def run_env(context: Any, tree: Tree, on_connection: Callable[[Connection], None] | None = None):
    """The body of a tree's env.py: configure Alembic, stamp a legacy database, migrate."""
    options = dict(
        target_metadata=tree.metadata,
        version_table=tree.version_table,
        include_name=tree.include_name,
        compare_type=True,
        compare_server_default=True,
        render_as_batch=True,
        table_prefix=tree.prefix,
    )
    if context.is_offline_mode():
        context.configure(url=tree.engine.url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    with schema_transaction(tree.engine) as connection:
        context.configure(connection=connection, **options)
        migration_context = context.get_context()
        if not migration_context.get_current_heads():
            for revision in legacy_revisions(connection, tree):
                migration_context.stamp(context.script, revision)
        context.run_migrations()
        if on_connection is not None:
            on_connection(connection)
