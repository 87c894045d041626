"""Game developer matches (API.md 5.1) through the test client."""

from __future__ import annotations

import pytest
from conftest import error_of

from league_api.auth import issue_key
from league_api.db import begin_write, db
from league_api.models import User


def create_body(world, **changes):
    body = {
        "creatorTeamId": world["teams"]["alpha"],
        "acceptedTeamId": world["teams"]["bravo"],
        "gameModeId": "ranked",
        "bestOf": 3,
        "teamSize": 2,
    }
    body.update(changes)
    return body


def create_match(api, **changes) -> str:
    response = api.post("/game/matches/create", "game", create_body(api.world, **changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["matchId"]


def make_ready(api, match_id: str) -> None:
    """Both captains ready their teams through the personal endpoint (section 5.3)."""
    assert api.post(f"/matches/{match_id}/ready", "alice").get_json()["matchReady"] is False
    assert api.post(f"/matches/{match_id}/ready", "bob").get_json()["matchReady"] is True


def started_match(api, **changes) -> str:
    match_id = create_match(api, **changes)
    make_ready(api, match_id)
    assert api.post(f"/game/matches/{match_id}/start", "game").status_code == 200
    return match_id


def status_of(api, match_id: str) -> dict:
    return api.get(f"/game/matches/{match_id}", "game").get_json()["match"]


# -- create ------------------------------------------------------------------------------------


def test_create_answers_201_with_location_and_defaults(api, world):
    response = api.post(
        "/game/matches/create",
        "game",
        create_body(world, scheduledAt=1_700_000_000_000, region="eu", selectedMaps=["m1", "m2"]),
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["success"] is True and body["timestamp"]
    assert response.headers["Location"] == f"/api/v1/game/matches/{body['matchId']}"
    match = api.get(response.headers["Location"].removeprefix("/api/v1"), "game").get_json()
    match = match["match"]
    assert match["status"] == "ACCEPTED" and match["createdByGame"] is True
    assert match["gameId"] == world["games"]["demo-game"]
    assert match["scheduledAt"] == "2023-11-14T22:13:20.000Z"
    assert (match["region"], match["selectedMaps"], match["bestOf"]) == ("eu", ["m1", "m2"], 3)
    users = world["users"]
    assert sorted(match["creatorRoster"]) == sorted([users["alice"], users["amir"]])
    assert sorted(match["acceptedRoster"]) == sorted([users["bob"], users["bea"]])


def test_explicit_rosters_and_rosters_endpoint(api, world):
    users = world["users"]
    match_id = create_match(
        api, teamSize=1, creatorRoster=[users["amir"]], acceptedRoster=[users["bob"]]
    )
    rosters = api.get(f"/game/matches/{match_id}/rosters", "game").get_json()
    assert rosters["creatorTeamId"] == world["teams"]["alpha"]
    assert rosters["acceptedTeamId"] == world["teams"]["bravo"]
    assert rosters["creatorRoster"] == [users["amir"]]
    assert rosters["acceptedRoster"] == [users["bob"]]


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"bestOf": 2}, "bestOf"),
        ({"bestOf": "3"}, "bestOf"),
        ({"teamSize": 0}, "teamSize"),
        ({"teamSize": 11}, "teamSize"),
        ({"gameModeId": ""}, "gameModeId"),
        ({"scheduledAt": -1}, "scheduledAt"),
        ({"selectedMaps": [""]}, "selectedMaps"),
        ({"surprise": 1}, "surprise"),
        ({"creatorRoster": []}, "creatorRoster"),
        # alpha has two members: the default roster does not fit a team size of 1.
        ({"teamSize": 1}, "creatorRoster"),
        ({"teamSize": 1, "creatorRoster": ["nobody"]}, "creatorRoster"),
    ],
)
def test_create_rejects_bad_bodies(api, world, changes, field):
    response = api.post("/game/matches/create", "game", create_body(world, **changes))
    assert error_of(response) == (400, "error_invalid_request")
    assert field in response.get_json()["details"]


