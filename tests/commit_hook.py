"""Stop a keyed write just before its COMMIT, from the tests: a SQLAlchemy ``before_commit`` event.

A test sets ``app.config[HOOK]`` to a callable taking the Idempotency-Key; it runs inside the
request after the view and its idempotency record were written, before COMMIT reaches the
database (to hold a transaction open, cut the connection under it, or kill the worker there).
Production code knows nothing of it: the listener is registered when this module is imported.
"""

from __future__ import annotations

from flask import current_app, g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.orm import Session

from league_api.idempotency.decorator import KEY_HEADER, OUTCOME_ATTRIBUTE

HOOK = "TEST_BEFORE_KEYED_COMMIT"


@event.listens_for(Session, "before_commit")
def _before_keyed_commit(session: Session) -> None:
    # Savepoint releases fire this event too: only the request's own COMMIT counts.
    if not has_request_context() or session.get_nested_transaction() is not None:
        return
    if g.get(OUTCOME_ATTRIBUTE) != "executed":
        return
    hook = current_app.config.get(HOOK)
    if hook is not None:
        hook(request.headers[KEY_HEADER])
