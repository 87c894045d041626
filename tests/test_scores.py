"""Captain scores (API.md 5.4) through the test client, and a real race between confirmations."""

from __future__ import annotations

import threading

from conftest import error_of

from league_api.db import begin_write, db
from league_api.models import Team


def score(index: int, creator: int, opponent: int, **extra) -> dict:
    return {
        "mapIndex": index,
        "mapId": f"map-{index}",
        "creatorTeamScore": creator,
        "opponentTeamScore": opponent,
        **extra,
    }


def make_ready(api, match_id: str) -> None:
    """Both captains ready their teams through the personal endpoint (section 5.3)."""
    assert api.post(f"/matches/{match_id}/ready", "alice").get_json()["matchReady"] is False
    assert api.post(f"/matches/{match_id}/ready", "bob").get_json()["matchReady"] is True


def started_match(api, best_of: int = 3) -> str:
    """An IN_PROGRESS match alpha (creator) vs bravo, made by the game developer."""
    body = {
        "creatorTeamId": api.world["teams"]["alpha"],
        "acceptedTeamId": api.world["teams"]["bravo"],
        "gameModeId": "ranked",
        "bestOf": best_of,
        "teamSize": 2,
    }
    match_id = api.post("/game/matches/create", "game", body).get_json()["matchId"]
    make_ready(api, match_id)
    assert api.post(f"/game/matches/{match_id}/start", "game").status_code == 200
    return match_id


def match_of(api, match_id: str) -> dict:
    return api.get(f"/game/matches/{match_id}", "game").get_json()["match"]


def test_submit_overwrite_confirm_complete(api, world):
    match_id = started_match(api)
    path = f"/matches/{match_id}/scores"
    submitted = api.post(path, "alice", score(0, 13, 4))
    body = submitted.get_json()
    assert submitted.status_code == 200
    assert (body["success"], body["action"], body["mapIndex"], body["scoreStatus"]) == (
        True,
        "submitted",
        0,
        "PENDING",
    )
    # The last writer wins: bob's version replaces alice's and is now bravo's submission.
    assert api.post(path, "bob", score(0, 4, 13)).status_code == 200
    scores = api.get(path, "amir").get_json()
    assert scores["scores"] == [
        {
            "mapIndex": 0,
            "mapId": "map-0",
            "creatorTeamScore": 4,
            "opponentTeamScore": 13,
            "scoreStatus": "PENDING",
            "submittedBy": world["users"]["bob"],
            "submittedByTeamId": world["teams"]["bravo"],
            "confirmedBy": None,
        }
    ]
    assert scores["seriesScore"] == {"creatorMapWins": 0, "opponentMapWins": 0}
    own = api.patch(path, "bob", {"mapIndex": 0})
    assert error_of(own) == (403, "error_cannot_confirm_own_score")
    confirmed = api.patch(path, "alice", {"mapIndex": 0})
    body = confirmed.get_json()
    assert confirmed.status_code == 200
    assert (body["success"], body["action"], body["mapIndex"], body["scoreStatus"]) == (
        True,
        "confirmed",
        0,
        "CONFIRMED",
    )
    assert match_of(api, match_id)["status"] == "IN_PROGRESS"
    assert api.post(path, "alice", score(1, 3, 13)).status_code == 200
    assert api.patch(path, "bob", {"mapIndex": 1}).status_code == 200
    match = match_of(api, match_id)
    assert (match["status"], match["winnerTeamId"]) == ("COMPLETED", world["teams"]["bravo"])
    assert match["endedAt"] is not None
    scores = api.get(path, "bea").get_json()
    assert scores["seriesScore"] == {"creatorMapWins": 0, "opponentMapWins": 2}
    assert [s["confirmedBy"] for s in scores["scores"]] == [
        world["users"]["alice"],
        world["users"]["bob"],
    ]
    late = api.post(path, "alice", score(2, 13, 0))
    assert error_of(late) == (409, "error_match_not_in_valid_state")