def test_create_rejects_same_team_twice_and_missing_fields(api, world):
    alpha = world["teams"]["alpha"]
    response = api.post("/game/matches/create", "game", create_body(world, acceptedTeamId=alpha))
    assert error_of(response) == (400, "error_invalid_request")
    assert "acceptedTeamId" in response.get_json()["details"]
    response = api.post("/game/matches/create", "game", {"bestOf": 3})
    assert set(response.get_json()["details"]) >= {"creatorTeamId", "acceptedTeamId", "teamSize"}


def test_create_rejects_a_roster_larger_than_team_size(api, world):
    users = world["users"]
    body = create_body(world, teamSize=1, creatorRoster=[users["alice"], users["amir"]])
    response = api.post("/game/matches/create", "game", body)
    assert error_of(response) == (400, "error_invalid_request")
    assert "creatorRoster" in response.get_json()["details"]


def test_create_team_lookups(api, world):
    unknown = api.post("/game/matches/create", "game", create_body(world, acceptedTeamId="nope"))
    assert error_of(unknown) == (404, "error_team_not_found")
    # alpha and bravo play demo-game; the other-game key may not use them.
    other = api.post("/game/matches/create", "other_game", create_body(world))
    assert error_of(other) == (403, "error_game_scope_mismatch")
    assert api.post("/game/matches", "game").get_json()["count"] == 0


def test_game_endpoints_need_a_game_key_with_the_scope(api, app, world):
    personal = api.post("/game/matches/create", "alice", create_body(world))
    assert error_of(personal) == (403, "error_api_key_permission_denied")
    with app.app_context():
        begin_write()
        gina = db.session.scalar(db.select(User).where(User.name == "gina"))
        _, world["keys"]["game_reader"] = issue_key(
            "reader",
            "game",
            gina,
            {"game.lifecycle": "read"},
            game_id=world["games"]["demo-game"],
        )
        db.session.commit()
    match_id = create_match(api)
    assert api.get(f"/game/matches/{match_id}", "game_reader").status_code == 200
    assert api.post("/game/matches", "game_reader").get_json()["count"] == 1
    for path in ("create", f"{match_id}/start", f"{match_id}/scores"):
        response = api.post(f"/game/matches/{path}", "game_reader", {})
        assert error_of(response) == (403, "error_api_key_permission_denied")


def test_keyed_create_replays_and_conflicts(api, world):
    body = create_body(world)
    first = api.post("/game/matches/create", "game", body, key="create-1")
    again = api.post("/game/matches/create", "game", body, key="create-1")
    assert again.status_code == 201
    assert again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    other = api.post("/game/matches/create", "game", create_body(world, bestOf=5), key="create-1")
    assert error_of(other) == (409, "error_idempotency_key_conflict")
    assert api.post("/game/matches", "game").get_json()["count"] == 1


# -- lookups and bindings on every match endpoint ----------------------------------------------

ONE_MAP = {"maps": [{"mapIndex": 0, "mapId": "m", "creatorTeamScore": 1, "opponentTeamScore": 0}]}
MATCH_CALLS = [
    ("GET", "", None),
    ("GET", "/rosters", None),
    ("POST", "/forfeit", "forfeit"),
    ("PATCH", "/status", {"status": "CANCELLED"}),
    ("POST", "/start", None),
    ("POST", "/cancel", None),
    ("POST", "/scores", ONE_MAP),
]


@pytest.mark.parametrize("method, suffix, body", MATCH_CALLS)
def test_unknown_match_and_other_games_match(api, world, method, suffix, body):
    if body == "forfeit":
        body = {"forfeitingTeamId": world["teams"]["alpha"]}
    match_id = create_match(api)
    unknown = api.call(method, f"/game/matches/nope{suffix}", "game", body)
    assert error_of(unknown) == (404, "error_match_not_found")
    foreign = api.call(method, f"/game/matches/{match_id}{suffix}", "other_game", body)
    assert error_of(foreign) == (403, "error_game_scope_mismatch")
    assert status_of(api, match_id)["status"] == "ACCEPTED"


# -- status, start, cancel ---------------------------------------------------------------------


