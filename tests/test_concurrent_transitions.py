"""Concurrent state transitions on a real gunicorn with 4 workers sharing one database (API.md 6).

Every scenario sets fresh rows up through the live server's HTTP API, then fires the competing
requests of each round at the same moment (one thread and one session each, released by one
barrier) and checks the exact final state: no transition lost, none won twice, no 5xx. Several
rounds per test give the races a real chance; on PostgreSQL they truly overlap (row locks,
the partial unique index, the unique constraint and the sequence decide), on SQLite the write
lock taken at BEGIN IMMEDIATE serialises them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from concurrency_helpers import Call, Live, body_of, no_server_error, query

ROUNDS = 8
SEASONS = "/leagues/demo-league/seasons"
NOT_IN_STATE = "error_match_not_in_valid_state"


@pytest.fixture
def live(live_server, served_world) -> Iterator[Live]:
    server = live_server(workers=4)
    live = Live(server.url, served_world)
    yield live
    live.close()


def accepted_match(live: Live, best_of: int = 3) -> str:
    """A match alpha (creator, captain alice) vs bravo (captain bob), ACCEPTED by creation."""
    teams = live.world["teams"]
    body = {
        "creatorTeamId": teams["alpha"],
        "acceptedTeamId": teams["bravo"],
        "gameModeId": "ranked",
        "bestOf": best_of,
        "teamSize": 2,
    }
    return live.ok("POST", "/game/matches/create", "game", body, status=201)["matchId"]


def started_match(live: Live, best_of: int = 3) -> str:
    match_id = accepted_match(live, best_of)
    live.ok("POST", f"/matches/{match_id}/ready", "alice")
    live.ok("POST", f"/matches/{match_id}/ready", "bob")
    live.ok("POST", f"/game/matches/{match_id}/start", "game")
    return match_id


def match_of(live: Live, match_id: str) -> dict:
    return live.ok("GET", f"/game/matches/{match_id}", "game")["match"]


def alpha_wins(index: int) -> dict:
    """A map result the creator team (alpha) wins."""
    return {
        "mapIndex": index,
        "mapId": f"map-{index}",
        "creatorTeamScore": 13,
        "opponentTeamScore": index,
    }


def ready_calls(match_id: str, keys: tuple[str, str] | None = None) -> list[Call]:
    path = f"/matches/{match_id}/ready"
    if keys is None:
        return [Call("POST", path, "alice"), Call("POST", path, "bob")]
    # Each captain's keyed request twice: originals and their duplicates race together.
    return [
        Call("POST", path, who, {}, key)
        for who, key in zip(("alice", "bob"), keys, strict=True)
        for _ in range(2)
    ]


def assert_ready(live: Live, match_id: str) -> None:
    match = match_of(live, match_id)
    assert match["status"] == "READY", match
    assert match["readiness"] == {"creator": True, "accepted": True}


# -- 1. both captains ready at once --------------------------------------------------------------


def test_both_captains_ready_at_once_make_the_match_ready(live):
    """Neither ready is lost: the match ends READY, and exactly the later one reports it."""
    for match_id in [accepted_match(live) for _ in range(ROUNDS)]:
        answers = live.at_once(ready_calls(match_id))
        no_server_error(answers)
        assert [answer.status for answer in answers] == [200, 200]
        assert sorted(body_of(answer)["matchReady"] for answer in answers) == [False, True]
        assert_ready(live, match_id)


def test_keyed_readies_sent_twice_at_once_run_once_each(live):
    """Each captain's key, sent twice at once: one run and one identical replay per key."""
    for number, match_id in enumerate([accepted_match(live) for _ in range(ROUNDS)]):
        keys = (f"ready-alice-{number}", f"ready-bob-{number}")
        answers = live.at_once_keyed(ready_calls(match_id, keys))
        no_server_error(answers)
        originals = []
        for pair in (answers[:2], answers[2:]):
            assert [answer.status for answer in pair] == [200, 200], pair
            assert pair[0].same_response(pair[1]), pair
            assert sorted(answer.replayed for answer in pair) == [False, True], pair
            originals.append(body_of(pair[0])["matchReady"])
        assert sorted(originals) == [False, True]
        assert_ready(live, match_id)
        # Later retries replay the stored answers; nothing runs again.
        for answer, call in zip(answers, ready_calls(match_id, keys), strict=True):
            again = live.send(call)
            assert again.replayed and again.same_response(answer)
        assert_ready(live, match_id)


# -- 2. two seasons of one league and game activated at once -------------------------------------


