"""Exactly-once write views for any Flask app on ``league_api.db``.

Knows nothing of leagues: it needs only a caller identity (a callable) to scope records.
"""

from league_api.idempotency.commands import idempotency_cli
from league_api.idempotency.decorator import (
    KEY_HEADER,
    REPLAYED_HEADER,
    begin_write_for_view,
    idempotent,
)
from league_api.idempotency.decorator import init_app as _init_decorator
from league_api.idempotency.model import IdempotencyRecord
from league_api.idempotency.store import purge_expired


def init_app(app, identity=None, blueprint=None) -> None:
    """Configure the caller identity (the app's, or one blueprint's) and add the purge command."""
    _init_decorator(app, identity, blueprint)
    app.cli.add_command(idempotency_cli)


__all__ = [
    "KEY_HEADER",
    "REPLAYED_HEADER",
    "IdempotencyRecord",
    "begin_write_for_view",
    "idempotent",
    "init_app",
    "purge_expired",
]