def test_status_patch_follows_the_state_table(api):
    match_id = create_match(api)
    path = f"/game/matches/{match_id}/status"
    early = api.patch(path, "game", {"status": "IN_PROGRESS"})
    assert error_of(early) == (409, "error_match_not_in_valid_state")
    make_ready(api, match_id)
    started = api.patch(path, "game", {"status": "IN_PROGRESS"}).get_json()
    assert started["success"] is True and started["matchId"] == match_id
    assert (started["previousStatus"], started["newStatus"]) == ("READY", "IN_PROGRESS")
    assert status_of(api, match_id)["startedAt"] is not None
    again = api.patch(path, "game", {"status": "IN_PROGRESS"})
    assert error_of(again) == (409, "error_match_not_in_valid_state")
    cancelled = api.patch(path, "game", {"status": "CANCELLED", "reason": "server crash"})
    body = cancelled.get_json()
    assert (body["previousStatus"], body["newStatus"]) == ("IN_PROGRESS", "CANCELLED")
    assert error_of(api.patch(path, "game", {"status": "CANCELLED"})) == (
        409,
        "error_match_not_in_valid_state",
    )
    match = status_of(api, match_id)
    assert match["status"] == "CANCELLED" and match["endedAt"] is not None


@pytest.mark.parametrize(
    "body", [{}, {"status": "COMPLETED"}, {"status": "IN_PROGRESS", "reason": "why"}]
)
def test_status_patch_rejects_bad_bodies(api, body):
    match_id = create_match(api)
    response = api.patch(f"/game/matches/{match_id}/status", "game", body)
    assert error_of(response) == (400, "error_invalid_request")


def test_start_and_cancel_endpoints(api):
    match_id = create_match(api)
    early = api.post(f"/game/matches/{match_id}/start", "game")
    assert error_of(early) == (409, "error_match_not_in_valid_state")
    cancelled = api.post(f"/game/matches/{match_id}/cancel", "game", {"reason": "no show"})
    body = cancelled.get_json()
    assert cancelled.status_code == 200 and body["success"] is True
    assert (body["matchId"], body["previousStatus"], body["newStatus"]) == (
        match_id,
        "ACCEPTED",
        "CANCELLED",
    )
    again = api.post(f"/game/matches/{match_id}/cancel", "game")
    assert error_of(again) == (409, "error_match_not_in_valid_state")
    ready_id = create_match(api)
    make_ready(api, ready_id)
    started = api.post(f"/game/matches/{ready_id}/start", "game").get_json()
    assert (started["previousStatus"], started["newStatus"]) == ("READY", "IN_PROGRESS")
    unknown_field = api.post(f"/game/matches/{ready_id}/start", "game", {"status": "x"})
    assert error_of(unknown_field) == (400, "error_invalid_request")


def test_start_ignores_the_idempotency_key(api):
    match_id = create_match(api)
    make_ready(api, match_id)
    path = f"/game/matches/{match_id}/start"
    first = api.post(path, "game", key="start-1")
    assert first.status_code == 200
    # Processed again, not replayed: the state guard answers.
    again = api.post(path, "game", key="start-1")
    assert error_of(again) == (409, "error_match_not_in_valid_state")
    assert "Idempotent-Replayed" not in again.headers
    # Not even validated: a malformed key is no 400 here.
    status = api.patch(
        f"/game/matches/{match_id}/status", "game", {"status": "CANCELLED"}, key="not a key"
    )
    assert status.status_code == 200


# -- forfeit -----------------------------------------------------------------------------------


def test_forfeit_gives_the_win_to_the_other_team(api, world):
    alpha, bravo = world["teams"]["alpha"], world["teams"]["bravo"]
    match_id = create_match(api)
    path = f"/game/matches/{match_id}/forfeit"
    outsider = api.post(path, "game", {"forfeitingTeamId": world["teams"]["charlie"]})
    assert error_of(outsider) == (400, "error_team_not_in_match")
    assert error_of(api.post(path, "game", {})) == (400, "error_invalid_request")
    response = api.post(path, "game", {"forfeitingTeamId": bravo, "reason": "rage quit"})
    body = response.get_json()
    assert response.status_code == 200 and body["success"] is True
    assert (body["matchId"], body["forfeitedByTeamId"]) == (match_id, bravo)
    match = status_of(api, match_id)
    assert (match["status"], match["winnerTeamId"]) == ("FORFEITED", alpha)
    again = api.post(path, "game", {"forfeitingTeamId": alpha})
    assert error_of(again) == (409, "error_match_not_in_valid_state")


