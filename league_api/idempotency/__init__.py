"""Exactly-once write views for any Flask app, on the app's own Flask-SQLAlchemy instance.

Knows nothing of leagues: it needs only the app's ``db`` and a caller identity (a callable) to
scope records. Importing this package creates no SQLAlchemy instance and no table; the record
table is defined by ``init_app`` and created by ``flask idempotency upgrade`` (its own
migrations and version table).
"""

from __future__ import annotations

from typing import Any

from league_api.idempotency.decorator import (
    KEY_HEADER,
    REPLAYED_HEADER,
    answer_early,
    begin_write_for_view,
    idempotent,
    record_scope_tail,
    remember_joined_record,
)
from league_api.idempotency.decorator import init_app as _init_decorator
from league_api.idempotency.store import purge_expired
from league_api.idempotency.transactions import (
    EXTENSION,
    EngineConflict,
    configure_app_engines,
    transactional,
)


def init_app(
    app: Any,
    db: Any = None,
    identity: Any = None,
    blueprint: str | None = None,
    table_prefix: str | None = None,
) -> None:
    """Use ``db`` (the app's Flask-SQLAlchemy instance) and scope records by ``identity``.

    ``identity`` is the app's default, or one blueprint's with ``blueprint=``. Records live
    in ``<table_prefix>idempotency_records`` (``IDEMPOTENCY_TABLE_PREFIX``, default empty).
    Calling it again (league_api and its host both may) keeps the first ``db`` and prefix.
    """
    from league_api.idempotency.commands import idempotency_cli
    from league_api.idempotency.model import record_model
    from league_api.idempotency.savepoints import use_plain_savepoints

    settings = app.extensions.get(EXTENSION, {})
    bound = settings.get("db")
    db = db or bound or app.extensions.get("sqlalchemy")
    if db is None:
        raise RuntimeError(
            "league_api.idempotency.init_app needs db=your Flask-SQLAlchemy instance"
        )
    if bound is not None and db is not bound:
        raise RuntimeError("league_api.idempotency is already bound to another SQLAlchemy instance")
    if app.extensions.get("sqlalchemy") is not db:
        raise RuntimeError("init_app(app, db=...) needs the db already initialised on this app")
    prefix = table_prefix if table_prefix is not None else settings.get("prefix")
    if prefix is None:
        prefix = app.config.get("IDEMPOTENCY_TABLE_PREFIX", "")
    if settings.get("prefix") not in (None, prefix):
        raise RuntimeError(
            f"idempotency records already use the prefix {settings['prefix']!r}, not {prefix!r}"
        )
    _init_decorator(app, identity, blueprint, db=db)
    settings = app.extensions[EXTENSION]
    settings["prefix"] = prefix
    settings["records"] = record_model(prefix).__table__
    try:
        configure_app_engines(app, db)
    except EngineConflict as error:
        raise EngineConflict(f"@idempotent cannot use this app's database: {error}") from None
    with app.app_context():
        for engine in db.engines.values():
            use_plain_savepoints(engine)
    app.cli.add_command(idempotency_cli)
    # The record table has its own migrations: a host's autogenerate must leave it alone.
    from league_api.idempotency.commands import VERSION_TABLE
    from league_api.idempotency.migrating import hide_from_host_migrate

    hide_from_host_migrate(app, {settings["records"].name, prefix + VERSION_TABLE})


def __getattr__(name: str) -> Any:
    # The default-prefix record class, built on first use (never at import).
    if name == "IdempotencyRecord":
        from league_api.idempotency.model import record_model

        return record_model("")
    raise AttributeError(name)


__all__ = [
    "KEY_HEADER",
    "REPLAYED_HEADER",
    "EngineConflict",
    "IdempotencyRecord",
    "answer_early",
    "begin_write_for_view",
    "idempotent",
    "init_app",
    "purge_expired",
    "record_scope_tail",
    "remember_joined_record",
    "transactional",
]