def test_two_seasons_activated_at_once_leave_exactly_one_active(live):
    game_id = live.world["games"]["demo-game"]
    for number in range(ROUNDS):
        seasons = [
            live.ok(
                "POST",
                f"{SEASONS}/create",
                "league",
                {"gameId": game_id, "name": f"S{number}-{side}", "startDate": 1, "endDate": 2},
                status=201,
            )["seasonId"]
            for side in "ab"
        ]
        answers = live.at_once(
            [Call("POST", f"{SEASONS}/{sid}/activate", "league") for sid in seasons]
        )
        no_server_error(answers)
        assert sorted(answer.status for answer in answers) == [200, 409], answers
        winner = next(
            sid for sid, answer in zip(seasons, answers, strict=True) if answer.status == 200
        )
        loser = next(sid for sid in seasons if sid != winner)
        refused = next(answer for answer in answers if answer.status == 409)
        assert refused.error == "error_season_not_in_valid_state"
        listed = live.ok("POST", SEASONS, "league", {"gameId": game_id, "status": "ACTIVE"})
        assert [season["id"] for season in listed["seasons"]] == [winner]
        assert live.ok("GET", f"{SEASONS}/{loser}", "league")["season"]["status"] == "UPCOMING"
        # Close the round so the next one again starts with no ACTIVE season.
        live.ok("POST", f"{SEASONS}/{winner}/complete", "league")


# -- 3. confirmations racing to complete a match -------------------------------------------------


def scores_of(live: Live, match_id: str) -> dict:
    return live.ok("GET", f"/matches/{match_id}/scores", "alice")


def assert_completed_by_alpha(live: Live, match_id: str) -> dict:
    match = match_of(live, match_id)
    assert (match["status"], match["winnerTeamId"]) == ("COMPLETED", live.world["teams"]["alpha"])
    scores = scores_of(live, match_id)
    assert scores["seriesScore"] == {"creatorMapWins": 2, "opponentMapWins": 0}, scores
    return scores


def test_two_confirmations_that_each_decide_complete_the_match_once(live):
    """Map 0 confirmed for alpha; maps 1 and 2 pending, each deciding: one wins, one gets 409."""
    for _ in range(ROUNDS):
        match_id = started_match(live)
        path = f"/matches/{match_id}/scores"
        for index in range(3):
            live.ok("POST", path, "alice", alpha_wins(index))
        live.ok("PATCH", path, "bob", {"mapIndex": 0})
        calls = [Call("PATCH", path, "bob", {"mapIndex": index}) for index in (1, 2)]
        answers = live.at_once(calls)
        no_server_error(answers)
        assert sorted(answer.status for answer in answers) == [200, 409], answers
        assert next(answer for answer in answers if answer.status == 409).error == NOT_IN_STATE
        confirmed = 1 + next(index for index, answer in enumerate(answers) if answer.status == 200)
        statuses = {
            score["mapIndex"]: score["scoreStatus"]
            for score in assert_completed_by_alpha(live, match_id)["scores"]
        }
        assert statuses == {0: "CONFIRMED", confirmed: "CONFIRMED", 3 - confirmed: "PENDING"}


def test_two_confirmations_that_decide_together_complete_the_match(live):
    """Maps 0 and 1 pending for alpha, confirmed at once: both count, and the second completes."""
    for _ in range(ROUNDS):
        match_id = started_match(live)
        path = f"/matches/{match_id}/scores"
        for index in range(2):
            live.ok("POST", path, "alice", alpha_wins(index))
        answers = live.at_once(
            [Call("PATCH", path, "bob", {"mapIndex": index}) for index in (0, 1)]
        )
        no_server_error(answers)
        assert [answer.status for answer in answers] == [200, 200], answers
        scores = assert_completed_by_alpha(live, match_id)
        assert [score["scoreStatus"] for score in scores["scores"]] == ["CONFIRMED"] * 2


def test_a_captain_confirmation_and_a_game_score_racing_to_decide(live):
    """Alpha leads 1-0; bob confirms map 1 while the game reports map 2: one decides, one 409."""
    for _ in range(ROUNDS):
        match_id = started_match(live)
        path = f"/matches/{match_id}/scores"
        live.ok("POST", path, "alice", alpha_wins(0))
        live.ok("PATCH", path, "bob", {"mapIndex": 0})
        live.ok("POST", path, "alice", alpha_wins(1))
        calls = [
            Call("PATCH", path, "bob", {"mapIndex": 1}),
            Call("POST", f"/game/matches/{match_id}/scores", "game", {"maps": [alpha_wins(2)]}),
        ]
        answers = live.at_once(calls)
        no_server_error(answers)
        assert sorted(answer.status for answer in answers) == [200, 409], answers
        assert next(answer for answer in answers if answer.status == 409).error == NOT_IN_STATE
        scores = assert_completed_by_alpha(live, match_id)
        confirmed = [
            score["mapIndex"] for score in scores["scores"] if score["scoreStatus"] == "CONFIRMED"
        ]
        # The map of the request that won counts; the refused one left nothing behind.
        assert confirmed == ([0, 1] if answers[0].status == 200 else [0, 2])


