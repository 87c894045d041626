"""What an outside project's client tests look like with league_api's pytest plugin.

Run from the repository root: ``python -m pytest -c tests_outside/pytest.ini tests_outside``
(with ``LEAGUE_API_TEST_DATABASE_URL`` set, on a PostgreSQL database the plugin creates and
drops).
"""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

TICKET = {"subject": "Lobby lag", "description": "EU lobbies lag", "category": "technical_bug"}


@pytest.fixture
def league_app_config():
    # An outside project's own settings for the app under test.
    return {"IDEMPOTENCY_TTL_SECONDS": 3600}


def test_the_app_runs_on_its_own_fresh_database(league_app, league_database_url, request):
    assert league_app.config["IDEMPOTENCY_TTL_SECONDS"] == 3600
    url = make_url(league_database_url)
    if url.drivername.startswith("postgresql"):
        # A database the plugin made for this session, never the one named in the URL.
        server = (
            request.config.getoption("--league-database-url")
            or os.environ["LEAGUE_API_TEST_DATABASE_URL"]
        )
        assert url.database != make_url(server).database
        assert "_league_" in url.database
    engine = create_engine(league_database_url)
    try:
        assert "league_api_alembic_version" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_keyed_ticket_retry_is_replayed_byte_for_byte(
    league_client, league_world, league_assert_replayed
):
    headers = {
        "Authorization": f"Bearer {league_world['keys']['alice']}",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    first = league_client.post("/api/v1/tickets", json=TICKET, headers=headers)
    assert first.status_code == 201
    retry = league_client.post("/api/v1/tickets", json=TICKET, headers=headers)
    league_assert_replayed(first, retry)
    listed = league_client.get(
        "/api/v1/tickets", headers={"Authorization": headers["Authorization"]}
    )
    assert len(listed.get_json()["tickets"]) == 1


def test_the_assertion_catches_a_second_run(league_http, league_assert_replayed):
    first = league_http.post("/tickets", "alice", TICKET, key="one")
    other = league_http.post("/tickets", "alice", TICKET, key="two")  # another key: runs again
    with pytest.raises(AssertionError):
        league_assert_replayed(first, other)


def test_a_challenge_between_demo_teams(league_http, league_world):
    alpha, bravo = league_world["teams"]["alpha"], league_world["teams"]["bravo"]
    created = league_http.post(
        "/matches/create",
        "alice",
        {
            "teamId": alpha,
            "gameId": league_world["games"]["demo-game"],
            "gameModeId": "5v5",
            "teamSize": 1,
            "bestOf": 1,
            "activeRoster": [league_world["users"]["alice"]],
            "challengedTeamId": bravo,
        },
        key=str(uuid.uuid4()),
    )
    assert created.status_code == 201, created.get_json()
    match_id = created.get_json()["matchId"]
    accepted = league_http.post(
        f"/matches/{match_id}/accept",
        "bob",
        {"teamId": bravo, "activeRoster": [league_world["users"]["bob"]]},
        key=str(uuid.uuid4()),
    )
    assert accepted.status_code == 200, accepted.get_json()


@pytest.mark.parametrize("round_", [1, 2])
def test_each_test_starts_from_an_empty_database(league_app, league_runner, round_):
    # demo-seed refuses a database holding any row: it succeeds in both rounds.
    result = league_runner.invoke(args=["demo-seed"])
    assert result.exit_code == 0, result.output