def test_maps_confirmed_by_captains_and_by_the_game_decide_together(api, world):
    match_id = started_match(api)
    path = f"/matches/{match_id}/scores"
    api.post(path, "bob", score(0, 13, 2))
    assert api.patch(path, "alice", {"mapIndex": 0}).status_code == 200
    verified = {"maps": [score(1, 13, 11)]}
    assert api.post(f"/game/matches/{match_id}/scores", "game", verified).status_code == 200
    match = match_of(api, match_id)
    assert (match["status"], match["winnerTeamId"]) == ("COMPLETED", world["teams"]["alpha"])


def test_best_of_one_completes_on_the_first_confirmation(api, world):
    match_id = started_match(api, best_of=1)
    path = f"/matches/{match_id}/scores"
    out_of_range = api.post(path, "alice", score(1, 13, 2))
    assert error_of(out_of_range) == (400, "error_invalid_request")
    assert "mapIndex" in out_of_range.get_json()["details"]
    api.post(path, "alice", score(0, 13, 2))
    api.patch(path, "bob", {"mapIndex": 0})
    assert match_of(api, match_id)["winnerTeamId"] == world["teams"]["alpha"]


def test_submit_errors(api):
    match_id = started_match(api)
    path = f"/matches/{match_id}/scores"
    assert error_of(api.post(path, "amir", score(0, 1, 0))) == (403, "error_captain_required")
    assert error_of(api.post(path, "carol", score(0, 1, 0))) == (
        403,
        "error_not_match_participant",
    )
    unknown = api.post("/matches/nope/scores", "alice", score(0, 1, 0))
    assert error_of(unknown) == (404, "error_match_not_found")
    for bad in (score(3, 1, 0), score(0, 5, 5), score(0, 1001, 0), {"mapIndex": 0}, {}):
        assert error_of(api.post(path, "alice", bad)) == (400, "error_invalid_request")
    readonly = api.post(path, "alice_readonly", score(0, 1, 0))
    assert error_of(readonly) == (403, "error_api_key_permission_denied")
    game_key = api.post(path, "game", score(0, 1, 0))
    assert error_of(game_key) == (403, "error_api_key_permission_denied")
    assert api.get(path, "alice").get_json()["scores"] == []


def test_scores_only_while_in_progress(api, world):
    body = {
        "creatorTeamId": world["teams"]["alpha"],
        "acceptedTeamId": world["teams"]["bravo"],
        "gameModeId": "ranked",
        "bestOf": 3,
        "teamSize": 2,
    }
    match_id = api.post("/game/matches/create", "game", body).get_json()["matchId"]
    path = f"/matches/{match_id}/scores"
    accepted = api.post(path, "alice", score(0, 1, 0))
    assert error_of(accepted) == (409, "error_match_not_in_valid_state")
    confirm = api.patch(path, "bob", {"mapIndex": 0})
    assert error_of(confirm) == (409, "error_match_not_in_valid_state")


def test_confirm_errors(api):
    match_id = started_match(api)
    path = f"/matches/{match_id}/scores"
    missing = api.patch(path, "bob", {"mapIndex": 0})
    assert error_of(missing) == (404, "error_score_not_found")
    api.post(path, "alice", score(0, 1, 0))
    assert error_of(api.patch(path, "bea", {"mapIndex": 0})) == (403, "error_captain_required")
    assert error_of(api.patch(path, "carol", {"mapIndex": 0})) == (
        403,
        "error_not_match_participant",
    )
    assert error_of(api.patch(path, "bob", {"mapIndex": 3})) == (400, "error_invalid_request")
    assert error_of(api.patch(path, "bob", {})) == (400, "error_invalid_request")
    assert api.patch(path, "bob", {"mapIndex": 0}).status_code == 200
    # A confirmed map has no pending score any more, and cannot be submitted again.
    again = api.patch(path, "bob", {"mapIndex": 0})
    assert error_of(again) == (404, "error_score_not_found")
    resubmit = api.post(path, "bob", score(0, 0, 1))
    assert error_of(resubmit) == (409, "error_score_already_submitted_by_game")


