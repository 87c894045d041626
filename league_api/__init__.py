"""league_api: a league and match API whose every write endpoint is safe to retry."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

API_PREFIX = "/api/v1"

DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_DATABASE_URI": "sqlite:///league_api.sqlite",
    "MAX_BODY_BYTES": 1024 * 1024,
    "IDEMPOTENCY_TTL_SECONDS": 86400,
    # How long a keyed duplicate waits for the first request before a 409 in_use.
    "IDEMPOTENCY_LOCK_TIMEOUT_MS": 5000,
    "IDEMPOTENCY_RETRY_AFTER_SECONDS": 1,
    "SQLITE_BUSY_TIMEOUT_MS": 5000,
    "SQLITE_SYNCHRONOUS": "FULL",
    # Create missing tables when the app starts, so the first `flask run` just works.
    "AUTO_INIT_DB": True,
}


def init_app(app: Flask, db: Any = None, *, _standalone: bool = False) -> None:
    """Mount the whole API on a host app: models, blueprints under /api/v1, errors, CLI.

    ``db`` is the host's own Flask-SQLAlchemy instance (already ``init_app``-ed on ``app``):
    league tables then live beside the host's and each request has one session and one
    transaction. Without it league_api brings its own instance.
    """
    from league_api import cli, idempotency, migrations, observability, ratelimit, serve
    from league_api import db as database
    from league_api.api import api, keep_paths_exact, register_converters
    from league_api.auth import current_key_id
    from league_api.errors import register_error_handlers

    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    sa = database.init_app(app, db)
    # Scoped to the API's blueprint: a host's own identity never applies to API records.
    idempotency.init_app(
        app, db=sa, identity=current_key_id, blueprint=api.name, table_prefix=database.TABLE_PREFIX
    )
    register_error_handlers(app, API_PREFIX)
    register_converters(app)
    # App-wide hooks under the prefix, in this order: start the clock, then count the address.
    observability.init_app(app, API_PREFIX)
    ratelimit.init_app(app, API_PREFIX)
    app.register_blueprint(api, url_prefix=API_PREFIX)
    keep_paths_exact(app, API_PREFIX, whole_map=_standalone)
    cli.init_app(app)
    serve.init_app(app)
    migrations.init_app(app, standalone=_standalone)
    if app.config["AUTO_INIT_DB"]:
        database.init_db_at_start(app)
    else:
        database.check_tables_at_start(app)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Defaults, then instance/config.py, then FLASK_* variables, then ``test_config``."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if test_config is not None:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    init_app(app, _standalone=True)
    return app


__all__ = ["API_PREFIX", "create_app", "init_app"]
