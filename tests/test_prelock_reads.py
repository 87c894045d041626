"""Reads before the write transaction (authentication, the record lookup) answer the same
whether they run on the DBAPI cursor (nobody observes the engine) or through Core (someone
does: a listener sees every such statement)."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection

from league_api.db import db

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


def _answers(api) -> list[tuple[int, bytes, str | None]]:
    """A keyed ticket, its replay, its conflict, a bad key and a GET: what each answers."""
    found = []
    for body, key, who in (
        (TICKET, "prelock", "alice"),
        (TICKET, "prelock", "alice"),
        ({**TICKET, "subject": "x"}, "prelock", "alice"),
    ):
        response = api.post("/tickets", who, body, key=key)
        found.append((response.status_code, response.headers.get("Idempotent-Replayed")))
    found.append((api.get("/tickets", "alice").status_code, None))
    bad = api.client.get("/api/v1/tickets", headers={"Authorization": "Bearer lk_nothing"})
    found.append((bad.status_code, None))
    return found


@pytest.mark.parametrize("observer", ["none", "engine", "connection class"])
def test_reads_answer_alike_observed_or_not(app, api, observer):
    seen: list[str] = []

    def on_execute(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    with app.app_context():
        target = db.engine if observer == "engine" else Connection
    if observer != "none":
        event.listen(target, "before_cursor_execute", on_execute)
    try:
        answers = _answers(api)
    finally:
        if observer != "none":
            event.remove(target, "before_cursor_execute", on_execute)
    assert answers == [(201, None), (201, "true"), (409, None), (200, None), (401, None)]
    if observer != "none":
        # Every read is seen: three keyed requests, a GET and the refused key authenticate.
        assert sum(text.startswith("SELECT api_keys.id") for text in seen) == 5, seen
        assert sum("idempotency_records" in text for text in seen) >= 3, seen
