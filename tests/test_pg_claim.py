"""PostgreSQL's claim bounds only its own wait: the view runs under the session's lock_timeout."""

import pytest
from commit_hook import HOOK
from sqlalchemy import text

from league_api.db import db

pytestmark = pytest.mark.backend("postgresql")

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
seen: list[str] = []


@pytest.fixture
def app_config():
    def record_lock_timeout(_key: str) -> None:
        seen.append(db.session.execute(text("SHOW lock_timeout")).scalar_one())

    seen.clear()
    return {HOOK: record_lock_timeout}


def test_claim_restores_the_operators_lock_timeout_for_the_view(app, api):
    with app.app_context():
        # An operator's setting for every session of this role (restored at the end).
        db.session.execute(text("ALTER ROLE CURRENT_USER SET lock_timeout = '7s'"))
        db.session.commit()
        db.engine.dispose()
    try:
        assert api.post("/tickets", "alice", TICKET, key="pg-claim-1").status_code == 201
    finally:
        with app.app_context():
            db.session.execute(text("ALTER ROLE CURRENT_USER RESET lock_timeout"))
            db.session.commit()
            db.engine.dispose()
    # Inside the request's transaction, after the claim: the operator's 7s, not the claim's 5s.
    assert seen == ["7s"]