def test_a_map_the_game_confirmed_cannot_be_submitted(api):
    match_id = started_match(api)
    api.post(f"/game/matches/{match_id}/scores", "game", {"maps": [score(0, 13, 1)]})
    response = api.post(f"/matches/{match_id}/scores", "alice", score(0, 13, 2))
    assert error_of(response) == (409, "error_score_already_submitted_by_game")
    assert (
        api.get(f"/matches/{match_id}/scores", "alice").get_json()["scores"][0]["opponentTeamScore"]
        == 1
    )


def test_scores_are_read_by_both_teams_only(api):
    match_id = started_match(api)
    path = f"/matches/{match_id}/scores"
    for who in ("alice", "amir", "bob", "bea", "alice_readonly"):
        assert api.get(path, who).status_code == 200, who
    assert error_of(api.get(path, "carol")) == (403, "error_not_match_participant")
    assert error_of(api.get("/matches/nope/scores", "alice")) == (404, "error_match_not_found")
    assert error_of(api.get(path, "game")) == (403, "error_api_key_permission_denied")


def test_a_captain_of_both_teams_names_the_team_and_cannot_confirm_themself(api, app, world):
    match_id = started_match(api)
    with app.app_context():
        begin_write()
        db.session.get(Team, world["teams"]["bravo"]).captain_id = world["users"]["alice"]
        db.session.commit()
    path = f"/matches/{match_id}/scores"
    unnamed = api.post(path, "alice", score(0, 13, 2))
    assert error_of(unnamed) == (400, "error_invalid_request")
    assert "teamId" in unnamed.get_json()["details"]
    outsider = api.post(path, "alice", score(0, 13, 2, teamId=world["teams"]["charlie"]))
    assert error_of(outsider) == (400, "error_team_not_in_match")
    alpha, bravo = world["teams"]["alpha"], world["teams"]["bravo"]
    assert api.post(path, "alice", score(0, 13, 2, teamId=alpha)).status_code == 200
    own = api.patch(path, "alice", {"mapIndex": 0, "teamId": bravo})
    assert error_of(own) == (403, "error_cannot_confirm_own_score")


def test_retried_submission_without_a_key_is_harmless(api):
    match_id = started_match(api)
    path = f"/matches/{match_id}/scores"
    for _ in range(2):
        response = api.post(path, "alice", score(0, 13, 2), key="ignored")
        assert response.status_code == 200 and "Idempotent-Replayed" not in response.headers
    assert len(api.get(path, "alice").get_json()["scores"]) == 1


# -- a real race -------------------------------------------------------------------------------


def test_racing_deciding_confirmations_complete_the_match_once(api, app, world):
    """Two confirmations that would each decide the series: one wins, the other sees COMPLETED.

    Each thread has its own client, app context and database connection, so the two
    requests really overlap; the match row lock makes the second wait for the first.
    """
    match_id = started_match(api)
    path = f"/matches/{match_id}/scores"
    for index in range(3):
        assert api.post(path, "alice", score(index, 13, index)).status_code == 200
    assert api.patch(path, "bob", {"mapIndex": 0}).status_code == 200

    barrier = threading.Barrier(2)
    results: dict[int, tuple[int, str | None]] = {}

    def confirm(index: int) -> None:
        own_api = type(api)(app.test_client(), world)
        barrier.wait()
        response = own_api.patch(path, "bob", {"mapIndex": index})
        results[index] = (response.status_code, response.get_json().get("error"))

    threads = [threading.Thread(target=confirm, args=(index,)) for index in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [(200, None), (409, "error_match_not_in_valid_state")]
    match = match_of(api, match_id)
    assert (match["status"], match["winnerTeamId"]) == ("COMPLETED", world["teams"]["alpha"])
    scores = api.get(path, "alice").get_json()
    assert scores["seriesScore"] == {"creatorMapWins": 2, "opponentMapWins": 0}