# -- 4. many tickets at once ---------------------------------------------------------------------

TICKET_USERS = ("alice", "amir", "bob", "bea", "carol")


def ticket(subject: str) -> dict:
    return {"subject": subject, "description": "raced", "category": "other"}


def test_forty_tickets_at_once_get_distinct_numbers_one_to_forty(live):
    calls = [Call("POST", "/tickets", TICKET_USERS[i % 5], ticket(f"t{i}")) for i in range(40)]
    answers = live.at_once(calls)
    no_server_error(answers)
    assert {answer.status for answer in answers} == {201}
    bodies = [body_of(answer) for answer in answers]
    assert sorted(body["ticketNumber"] for body in bodies) == list(range(1, 41))
    assert len({body["ticketId"] for body in bodies}) == 40
    for who in TICKET_USERS:
        mine = {
            body["ticketId"]: body["ticketNumber"]
            for call, body in zip(calls, bodies, strict=True)
            if call.who == who
        }
        listed = live.ok("GET", "/tickets?limit=100", who)["tickets"]
        assert {t["id"]: t["ticketNumber"] for t in listed} == mine


def test_keyed_tickets_sent_twice_at_once_make_one_ticket_per_key(live, database_url):
    calls = [
        Call("POST", "/tickets", TICKET_USERS[i % 5], ticket(f"k{i}"), key=f"ticket-{i}")
        for i in range(20)
        for _ in range(2)
    ]
    answers = live.at_once_keyed(calls)
    no_server_error(answers)
    numbers = []
    for first, second in zip(answers[::2], answers[1::2], strict=True):
        assert (first.status, second.status) == (201, 201), (first, second)
        assert first.same_response(second)
        assert sorted((first.replayed, second.replayed)) == [False, True]
        numbers.append(body_of(first)["ticketNumber"])
    assert sorted(numbers) == list(range(1, 21))
    assert query(database_url, "SELECT count(*) FROM support_tickets") == [(20,)]


# -- 5. one message reported many times at once by one user --------------------------------------

REPORTS = 6


def chat_messages(live: Live) -> list[str]:
    """Messages alice wrote in a match bob plays, one per round."""
    path = f"/matches/{accepted_match(live)}/chat"
    sent = [live.ok("POST", path, "alice", {"content": f"gg {n}"}, 201) for n in range(ROUNDS)]
    return [body["messageId"] for body in sent]


def report_rows(database_url: str, message_id: str) -> list[tuple]:
    sql = "SELECT id, reporter_user_id FROM chat_reports WHERE message_id = :message_id"
    return query(database_url, sql, message_id=message_id)


def assert_one_report(live: Live, database_url: str, message_id: str, answers) -> None:
    """One original 201; every other answer is its replay or a 200 naming the same report."""
    no_server_error(answers)
    created = [answer for answer in answers if answer.status == 201 and not answer.replayed]
    assert len(created) == 1, answers
    report_id = body_of(created[0])["reportId"]
    assert body_of(created[0])["alreadyReported"] is False
    for answer in answers:
        if answer.status == 201:
            assert answer.same_response(created[0]), answer
        else:
            assert answer.status == 200, answer
            assert (body_of(answer)["reportId"], body_of(answer)["alreadyReported"]) == (
                report_id,
                True,
            )
    bob = live.world["users"]["bob"]
    assert report_rows(database_url, message_id) == [(report_id, bob)]
    assert live.ok("GET", f"/chat/messages/{message_id}/report", "bob")["report"]["id"] == report_id


def test_one_message_reported_at_once_by_one_user_makes_one_report(live, database_url):
    for message_id in chat_messages(live):
        path = f"/chat/messages/{message_id}/report"
        answers = live.at_once(
            [Call("POST", path, "bob", {"reason": f"r{n}"}) for n in range(REPORTS)]
        )
        assert_one_report(live, database_url, message_id, answers)


def test_keyed_reports_sent_twice_at_once_make_one_report(live, database_url):
    """Three keys, each sent twice: each key's answers are identical, one report in all."""
    for number, message_id in enumerate(chat_messages(live)):
        path = f"/chat/messages/{message_id}/report"
        calls = [
            Call("POST", path, "bob", {}, f"report-{number}-{k}")
            for k in range(3)
            for _ in range(2)
        ]
        answers = live.at_once_keyed(calls)
        for first, second in zip(answers[::2], answers[1::2], strict=True):
            assert first.same_response(second), (first, second)
            assert sorted((first.replayed, second.replayed)) == [False, True]
        assert_one_report(live, database_url, message_id, answers)
