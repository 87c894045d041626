"""Personal match writes and the match read (API.md 5.3) through the test client."""

from __future__ import annotations

import threading
import time

import pytest
from commit_hook import HOOK
from conftest import POSTGRES_URL, error_of
from sqlalchemy import create_engine, func, select, text

from league_api.db import db
from league_api.models import Match, RosterEntry

# 2023-11-14T22:13:20Z as epoch milliseconds.
SCHEDULED_MS = 1_700_000_000_000


def uid(api, name: str) -> str:
    return api.world["users"][name]


def tid(api, name: str) -> str:
    return api.world["teams"][name]


def create_body(api, team="alpha", roster=("alice", "amir"), **changes):
    body = {
        "teamId": tid(api, team),
        "gameId": api.world["games"]["demo-game"],
        "gameModeId": "duel",
        "teamSize": 2,
        "bestOf": 3,
        "activeRoster": [uid(api, name) for name in roster],
    }
    return {**body, **changes}


def accept_body(api, team="bravo", roster=("bob",), **changes):
    return {
        "teamId": tid(api, team),
        "activeRoster": [uid(api, name) for name in roster],
        **changes,
    }


def new_match(api, who="alice", **changes) -> str:
    response = api.post("/matches/create", who, create_body(api, **changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["matchId"]


def accepted_match(api, **changes) -> str:
    """alpha (alice, amir) against bravo (bob), ACCEPTED."""
    match_id = new_match(api, **changes)
    response = api.post(f"/matches/{match_id}/accept", "bob", accept_body(api))
    assert response.status_code == 200, response.get_json()
    return match_id


def ready_match(api) -> str:
    match_id = accepted_match(api)
    for who in ("alice", "bob"):
        assert api.post(f"/matches/{match_id}/ready", who).status_code == 200
    return match_id


def started_match(api) -> str:
    match_id = ready_match(api)
    assert api.post(f"/matches/{match_id}/start", "alice").status_code == 200
    return match_id


def match_of(api, match_id: str, who="alice") -> dict:
    response = api.get(f"/matches/{match_id}", who)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["match"]


def add_team(runner, api, name: str, captain: str, game="demo-game", members=()) -> str:
    args = ["teams", "create", name, "--game", game, "--captain", captain]
    for member in members:
        args += ["--member", member]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    api.world["teams"][name] = result.stdout.strip()
    return api.world["teams"][name]


def game_created_match(app, api) -> str:
    """An ACCEPTED alpha-bravo match as a game developer creates it (written directly)."""
    with app.app_context():
        match = Match(
            game_id=api.world["games"]["demo-game"],
            status="ACCEPTED",
            creator_team_id=tid(api, "alpha"),
            accepted_team_id=tid(api, "bravo"),
            created_by_game=True,
            game_mode_id="duel",
            team_size=2,
            best_of=1,
        )
        match.roster = [
            RosterEntry(team_id=tid(api, team), user_id=uid(api, name))
            for team, name in (("alpha", "alice"), ("alpha", "amir"), ("bravo", "bob"))
        ]
        db.session.add(match)
        db.session.commit()
        return match.id


def count_matches(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Match))


def assert_replayed(first, again) -> None:
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == first.status_code
    assert again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers.get("Location") == first.headers.get("Location")
    assert again.headers["Content-Type"] == first.headers["Content-Type"]


def assert_key_conflict(response) -> None:
    assert error_of(response) == (409, "error_idempotency_key_conflict")


# -- flow (1): create, accept, ready, lobby code, start, scores ------------------------------------


def test_match_flow_to_completed(api):
    created = api.post("/matches/create", "alice", create_body(api, scheduledAt=SCHEDULED_MS))
    assert created.status_code == 201
    match_id = created.get_json()["matchId"]
    assert created.get_json()["success"] is True
    assert created.headers["Location"] == f"/api/v1/matches/{match_id}"
    match = match_of(api, match_id)
    assert match["status"] == "PENDING" and match["acceptedTeamId"] is None
    assert match["creatorRoster"] == [uid(api, "alice"), uid(api, "amir")]
    assert match["scheduledAt"] == "2023-11-14T22:13:20.000Z"

    accepted = api.post(
        f"/matches/{match_id}/accept", "bob", accept_body(api, roster=["bob", "bea"])
    )
    assert accepted.get_json() == {
        "success": True,
        "matchId": match_id,
        "status": "ACCEPTED",
        "timestamp": accepted.get_json()["timestamp"],
    }
    first = api.post(f"/matches/{match_id}/ready", "bob")
    assert first.get_json()["matchReady"] is False
    assert match_of(api, match_id)["readiness"] == {"creator": False, "accepted": True}
    second = api.post(f"/matches/{match_id}/ready", "alice")
    assert second.get_json()["matchReady"] is True
    assert match_of(api, match_id)["status"] == "READY"

    code = api.post(f"/matches/{match_id}/lobby-code", "bob", {"lobbyCode": "LOBBY-42"})
    assert code.get_json()["lobbyCode"] == "LOBBY-42"
    started = api.post(f"/matches/{match_id}/start", "alice")
    assert (started.status_code, started.get_json()["status"]) == (200, "IN_PROGRESS")
    match = match_of(api, match_id, "bea")
    assert match["lobbyCode"] == "LOBBY-42" and match["startedAt"] is not None
    assert match["acceptedRoster"] == [uid(api, "bob"), uid(api, "bea")]

    # bestOf 3: bravo takes maps 0 and 1, each submitted by one captain and confirmed by the other.
    for map_index, submitter, confirmer in ((0, "alice", "bob"), (1, "bob", "alice")):
        score = {"mapIndex": map_index, "mapId": f"map-{map_index}"}
        score |= {"creatorTeamScore": 3, "opponentTeamScore": 16}
        assert api.post(f"/matches/{match_id}/scores", submitter, score).status_code == 200
        confirmed = api.patch(f"/matches/{match_id}/scores", confirmer, {"mapIndex": map_index})
        assert confirmed.status_code == 200, confirmed.get_json()
    match = match_of(api, match_id)
    assert match["status"] == "COMPLETED"
    assert match["winnerTeamId"] == tid(api, "bravo")
    assert error_of(api.post(f"/matches/{match_id}/forfeit", "alice")) == (
        409,
        "error_match_not_in_valid_state",
    )


# -- create -----------------------------------------------------------------------------------


def test_create_defaults_and_optional_fields(api):
    match_id = new_match(api, roster=["amir"], challengedTeamId=None, notes="bring snacks")
    match = match_of(api, match_id)
    assert match["creatorRoster"] == [uid(api, "amir")]
    assert match["notes"] == "bring snacks" and match["scheduledAt"] is None
    assert match["createdByGame"] is False and match["bestOf"] == 3 and match["teamSize"] == 2


def test_create_lookups_are_404(api):
    for changes, code in (
        ({"teamId": "nope"}, "error_team_not_found"),
        ({"gameId": "nope"}, "error_game_not_found"),
        ({"challengedTeamId": "nope"}, "error_team_not_found"),
    ):
        response = api.post("/matches/create", "alice", create_body(api, **changes))
        assert error_of(response) == (404, code), changes


def test_create_needs_the_teams_captain(api):
    member = api.post("/matches/create", "amir", create_body(api))
    assert error_of(member) == (403, "error_captain_required")
    stranger = api.post("/matches/create", "carol", create_body(api))
    assert error_of(stranger) == (403, "error_not_match_participant")


def test_create_rule_violations_are_400(api, runner):
    omega = add_team(runner, api, "omega", "carol", game="other-game")
    outsider = uid(api, "bob")
    cases = [
        {"gameId": api.world["games"]["other-game"]},
        {"challengedTeamId": tid(api, "alpha")},
        {"challengedTeamId": omega},
        {"activeRoster": [uid(api, "alice"), outsider]},
        {"activeRoster": [uid(api, "alice"), uid(api, "amir")], "teamSize": 1},
        {"activeRoster": [uid(api, "alice"), uid(api, "alice")]},
        {"activeRoster": []},
        {"teamSize": 0},
        {"teamSize": 11},
        {"bestOf": 2},
        {"bestOf": "3"},
        {"scheduledAt": -1},
        {"scheduledAt": "tomorrow"},
        {"gameModeId": ""},
        {"notes": "x" * 1001},
        {"surprise": True},
    ]
    for changes in cases:
        response = api.post("/matches/create", "alice", create_body(api, **changes))
        assert error_of(response) == (400, "error_invalid_request"), changes
    body = create_body(api)
    del body["activeRoster"]
    response = api.post("/matches/create", "alice", body)
    assert response.get_json()["details"] == {"activeRoster": ["Missing data for required field."]}
    assert count_matches(api.client.application) == 0


def test_writes_need_a_read_write_personal_key(api):
    readonly = api.post("/matches/create", "alice_readonly", create_body(api))
    assert error_of(readonly) == (403, "error_api_key_permission_denied")
    game_key = api.post("/matches/create", "game", create_body(api))
    assert error_of(game_key) == (403, "error_api_key_permission_denied")
    assert error_of(api.post("/matches/create", None, create_body(api))) == (
        401,
        "error_api_key_required",
    )
    match_id = new_match(api)
    assert match_of(api, match_id, "alice_readonly")["id"] == match_id
    assert error_of(api.post(f"/matches/{match_id}/cancel", "alice_readonly")) == (
        403,
        "error_api_key_permission_denied",
    )


# -- accept -----------------------------------------------------------------------------------


def test_accept_errors(api, runner):
    omega = add_team(runner, api, "omega", "carol", game="other-game")
    match_id = new_match(api)
    accept = f"/matches/{match_id}/accept"
    assert error_of(api.post("/matches/nope/accept", "bob", accept_body(api))) == (
        404,
        "error_match_not_found",
    )
    assert error_of(api.post(accept, "bob", accept_body(api, teamId="nope"))) == (
        404,
        "error_team_not_found",
    )
    assert error_of(api.post(accept, "bea", accept_body(api, roster=["bea"]))) == (
        403,
        "error_captain_required",
    )
    assert error_of(api.post(accept, "bob", accept_body(api, team="charlie", roster=[]))) == (
        400,
        "error_invalid_request",
    )
    assert error_of(
        api.post(accept, "bob", accept_body(api, team="charlie", roster=["carol"]))
    ) == (
        403,
        "error_not_match_participant",
    )
    own = api.post(accept, "alice", accept_body(api, team="alpha", roster=["alice"]))
    assert error_of(own) == (403, "error_not_match_participant")
    other_game = api.post(accept, "carol", {"teamId": omega, "activeRoster": [uid(api, "carol")]})
    assert error_of(other_game) == (403, "error_not_match_participant")
    outsider = api.post(accept, "bob", accept_body(api, roster=["bob", "carol"]))
    assert error_of(outsider) == (400, "error_invalid_request")
    too_many = api.post(accept, "bob", accept_body(api, roster=["bob", "bea"]) | {"teamId": None})
    assert error_of(too_many) == (400, "error_invalid_request")
    assert match_of(api, match_id)["status"] == "PENDING"

    assert (
        api.post(accept, "carol", accept_body(api, team="charlie", roster=["carol"])).status_code
        == 200
    )
    again = api.post(accept, "bob", accept_body(api))
    assert error_of(again) == (409, "error_match_not_in_valid_state")
    assert match_of(api, match_id)["acceptedTeamId"] == tid(api, "charlie")


def test_accept_roster_larger_than_team_size(api):
    match_id = new_match(api, teamSize=1, roster=["alice"])
    response = api.post(
        f"/matches/{match_id}/accept", "bob", accept_body(api, roster=["bob", "bea"])
    )
    assert error_of(response) == (400, "error_invalid_request")
    assert "activeRoster" in response.get_json()["details"]


def test_only_the_challenged_team_accepts_a_challenge(api):
    match_id = new_match(api, challengedTeamId=tid(api, "bravo"))
    carol = api.post(f"/matches/{match_id}/accept", "carol", accept_body(api, "charlie", ["carol"]))
    assert error_of(carol) == (403, "error_not_match_participant")
    bob = api.post(f"/matches/{match_id}/accept", "bob", accept_body(api))
    assert bob.get_json()["status"] == "ACCEPTED"


def test_game_created_match_cannot_be_accepted(app, api):
    match_id = game_created_match(app, api)
    response = api.post(
        f"/matches/{match_id}/accept", "carol", accept_body(api, "charlie", ["carol"])
    )
    assert error_of(response) == (409, "error_match_not_in_valid_state")


def test_game_created_match_is_ordinary_otherwise(app, api):
    match_id = game_created_match(app, api)
    assert (
        api.post(f"/matches/{match_id}/lobby-code", "bob", {"lobbyCode": "G1"}).status_code == 200
    )
    assert (
        api.post(f"/matches/{match_id}/attendance", "amir", {"status": "TENTATIVE"}).status_code
        == 200
    )
    assert api.post(f"/matches/{match_id}/ready", "alice").get_json()["matchReady"] is False
    assert api.post(f"/matches/{match_id}/ready", "bob").get_json()["matchReady"] is True
    assert api.post(f"/matches/{match_id}/start", "bob").get_json()["status"] == "IN_PROGRESS"
    forfeit = api.post(f"/matches/{match_id}/forfeit", "alice", {"reason": "dinner"})
    assert forfeit.get_json()["forfeitedByTeamId"] == tid(api, "alpha")
    match = match_of(api, match_id, "amir")
    assert (match["status"], match["winnerTeamId"]) == ("FORFEITED", tid(api, "bravo"))
    assert match["attendance"][uid(api, "amir")] == "TENTATIVE"


# -- ready ------------------------------------------------------------------------------------


def test_ready_rules(api):
    match_id = new_match(api)
    ready = f"/matches/{match_id}/ready"
    assert error_of(api.post(ready, "alice")) == (409, "error_match_not_in_valid_state")
    assert error_of(api.post("/matches/nope/ready", "alice")) == (404, "error_match_not_found")
    api.post(f"/matches/{match_id}/accept", "bob", accept_body(api))
    assert error_of(api.post(ready, "bea")) == (403, "error_captain_required")
    assert error_of(api.post(ready, "carol")) == (403, "error_not_match_participant")
    charlie = api.post(ready, "bob", {"teamId": tid(api, "charlie")})
    assert error_of(charlie) == (400, "error_team_not_in_match")
    assert error_of(api.post(ready, "bob", {"teamId": 7})) == (400, "error_invalid_request")

    assert api.post(ready, "bob").get_json()["matchReady"] is False
    before = match_of(api, match_id)
    # Readying an already-ready team changes nothing.
    assert api.post(ready, "bob").get_json()["matchReady"] is False
    after = match_of(api, match_id)
    assert (after["status"], after["readiness"]) == (
        "ACCEPTED",
        {"creator": False, "accepted": True},
    )
    assert after["updatedAt"] == before["updatedAt"]
    assert api.post(ready, "alice").get_json()["matchReady"] is True
    assert error_of(api.post(ready, "alice")) == (409, "error_match_not_in_valid_state")


def test_captain_of_both_teams_names_the_team(api, runner):
    delta = add_team(runner, api, "delta", "alice", members=["amir"])
    match_id = new_match(api, roster=["amir"])
    # A player is on one side of a match only.
    on_both = api.post(f"/matches/{match_id}/accept", "alice", accept_body(api, "delta", ["amir"]))
    assert error_of(on_both) == (400, "error_invalid_request")
    assert "other team's roster" in on_both.get_json()["details"]["activeRoster"][0]
    accepted = api.post(
        f"/matches/{match_id}/accept", "alice", accept_body(api, "delta", ["alice"])
    )
    assert accepted.status_code == 200
    ready = f"/matches/{match_id}/ready"
    response = api.post(ready, "alice")
    assert error_of(response) == (400, "error_invalid_request")
    assert "teamId" in response.get_json()["details"]
    assert api.post(ready, "alice", {"teamId": delta}).get_json()["matchReady"] is False
    assert api.post(ready, "alice", {"teamId": tid(api, "alpha")}).get_json()["matchReady"] is True
    forfeit = api.post(f"/matches/{match_id}/forfeit", "alice", {"teamId": delta})
    assert forfeit.get_json()["forfeitedByTeamId"] == delta


def _blocked_on_a_lock(app) -> None:
    """Wait (bounded) until another transaction waits for a lock; PostgreSQL only."""
    if not POSTGRES_URL:
        return
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    try:
        with engine.connect() as connection:
            while connection.execute(query).scalar() == 0:
                assert time.monotonic() < deadline, "the second request never waited for the lock"
                connection.rollback()
                time.sleep(0.01)
    finally:
        engine.dispose()


def run_concurrently(app, world: dict, first: tuple, second: tuple) -> dict:
    """Hold ``first`` open just before its commit until ``second`` waits for its lock.

    Each call is (name, path, who, body, idempotency key); both keys must be set.
    """
    held, release, results = threading.Event(), threading.Event(), {}

    def before_commit(key: str) -> None:
        if key == first[4]:
            held.set()
            release.wait(10)

    app.config[HOOK] = before_commit

    def call(name, path, who, body, key) -> None:
        headers = {"Authorization": f"Bearer {world['keys'][who]}", "Idempotency-Key": key}
        results[name] = app.test_client().post("/api/v1" + path, json=body, headers=headers)

    threads = [threading.Thread(target=call, args=first)]
    threads[0].start()
    assert held.wait(10)
    threads.append(threading.Thread(target=call, args=second))
    threads[1].start()
    try:
        _blocked_on_a_lock(app)
    finally:
        release.set()
        for thread in threads:
            thread.join(20)
    return results


def test_two_captains_readying_at_once_both_count(app, api):
    match_id = accepted_match(api)
    path = f"/matches/{match_id}/ready"
    results = run_concurrently(
        app,
        api.world,
        ("bob", path, "bob", {}, "ready-bob"),
        ("alice", path, "alice", {}, "ready-alice"),
    )
    assert results["bob"].get_json()["matchReady"] is False
    assert results["alice"].get_json()["matchReady"] is True
    assert match_of(api, match_id)["status"] == "READY"


# -- lobby code, start, cancel, forfeit, attendance -------------------------------------------


def test_lobby_code(api):
    match_id = new_match(api)
    lobby = f"/matches/{match_id}/lobby-code"
    assert error_of(api.post(lobby, "alice", {"lobbyCode": "X"})) == (
        409,
        "error_match_not_in_valid_state",
    )
    api.post(f"/matches/{match_id}/accept", "bob", accept_body(api))
    for body in ({}, {"lobbyCode": ""}, {"lobbyCode": "x" * 51}, {"lobbyCode": 5}):
        assert error_of(api.post(lobby, "alice", body)) == (400, "error_invalid_request"), body
    assert error_of(api.post(lobby, "amir", {"lobbyCode": "X"})) == (403, "error_captain_required")
    assert error_of(api.post(lobby, "carol", {"lobbyCode": "X"})) == (
        403,
        "error_not_match_participant",
    )
    assert api.post(lobby, "alice", {"lobbyCode": "x" * 50}).get_json()["lobbyCode"] == "x" * 50
    assert match_of(api, match_id, "bea")["lobbyCode"] == "x" * 50
    api.post(f"/matches/{match_id}/cancel", "alice")
    assert error_of(api.post(lobby, "alice", {"lobbyCode": "Y"})) == (
        409,
        "error_match_not_in_valid_state",
    )


def test_start_is_state_guarded_without_idempotency(api):
    match_id = accepted_match(api)
    start = f"/matches/{match_id}/start"
    assert error_of(api.post(start, "alice")) == (409, "error_match_not_in_valid_state")
    for who in ("alice", "bob"):
        api.post(f"/matches/{match_id}/ready", who)
    assert error_of(api.post(start, "carol")) == (403, "error_not_match_participant")
    assert error_of(api.post(start, "amir")) == (403, "error_captain_required")
    first = api.post(start, "bob", key="start-1")
    assert first.get_json()["status"] == "IN_PROGRESS"
    # The key is ignored: the retry runs again and meets the state guard.
    again = api.post(start, "bob", key="start-1")
    assert error_of(again) == (409, "error_match_not_in_valid_state")
    assert "Idempotent-Replayed" not in again.headers
    # Not even a malformed key is looked at.
    assert error_of(api.post(start, "bob", key="bad key")) == (
        409,
        "error_match_not_in_valid_state",
    )


def test_cancel_rules(api):
    pending = new_match(api, challengedTeamId=tid(api, "bravo"))
    assert error_of(api.post(f"/matches/{pending}/cancel", "bob")) == (
        403,
        "error_not_match_participant",
    )
    assert error_of(api.post(f"/matches/{pending}/cancel", "amir")) == (
        403,
        "error_captain_required",
    )
    cancelled = api.post(f"/matches/{pending}/cancel", "alice", {"reason": "no show"})
    assert cancelled.get_json()["status"] == "CANCELLED"
    assert error_of(api.post(f"/matches/{pending}/cancel", "alice")) == (
        409,
        "error_match_not_in_valid_state",
    )
    accepted = accepted_match(api)
    assert api.post(f"/matches/{accepted}/cancel", "bob").get_json()["status"] == "CANCELLED"
    assert match_of(api, accepted, "bea")["endedAt"] is not None
    ready = ready_match(api)
    assert api.post(f"/matches/{ready}/cancel", "alice").get_json()["status"] == "CANCELLED"
    started = started_match(api)
    assert error_of(api.post(f"/matches/{started}/cancel", "alice")) == (
        409,
        "error_match_not_in_valid_state",
    )
    too_long = api.post(f"/matches/{started}/cancel", "alice", {"reason": "x" * 501})
    assert error_of(too_long) == (400, "error_invalid_request")


def test_forfeit_rules(api):
    pending = new_match(api)
    assert error_of(api.post(f"/matches/{pending}/forfeit", "alice")) == (
        409,
        "error_match_not_in_valid_state",
    )
    accepted = accepted_match(api)
    assert error_of(api.post(f"/matches/{accepted}/forfeit", "carol")) == (
        403,
        "error_not_match_participant",
    )
    assert error_of(api.post(f"/matches/{accepted}/forfeit", "bea")) == (
        403,
        "error_captain_required",
    )
    response = api.post(f"/matches/{accepted}/forfeit", "bob", {"reason": "sick"})
    assert response.get_json()["forfeitedByTeamId"] == tid(api, "bravo")
    match = match_of(api, accepted)
    assert (match["status"], match["winnerTeamId"]) == ("FORFEITED", tid(api, "alpha"))
    assert match["forfeitedByTeamId"] == tid(api, "bravo")
    assert error_of(api.post(f"/matches/{accepted}/forfeit", "alice")) == (
        409,
        "error_match_not_in_valid_state",
    )
    started = started_match(api)
    assert api.post(f"/matches/{started}/forfeit", "alice").status_code == 200
    assert match_of(api, started)["winnerTeamId"] == tid(api, "bravo")


def test_attendance_rules(api):
    match_id = new_match(api)
    attendance = f"/matches/{match_id}/attendance"
    assert api.post(attendance, "amir", {"status": "ATTENDING"}).get_json()["status"] == "ATTENDING"
    api.post(f"/matches/{match_id}/accept", "bob", accept_body(api))
    assert api.post(attendance, "bob", {"status": "NOT_ATTENDING"}).status_code == 200
    # bea plays for bravo but is not on its roster for this match.
    assert error_of(api.post(attendance, "bea", {"status": "ATTENDING"})) == (
        403,
        "error_not_match_participant",
    )
    assert error_of(api.post(attendance, "carol", {"status": "ATTENDING"})) == (
        403,
        "error_not_match_participant",
    )
    for body in ({}, {"status": "MAYBE"}, {"status": "attending"}):
        assert error_of(api.post(attendance, "amir", body)) == (400, "error_invalid_request")
    match = match_of(api, match_id)
    assert match["attendance"] == {
        uid(api, "alice"): None,
        uid(api, "amir"): "ATTENDING",
        uid(api, "bob"): "NOT_ATTENDING",
    }
    api.post(f"/matches/{match_id}/cancel", "alice")
    assert error_of(api.post(attendance, "amir", {"status": "TENTATIVE"})) == (
        409,
        "error_match_not_in_valid_state",
    )


# -- GET /matches/<id> ------------------------------------------------------------------------


def test_open_match_is_readable_by_captains_of_the_game(api):
    match_id = new_match(api)
    assert match_of(api, match_id, "amir")["status"] == "PENDING"
    assert match_of(api, match_id, "carol")["status"] == "PENDING"
    assert error_of(api.get(f"/matches/{match_id}", "bea")) == (403, "error_not_match_participant")
    assert error_of(api.get("/matches/nope", "alice")) == (404, "error_match_not_found")
    api.post(f"/matches/{match_id}/accept", "bob", accept_body(api))
    assert match_of(api, match_id, "bea")["status"] == "ACCEPTED"
    assert error_of(api.get(f"/matches/{match_id}", "carol")) == (
        403,
        "error_not_match_participant",
    )


def test_challenge_is_readable_by_the_challenged_team_only(api):
    match_id = new_match(api, challengedTeamId=tid(api, "bravo"))
    assert match_of(api, match_id, "bea")["challengedTeamId"] == tid(api, "bravo")
    assert error_of(api.get(f"/matches/{match_id}", "carol")) == (
        403,
        "error_not_match_participant",
    )


def test_lobby_code_is_shown_to_players_only(app, api):
    match_id = new_match(api)
    # The API sets a code only once a match is accepted; written directly to test the read rule.
    with app.app_context():
        db.session.get(Match, match_id).lobby_code = "SECRET"
        db.session.commit()
    assert match_of(api, match_id, "amir")["lobbyCode"] == "SECRET"
    assert match_of(api, match_id, "carol")["lobbyCode"] is None


# -- Idempotency-Key on the seven Idem endpoints of 5.3 ----------------------------------------


def test_create_replays(api):
    app = api.client.application
    first = api.post("/matches/create", "alice", create_body(api), key="create-1")
    again = api.post("/matches/create", "alice", create_body(api), key="create-1")
    assert first.status_code == 201
    assert_replayed(first, again)
    assert count_matches(app) == 1
    assert_key_conflict(
        api.post("/matches/create", "alice", create_body(api, bestOf=5), key="create-1")
    )
    assert count_matches(app) == 1
    # A stored 4xx replays too.
    bad = api.post("/matches/create", "amir", create_body(api), key="create-2")
    assert_replayed(bad, api.post("/matches/create", "amir", create_body(api), key="create-2"))


def test_accept_replays(api):
    match_id = new_match(api)
    path = f"/matches/{match_id}/accept"
    first = api.post(path, "bob", accept_body(api), key="accept-1")
    # Run again, accept would be a 409; the replay is the stored 200.
    assert_replayed(first, api.post(path, "bob", accept_body(api), key="accept-1"))
    assert_key_conflict(
        api.post(path, "bob", accept_body(api, roster=["bob", "bea"]), key="accept-1")
    )
    assert match_of(api, match_id)["acceptedRoster"] == [uid(api, "bob")]


def test_ready_replays(api):
    match_id = accepted_match(api)
    path = f"/matches/{match_id}/ready"
    first = api.post(path, "bob", key="ready-1")
    api.post(path, "alice")
    # Run again it would be a 409 (the match is READY); the replay still says matchReady false.
    again = api.post(path, "bob", key="ready-1")
    assert_replayed(first, again)
    assert again.get_json()["matchReady"] is False
    assert_key_conflict(api.post(path, "bob", {"teamId": tid(api, "bravo")}, key="ready-1"))


def test_lobby_code_replays(api):
    match_id = accepted_match(api)
    path = f"/matches/{match_id}/lobby-code"
    first = api.post(path, "alice", {"lobbyCode": "AAA"}, key="lobby-1")
    api.post(path, "alice", {"lobbyCode": "BBB"})
    assert_replayed(first, api.post(path, "alice", {"lobbyCode": "AAA"}, key="lobby-1"))
    assert_key_conflict(api.post(path, "alice", {"lobbyCode": "CCC"}, key="lobby-1"))
    assert match_of(api, match_id)["lobbyCode"] == "BBB"


def test_cancel_replays(api):
    match_id = accepted_match(api)
    path = f"/matches/{match_id}/cancel"
    first = api.post(path, "bob", {"reason": "rain"}, key="cancel-1")
    assert first.get_json()["status"] == "CANCELLED"
    assert_replayed(first, api.post(path, "bob", {"reason": "rain"}, key="cancel-1"))
    assert_key_conflict(api.post(path, "bob", {"reason": "snow"}, key="cancel-1"))
    # Without the key the request runs again and meets the state guard.
    assert error_of(api.post(path, "bob", {"reason": "rain"})) == (
        409,
        "error_match_not_in_valid_state",
    )


def test_forfeit_replays(api):
    match_id = started_match(api)
    path = f"/matches/{match_id}/forfeit"
    first = api.post(path, "alice", key="forfeit-1")
    assert_replayed(first, api.post(path, "alice", key="forfeit-1"))
    assert_key_conflict(api.post(path, "alice", {"reason": "late"}, key="forfeit-1"))
    assert match_of(api, match_id)["winnerTeamId"] == tid(api, "bravo")
    # The same key on another match is another operation.
    other = started_match(api)
    assert api.post(f"/matches/{other}/forfeit", "alice", key="forfeit-1").status_code == 200


def test_attendance_replays(api):
    match_id = new_match(api)
    path = f"/matches/{match_id}/attendance"
    first = api.post(path, "amir", {"status": "ATTENDING"}, key="att-1")
    api.post(path, "amir", {"status": "TENTATIVE"})
    assert_replayed(first, api.post(path, "amir", {"status": "ATTENDING"}, key="att-1"))
    assert_key_conflict(api.post(path, "amir", {"status": "NOT_ATTENDING"}, key="att-1"))
    assert match_of(api, match_id)["attendance"][uid(api, "amir")] == "TENTATIVE"


@pytest.mark.parametrize(
    "action", ["accept", "ready", "lobby-code", "cancel", "forfeit", "attendance"]
)
def test_invalid_key_is_refused_before_anything_runs(api, action):
    match_id = new_match(api)
    response = api.post(f"/matches/{match_id}/{action}", "alice", {}, key="bad key")
    assert error_of(response) == (400, "error_idempotency_key_invalid")