def test_forfeit_from_ready_and_in_progress(api, world):
    ready_id = create_match(api)
    make_ready(api, ready_id)
    alpha = world["teams"]["alpha"]
    response = api.post(f"/game/matches/{ready_id}/forfeit", "game", {"forfeitingTeamId": alpha})
    assert response.status_code == 200
    playing_id = started_match(api)
    response = api.post(f"/game/matches/{playing_id}/forfeit", "game", {"forfeitingTeamId": alpha})
    assert response.status_code == 200
    assert status_of(api, playing_id)["winnerTeamId"] == world["teams"]["bravo"]


def test_keyed_forfeit_replays_and_conflicts(api, world):
    alpha, bravo = world["teams"]["alpha"], world["teams"]["bravo"]
    match_id = create_match(api)
    path = f"/game/matches/{match_id}/forfeit"
    first = api.post(path, "game", {"forfeitingTeamId": bravo}, key="ff-1")
    again = api.post(path, "game", {"forfeitingTeamId": bravo}, key="ff-1")
    # Run again, the forfeit would be a 409; the replay is the first 200, byte for byte.
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.data == first.data and again.headers["Idempotent-Replayed"] == "true"
    other = api.post(path, "game", {"forfeitingTeamId": alpha}, key="ff-1")
    assert error_of(other) == (409, "error_idempotency_key_conflict")
    match = status_of(api, match_id)
    assert (match["forfeitedByTeamId"], match["winnerTeamId"]) == (bravo, alpha)


# -- verified scores ---------------------------------------------------------------------------


def game_map(index: int, creator: int, opponent: int) -> dict:
    return {
        "mapIndex": index,
        "mapId": f"map-{index}",
        "creatorTeamScore": creator,
        "opponentTeamScore": opponent,
    }


def test_verified_scores_confirm_on_arrival_and_a_confirmed_map_fails_alone(api, world):
    match_id = started_match(api)
    captain = {**game_map(0, 1, 13)}
    assert api.post(f"/matches/{match_id}/scores", "alice", captain).status_code == 200
    path = f"/game/matches/{match_id}/scores"
    response = api.post(path, "game", {"maps": [game_map(0, 13, 7), game_map(1, 2, 13)]})
    body = response.get_json()
    assert response.status_code == 200
    assert body["success"] is True and body["count"] == 2
    assert body["submitted"] == [
        {"mapIndex": 0, "status": "confirmed"},
        {"mapIndex": 1, "status": "confirmed"},
    ]
    scores = api.get(f"/matches/{match_id}/scores", "alice").get_json()
    first = scores["scores"][0]
    # The game's result replaced the captain's pending one.
    assert (first["creatorTeamScore"], first["scoreStatus"]) == (13, "CONFIRMED")
    assert (first["submittedBy"], first["confirmedBy"]) == ("game", "game")
    assert scores["seriesScore"] == {"creatorMapWins": 1, "opponentMapWins": 1}

    response = api.post(path, "game", {"maps": [game_map(1, 13, 0), game_map(2, 13, 9)]})
    body = response.get_json()
    assert response.status_code == 200
    assert body["success"] is False and body["count"] == 1
    assert body["submitted"] == [
        {"mapIndex": 1, "status": "failed", "error": "error_score_already_submitted_by_game"},
        {"mapIndex": 2, "status": "confirmed"},
    ]
    match = status_of(api, match_id)
    assert (match["status"], match["winnerTeamId"]) == ("COMPLETED", world["teams"]["alpha"])
    late = api.post(path, "game", {"maps": [game_map(0, 1, 0)]})
    assert error_of(late) == (409, "error_match_not_in_valid_state")


