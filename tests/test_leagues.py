"""League operator endpoints (API.md 5.2): seasons, league tickets, scopes and idempotency."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from conftest import Api, error_of
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from league_api.db import begin_write, db
from league_api.domain import leagues as league_domain
from league_api.models import Game, League, LeagueTicket, LeagueTicketMessage, Season

SEASONS = "/leagues/demo-league/seasons"
TICKETS = "/leagues/demo-league/tickets"
# 2023-11-14T22:13:20Z and 2027-01-15T08:00:00Z as epoch milliseconds.
START_MS, END_MS = 1_700_000_000_000, 1_800_000_000_000
TICKET = {"subject": "Need a map pool", "description": "Please add Dust", "priority": "high"}


def season_body(world, **changes):
    body = {
        "gameId": world["games"]["demo-game"],
        "name": "Spring",
        "startDate": START_MS,
        "endDate": END_MS,
    }
    return {**body, **changes}


def new_season(api, path=SEASONS, who="league", **changes) -> str:
    response = api.post(f"{path}/create", who, season_body(api.world, **changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["seasonId"]


def new_ticket(api, path=TICKETS, who="league") -> str:
    response = api.post(f"{path}/create", who, TICKET)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["ticketId"]


def add_key(api, runner, name: str, kind: str, *options: str) -> None:
    """Issue a key with the CLI and make it callable as ``who=name``."""
    args = ["keys", "create", name, "--kind", kind, "--owner", "olivia", *options]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    api.world["keys"][name] = result.stdout.strip().splitlines()[-1]


@pytest.fixture
def second_league(api, runner) -> str:
    """League ``second-league`` (game demo-game) with its operator key ``second``."""
    result = runner.invoke(args=["leagues", "create", "second-league", "--game", "demo-game"])
    assert result.exit_code == 0, result.output
    add_key(
        api,
        runner,
        "second",
        "league",
        "--league",
        "second-league",
        "--scope",
        "leagues.seasons=read-write",
        "--scope",
        "leagues.tickets=read-write",
    )
    return "/leagues/second-league"


def count_rows(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# -- seasons ----------------------------------------------------------------------------------


def test_season_create_answers_201_with_location_and_starts_upcoming(api, world):
    response = api.post(f"{SEASONS}/create", "league", season_body(world))
    assert response.status_code == 201
    body = response.get_json()
    assert body["success"] is True and set(body) == {"success", "seasonId", "timestamp"}
    assert response.headers["Location"] == f"/api/v1{SEASONS}/{body['seasonId']}"

    fetched = api.get(f"{SEASONS}/{body['seasonId']}", "league")
    assert fetched.status_code == 200
    assert fetched.get_json()["season"] == {
        "id": body["seasonId"],
        "leagueId": world["leagues"]["demo-league"],
        "gameId": world["games"]["demo-game"],
        "name": "Spring",
        "status": "UPCOMING",
        "startDate": "2023-11-14T22:13:20.000Z",
        "endDate": "2027-01-15T08:00:00.000Z",
        "createdAt": fetched.get_json()["season"]["createdAt"],
    }
    assert fetched.get_json()["season"]["createdAt"].endswith("Z")


def test_season_flow_with_single_active_rule(api, world):
    first = new_season(api, name="Spring")
    second = new_season(api, name="Summer", startDate=END_MS, endDate=END_MS + 1)

    activated = api.post(f"{SEASONS}/{first}/activate", "league")
    assert activated.status_code == 200
    body = activated.get_json()
    assert (body["success"], body["seasonId"], body["status"]) == (True, first, "ACTIVE")

    # A second ACTIVE season for the same league and game is refused.
    clash = api.post(f"{SEASONS}/{second}/activate", "league")
    assert error_of(clash) == (409, "error_season_not_in_valid_state")
    # Activating an ACTIVE season, or completing an UPCOMING one, is a wrong state.
    again = api.post(f"{SEASONS}/{first}/activate", "league")
    assert error_of(again) == (409, "error_season_not_in_valid_state")
    early = api.post(f"{SEASONS}/{second}/complete", "league")
    assert error_of(early) == (409, "error_season_not_in_valid_state")

    completed = api.post(f"{SEASONS}/{first}/complete", "league")
    assert completed.get_json()["status"] == "COMPLETED"
    assert error_of(api.post(f"{SEASONS}/{first}/complete", "league")) == (
        409,
        "error_season_not_in_valid_state",
    )
    assert error_of(api.post(f"{SEASONS}/{first}/activate", "league")) == (
        409,
        "error_season_not_in_valid_state",
    )
    # Once the first is over, the next season may go live.
    assert api.post(f"{SEASONS}/{second}/activate", "league").get_json()["status"] == "ACTIVE"

    statuses = {
        season["id"]: season["status"]
        for season in api.post(SEASONS, "league").get_json()["seasons"]
    }
    assert statuses == {first: "COMPLETED", second: "ACTIVE"}


def test_single_active_rule_is_per_league_and_game(app, api, world, second_league):
    with app.app_context():
        begin_write()
        league = db.session.get(League, world["leagues"]["demo-league"])
        league.games.append(db.session.get(Game, world["games"]["other-game"]))
        db.session.commit()
    demo = new_season(api)
    other_game = new_season(api, gameId=world["games"]["other-game"])
    other_league = new_season(api, path=f"{second_league}/seasons", who="second")

    assert api.post(f"{SEASONS}/{demo}/activate", "league").status_code == 200
    assert api.post(f"{SEASONS}/{other_game}/activate", "league").status_code == 200
    path = f"{second_league}/seasons/{other_league}/activate"
    assert api.post(path, "second").status_code == 200


def test_season_list_filters_and_counts(app, api, world):
    with app.app_context():
        begin_write()
        league = db.session.get(League, world["leagues"]["demo-league"])
        league.games.append(db.session.get(Game, world["games"]["other-game"]))
        db.session.commit()
    old = new_season(api, name="Old", startDate=1_000, endDate=2_000)
    new = new_season(api, name="New", startDate=5_000, endDate=6_000)
    other = new_season(api, name="Other", gameId=world["games"]["other-game"], startDate=3_000)
    api.post(f"{SEASONS}/{new}/activate", "league")

    everything = api.post(SEASONS, "league").get_json()
    assert [s["id"] for s in everything["seasons"]] == [new, other, old]  # newest start first
    assert everything["count"] == 3 and everything["timestamp"].endswith("Z")

    active = api.post(SEASONS, "league", {"status": "ACTIVE"}).get_json()
    assert [s["id"] for s in active["seasons"]] == [new] and active["count"] == 1
    by_game = api.post(SEASONS, "league", {"gameId": world["games"]["demo-game"]}).get_json()
    assert [s["id"] for s in by_game["seasons"]] == [new, old]
    both = {"gameId": world["games"]["demo-game"], "status": "UPCOMING"}
    assert [s["id"] for s in api.post(SEASONS, "league", both).get_json()["seasons"]] == [old]
    nothing = api.post(SEASONS, "league", {"gameId": "no-such-game"}).get_json()
    assert (nothing["seasons"], nothing["count"]) == ([], 0)


def test_season_list_is_a_read_that_ignores_idempotency(api):
    new_season(api)
    first = api.post(SEASONS, "league", {}, key="list-1")
    second = api.post(SEASONS, "league", {"status": "ACTIVE"}, key="list-1")
    assert first.status_code == 200 and second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    assert (first.get_json()["count"], second.get_json()["count"]) == (1, 0)


def test_activate_keyed_retry_is_processed_again(api):
    season = new_season(api)
    first = api.post(f"{SEASONS}/{season}/activate", "league", key="act-1")
    assert first.status_code == 200
    retry = api.post(f"{SEASONS}/{season}/activate", "league", key="act-1")
    assert error_of(retry) == (409, "error_season_not_in_valid_state")
    assert "Idempotent-Replayed" not in retry.headers
    # The header is ignored entirely: not even validated.
    bad_key = api.post(f"{SEASONS}/{season}/complete", "league", key="\u00e9" * 300)
    assert bad_key.status_code == 200


# -- the partial unique index -----------------------------------------------------------------


def _season_row(world, status: str, name: str) -> Season:
    return Season(
        league_id=world["leagues"]["demo-league"],
        game_id=world["games"]["demo-game"],
        name=name,
        status=status,
        start_date=datetime.fromtimestamp(START_MS / 1000, UTC),
        end_date=datetime.fromtimestamp(END_MS / 1000, UTC),
    )


def test_index_rejects_a_second_active_season_inserted_through_models(app, world):
    with app.app_context():
        begin_write()
        # Only ACTIVE rows are constrained: any number of the other states coexist.
        db.session.add_all(
            [
                _season_row(world, "COMPLETED", "a"),
                _season_row(world, "COMPLETED", "b"),
                _season_row(world, "UPCOMING", "c"),
                _season_row(world, "UPCOMING", "d"),
                _season_row(world, "ACTIVE", "e"),
            ]
        )
        db.session.commit()

        begin_write()
        db.session.add(_season_row(world, "ACTIVE", "f"))
        with pytest.raises(IntegrityError):
            db.session.flush()
        db.session.rollback()
        names = db.session.scalars(select(Season.name).where(Season.status == "ACTIVE")).all()
        assert names == ["e"]


def test_index_violation_during_activation_is_the_409(api, monkeypatch):
    """Past the code check (as a concurrent activation is), the index still answers 409."""
    first = new_season(api)
    second = new_season(api)
    assert api.post(f"{SEASONS}/{first}/activate", "league").status_code == 200

    monkeypatch.setattr(league_domain, "_other_active_season", lambda season: None)
    clash = api.post(f"{SEASONS}/{second}/activate", "league")
    assert error_of(clash) == (409, "error_season_not_in_valid_state")
    assert api.get(f"{SEASONS}/{second}", "league").get_json()["season"]["status"] == "UPCOMING"
    assert api.get(f"{SEASONS}/{first}", "league").get_json()["season"]["status"] == "ACTIVE"


@pytest.mark.backend("postgresql")  # row-level waits exist on PostgreSQL only
def test_concurrent_activation_blocks_on_the_index_then_gets_409(app, api):
    """A rival transaction holds an uncommitted ACTIVE season; ours waits on it, then fails."""
    first = new_season(api)
    second = new_season(api)
    rival = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    own_client = Api(app.test_client(), api.world)
    results: list = []
    try:
        with rival.connect() as connection:
            transaction = connection.begin()
            connection.execute(
                text("UPDATE seasons SET status = 'ACTIVE' WHERE id = :id"), {"id": first}
            )
            thread = threading.Thread(
                target=lambda: results.append(
                    own_client.post(f"{SEASONS}/{second}/activate", "league")
                )
            )
            thread.start()
            _wait_for_blocked_backend(connection)
            transaction.commit()
            thread.join(timeout=30)
    finally:
        rival.dispose()
    assert not thread.is_alive()
    assert error_of(results[0]) == (409, "error_season_not_in_valid_state")
    assert api.get(f"{SEASONS}/{second}", "league").get_json()["season"]["status"] == "UPCOMING"


def _wait_for_blocked_backend(connection, timeout: float = 20.0) -> None:
    """Poll until another backend waits on a lock held by ``connection`` (bounded)."""
    own_pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    deadline = time.monotonic() + timeout
    query = text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))")
    while time.monotonic() < deadline:
        if connection.execute(query, {"pid": own_pid}).scalar_one():
            return
        # pg_stat_activity is a snapshot per transaction, and this one must stay open.
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        time.sleep(0.01)
    raise AssertionError("the activation never waited on the rival transaction")


# -- league tickets ---------------------------------------------------------------------------


def test_ticket_create_reply_and_get(api, world):
    created = api.post(f"{TICKETS}/create", "league", {"subject": "s", "description": "d"})
    assert created.status_code == 201
    ticket_id = created.get_json()["ticketId"]
    assert set(created.get_json()) == {"success", "ticketId", "timestamp"}
    assert created.headers["Location"] == f"/api/v1{TICKETS}/{ticket_id}"

    reply = api.post(f"{TICKETS}/{ticket_id}/reply", "league", {"content": "more info"})
    assert reply.status_code == 200 and reply.get_json()["success"] is True
    note = api.post(
        f"{TICKETS}/{ticket_id}/reply", "league", {"content": "staff", "isInternal": True}
    )
    assert note.status_code == 200

    fetched = api.get(f"{TICKETS}/{ticket_id}", "league")
    assert fetched.status_code == 200
    ticket = fetched.get_json()["ticket"]
    assert (ticket["id"], ticket["leagueId"]) == (ticket_id, world["leagues"]["demo-league"])
    assert (ticket["priority"], ticket["status"]) == ("medium", "open")
    assert ticket["authorUserId"] == world["users"]["olivia"]
    assert [(m["id"], m["content"], m["isInternal"]) for m in ticket["messages"]] == [
        (reply.get_json()["messageId"], "more info", False),
        (note.get_json()["messageId"], "staff", True),
    ]


def test_league_tickets_are_not_support_tickets(app, api):
    ticket_id = new_ticket(api)
    assert api.get(f"/tickets/{ticket_id}", "alice").status_code == 404
    body = {"subject": "s", "description": "d", "category": "other"}
    support = api.post("/tickets", "alice", body)
    support_id = support.get_json()["ticketId"]
    assert error_of(api.get(f"{TICKETS}/{support_id}", "league")) == (
        404,
        "error_ticket_not_found",
    )
    assert count_rows(app, LeagueTicket) == 1


def test_reply_to_a_closed_league_ticket_is_409(app, api):
    ticket_id = new_ticket(api)
    with app.app_context():
        begin_write()
        db.session.get(LeagueTicket, ticket_id).status = "closed"  # as staff would
        db.session.commit()
    late = api.post(f"{TICKETS}/{ticket_id}/reply", "league", {"content": "late"})
    assert error_of(late) == (409, "error_ticket_closed")
    assert count_rows(app, LeagueTicketMessage) == 0


# -- idempotency on the three Idem endpoints --------------------------------------------------


def _assert_replay(first, again) -> None:
    assert again.status_code == first.status_code
    assert again.data == first.data
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers.get("Location") == first.headers.get("Location")
    assert again.headers["Content-Type"] == first.headers["Content-Type"]


def test_season_create_keyed_retry_replays_and_conflicts(app, api, world):
    body = season_body(world)
    first = api.post(f"{SEASONS}/create", "league", body, key="season-1")
    again = api.post(f"{SEASONS}/create", "league", body, key="season-1")
    assert first.status_code == 201
    _assert_replay(first, again)
    assert count_rows(app, Season) == 1

    other = api.post(f"{SEASONS}/create", "league", {**body, "name": "Other"}, key="season-1")
    assert error_of(other) == (409, "error_idempotency_key_conflict")
    assert count_rows(app, Season) == 1
    # The stored record is untouched by the conflict.
    _assert_replay(first, api.post(f"{SEASONS}/create", "league", body, key="season-1"))


def test_ticket_create_keyed_retry_replays_and_conflicts(app, api):
    first = api.post(f"{TICKETS}/create", "league", TICKET, key="ticket-1")
    again = api.post(f"{TICKETS}/create", "league", TICKET, key="ticket-1")
    assert first.status_code == 201
    _assert_replay(first, again)
    assert count_rows(app, LeagueTicket) == 1

    other = api.post(f"{TICKETS}/create", "league", {**TICKET, "priority": "low"}, key="ticket-1")
    assert error_of(other) == (409, "error_idempotency_key_conflict")
    assert count_rows(app, LeagueTicket) == 1


def test_ticket_reply_keyed_retry_replays_and_conflicts(app, api):
    ticket_id = new_ticket(api)
    path = f"{TICKETS}/{ticket_id}/reply"
    first = api.post(path, "league", {"content": "hello"}, key="reply-1")
    again = api.post(path, "league", {"content": "hello"}, key="reply-1")
    assert first.status_code == 200
    _assert_replay(first, again)
    assert "Location" not in first.headers
    assert count_rows(app, LeagueTicketMessage) == 1

    other = api.post(path, "league", {"content": "hello", "isInternal": True}, key="reply-1")
    assert error_of(other) == (409, "error_idempotency_key_conflict")
    messages = api.get(f"{TICKETS}/{ticket_id}", "league").get_json()["ticket"]["messages"]
    assert [(m["content"], m["isInternal"]) for m in messages] == [("hello", False)]


def test_keyed_error_answer_is_stored_and_replayed(app, api, world):
    body = season_body(world, gameId=world["games"]["other-game"])
    first = api.post(f"{SEASONS}/create", "league", body, key="bad-game")
    assert error_of(first) == (404, "error_game_not_found")
    again = api.post(f"{SEASONS}/create", "league", body, key="bad-game")
    _assert_replay(first, again)
    assert count_rows(app, Season) == 0


# -- lookups, bindings and permissions --------------------------------------------------------


def test_unknown_league_is_404(api, world):
    calls = [
        ("POST", "/leagues/nope/seasons/create", season_body(world)),
        ("POST", "/leagues/nope/seasons/x/activate", None),
        ("POST", "/leagues/nope/seasons/x/complete", None),
        ("GET", "/leagues/nope/seasons/x", None),
        ("POST", "/leagues/nope/seasons", None),
        ("POST", "/leagues/nope/tickets/create", TICKET),
        ("POST", "/leagues/nope/tickets/x/reply", {"content": "c"}),
        ("GET", "/leagues/nope/tickets/x", None),
    ]
    for method, path, body in calls:
        response = api.call(method, path, "league", body)
        assert error_of(response) == (404, "error_league_not_found"), path


def test_another_league_is_403_scope_mismatch(api, world, second_league):
    season = new_season(api, path=f"{second_league}/seasons", who="second")
    ticket = new_ticket(api, path=f"{second_league}/tickets", who="second")
    calls = [
        ("POST", f"{second_league}/seasons/create", season_body(world)),
        ("POST", f"{second_league}/seasons/{season}/activate", None),
        ("POST", f"{second_league}/seasons/{season}/complete", None),
        ("GET", f"{second_league}/seasons/{season}", None),
        ("POST", f"{second_league}/seasons", None),
        ("POST", f"{second_league}/tickets/create", TICKET),
        ("POST", f"{second_league}/tickets/{ticket}/reply", {"content": "c"}),
        ("GET", f"{second_league}/tickets/{ticket}", None),
    ]
    for method, path, body in calls:
        response = api.call(method, path, "league", body)
        assert error_of(response) == (403, "error_league_scope_mismatch"), path
    assert api.get(f"{second_league}/seasons/{season}", "second").get_json()["season"][
        "status"
    ] == ("UPCOMING")


def test_resources_of_another_league_are_404_in_yours(api, second_league):
    season = new_season(api, path=f"{second_league}/seasons", who="second")
    ticket = new_ticket(api, path=f"{second_league}/tickets", who="second")
    for method, path in (
        ("GET", f"{SEASONS}/{season}"),
        ("POST", f"{SEASONS}/{season}/activate"),
        ("POST", f"{SEASONS}/{season}/complete"),
        ("GET", f"{SEASONS}/unknown-season"),
        ("POST", f"{SEASONS}/unknown-season/activate"),
    ):
        assert error_of(api.call(method, path, "league")) == (404, "error_season_not_found")
    for method, path, body in (
        ("GET", f"{TICKETS}/{ticket}", None),
        ("POST", f"{TICKETS}/{ticket}/reply", {"content": "c"}),
        ("GET", f"{TICKETS}/unknown-ticket", None),
        ("POST", f"{TICKETS}/unknown-ticket/reply", {"content": "c"}),
    ):
        assert error_of(api.call(method, path, "league", body)) == (404, "error_ticket_not_found")


def test_game_outside_the_league_is_404(api, world):
    for game_id in (world["games"]["other-game"], "no-such-game"):
        response = api.post(f"{SEASONS}/create", "league", season_body(world, gameId=game_id))
        assert error_of(response) == (404, "error_game_not_found")


def test_other_kinds_of_key_are_denied(api, world):
    calls = [
        ("POST", f"{SEASONS}/create", season_body(world)),
        ("POST", f"{SEASONS}/x/activate", None),
        ("GET", f"{SEASONS}/x", None),
        ("POST", SEASONS, None),
        ("POST", f"{TICKETS}/create", TICKET),
        ("POST", f"{TICKETS}/x/reply", {"content": "c"}),
        ("GET", f"{TICKETS}/x", None),
    ]
    for who in ("alice", "game"):
        for method, path, body in calls:
            response = api.call(method, path, who, body)
            assert error_of(response) == (403, "error_api_key_permission_denied"), (who, path)


def test_scopes_gate_reads_and_writes(api, runner, world):
    season = new_season(api)
    ticket = new_ticket(api)
    add_key(
        api,
        runner,
        "readonly",
        "league",
        "--league",
        "demo-league",
        "--scope",
        "leagues.seasons=read",
        "--scope",
        "leagues.tickets=read",
    )
    add_key(api, runner, "noscope", "league", "--league", "demo-league")
    denied = (403, "error_api_key_permission_denied")

    writes = [
        (f"{SEASONS}/create", season_body(world)),
        (f"{SEASONS}/{season}/activate", None),
        (f"{SEASONS}/{season}/complete", None),
        (f"{TICKETS}/create", TICKET),
        (f"{TICKETS}/{ticket}/reply", {"content": "c"}),
    ]
    for who in ("readonly", "noscope"):
        for path, body in writes:
            assert error_of(api.post(path, who, body)) == denied, (who, path)

    assert api.get(f"{SEASONS}/{season}", "readonly").status_code == 200
    assert api.post(SEASONS, "readonly").get_json()["count"] == 1
    assert api.get(f"{TICKETS}/{ticket}", "readonly").status_code == 200
    assert error_of(api.get(f"{SEASONS}/{season}", "noscope")) == denied
    assert error_of(api.post(SEASONS, "noscope")) == denied
    assert error_of(api.get(f"{TICKETS}/{ticket}", "noscope")) == denied
    assert api.get(f"{SEASONS}/{season}", "league").get_json()["season"]["status"] == "UPCOMING"


def test_missing_key_is_401(api):
    assert error_of(api.post(f"{SEASONS}/create")) == (401, "error_api_key_required")


# -- validation -------------------------------------------------------------------------------


def _details(response) -> dict:
    assert error_of(response) == (400, "error_invalid_request")
    return response.get_json()["details"]


def test_season_create_validation_names_fields(api, world):
    path = f"{SEASONS}/create"
    assert set(_details(api.post(path, "league", {}))) == {"gameId", "name", "startDate", "endDate"}
    checks = [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"gameId": 7}, "gameId"),
        ({"startDate": "1700000000000"}, "startDate"),
        ({"startDate": 1.5}, "startDate"),
        ({"startDate": True}, "startDate"),
        ({"startDate": -1}, "startDate"),
        ({"endDate": 2**53 - 1}, "endDate"),  # past year 9999: refused, never a 500
        ({"endDate": START_MS}, "endDate"),
        ({"endDate": START_MS - 1}, "endDate"),
        ({"surprise": 1}, "surprise"),
    ]
    for changes, field in checks:
        details = _details(api.post(path, "league", season_body(world, **changes)))
        assert field in details, (changes, details)
    assert _details(api.post(path, "league", [season_body(world)]))
    # The same value spelt as a float is the same integer.
    ok = api.post(path, "league", season_body(world, startDate=float(START_MS)))
    assert ok.status_code == 201


def test_season_list_and_state_change_validation(api):
    season = new_season(api)
    assert "status" in _details(api.post(SEASONS, "league", {"status": "LIVE"}))
    assert "gameId" in _details(api.post(SEASONS, "league", {"gameId": 3}))
    assert _details(api.post(SEASONS, "league", [1]))
    assert "why" in _details(api.post(f"{SEASONS}/{season}/activate", "league", {"why": "x"}))
    assert api.get(f"{SEASONS}/{season}", "league").get_json()["season"]["status"] == "UPCOMING"


def test_ticket_validation_names_fields(app, api):
    path = f"{TICKETS}/create"
    assert set(_details(api.post(path, "league", {}))) == {"subject", "description"}
    checks = [
        ({"subject": "x" * 201}, "subject"),
        ({"subject": ""}, "subject"),
        ({"description": "x" * 2001}, "description"),
        ({"priority": "critical"}, "priority"),
        ({"priority": None}, "priority"),
    ]
    for changes, field in checks:
        assert field in _details(api.post(path, "league", {**TICKET, **changes})), changes
    assert count_rows(app, LeagueTicket) == 0

    ticket_id = new_ticket(api)
    reply = f"{TICKETS}/{ticket_id}/reply"
    assert "content" in _details(api.post(reply, "league", {}))
    assert "content" in _details(api.post(reply, "league", {"content": "x" * 2001}))
    assert "isInternal" in _details(api.post(reply, "league", {"content": "c", "isInternal": 1}))
    assert "isInternal" in _details(
        api.post(reply, "league", {"content": "c", "isInternal": "yes"})
    )
    assert count_rows(app, LeagueTicketMessage) == 0
    for priority in ("low", "medium", "high", "urgent"):
        created = api.post(path, "league", {**TICKET, "priority": priority})
        fetched = api.get(created.headers["Location"].removeprefix("/api/v1"), "league")
        assert fetched.get_json()["ticket"]["priority"] == priority