def test_verified_scores_after_the_deciding_map_fail(api, world):
    match_id = started_match(api)
    maps = [game_map(0, 2, 13), game_map(1, 5, 13), game_map(2, 13, 0)]
    body = api.post(f"/game/matches/{match_id}/scores", "game", {"maps": maps}).get_json()
    assert [item["status"] for item in body["submitted"]] == ["confirmed", "confirmed", "failed"]
    assert body["submitted"][2]["error"] == "error_match_not_in_valid_state"
    assert (body["success"], body["count"]) == (False, 2)
    match = status_of(api, match_id)
    assert (match["status"], match["winnerTeamId"]) == ("COMPLETED", world["teams"]["bravo"])
    scores = api.get(f"/matches/{match_id}/scores", "bob").get_json()["scores"]
    assert [score["mapIndex"] for score in scores] == [0, 1]


FOUR_MAPS = [game_map(index, 1, 0) for index in range(4)]
INVALID_MAPS = [
    [],
    [game_map(0, 1, 0), game_map(0, 2, 0)],
    [game_map(3, 1, 0)],
    [game_map(0, 1, 0), game_map(1, 0, 1), game_map(5, 1, 0)],
    FOUR_MAPS,
    [game_map(0, 5, 5)],
    [game_map(0, 1001, 0)],
    [game_map(-1, 1, 0)],
    [{"mapIndex": 0, "creatorTeamScore": 1, "opponentTeamScore": 0}],
    "not a list",
]


@pytest.mark.parametrize("maps", INVALID_MAPS)
def test_verified_scores_reject_the_whole_request(api, maps):
    match_id = started_match(api)
    # A valid first item is not kept when a later one is invalid.
    response = api.post(f"/game/matches/{match_id}/scores", "game", {"maps": maps})
    assert error_of(response) == (400, "error_invalid_request")
    assert api.get(f"/matches/{match_id}/scores", "alice").get_json()["scores"] == []
    assert status_of(api, match_id)["status"] == "IN_PROGRESS"


def test_verified_scores_need_an_in_progress_match_and_the_scores_scope(api):
    match_id = create_match(api)
    path = f"/game/matches/{match_id}/scores"
    early = api.post(path, "game", {"maps": [game_map(0, 1, 0)]})
    assert error_of(early) == (409, "error_match_not_in_valid_state")
    personal = api.post(path, "alice", {"maps": [game_map(0, 1, 0)]})
    assert error_of(personal) == (403, "error_api_key_permission_denied")


# -- list --------------------------------------------------------------------------------------


def test_list_is_newest_first_with_a_cursor_and_a_status_filter(api):
    created = [create_match(api) for _ in range(3)]
    api.post(f"/game/matches/{created[1]}/cancel", "game")
    page = api.post("/game/matches", "game", {"limit": 2}).get_json()
    ids = [match["id"] for match in page["matches"]]
    assert page["count"] == 2 and page["pagination"]["hasMore"] is True
    assert ids == sorted(created, reverse=True)[:2]
    assert page["pagination"]["cursor"] == ids[-1]
    rest = api.post(
        "/game/matches", "game", {"limit": 2, "cursor": page["pagination"]["cursor"]}
    ).get_json()
    assert [match["id"] for match in rest["matches"]] == sorted(created, reverse=True)[2:]
    assert rest["pagination"] == {"cursor": None, "hasMore": False}
    cancelled = api.post("/game/matches", "game", {"status": "CANCELLED"}).get_json()
    assert [match["id"] for match in cancelled["matches"]] == [created[1]]
    default = api.post("/game/matches", "game").get_json()
    assert default["count"] == 3 and default["pagination"]["hasMore"] is False
    assert api.post("/game/matches", "other_game").get_json()["count"] == 0


@pytest.mark.parametrize("body", [{"limit": 0}, {"limit": 101}, {"status": "LOST"}, {"x": 1}])
def test_list_rejects_bad_filters(api, body):
    assert error_of(api.post("/game/matches", "game", body)) == (400, "error_invalid_request")


def test_list_ignores_the_idempotency_key(api):
    create_match(api)
    first = api.post("/game/matches", "game", key="list-1")
    create_match(api)
    again = api.post("/game/matches", "game", key="list-1")
    assert (first.get_json()["count"], again.get_json()["count"]) == (1, 2)
    assert "Idempotent-Replayed" not in again.headers
