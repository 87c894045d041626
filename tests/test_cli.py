"""The command line of API.md section 7: init-db, demo-seed and the administration commands."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, inspect, select

from league_api import create_app
from league_api.auth import PERSONAL_FULL_SCOPES, hash_key
from league_api.db import db
from league_api.models import ApiKey, Game, League, SupportTicket, Team, User

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


def invoke(runner, *args: str, ok: bool = True):
    result = runner.invoke(args=list(args))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


def test_init_db_creates_the_tables_and_is_safe_twice(empty_database_url):
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url, "AUTO_INIT_DB": False}
    )
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []
    runner = app.test_cli_runner()
    for _ in range(2):
        result = invoke(runner, "init-db")
        assert "Initialised the database." in result.stdout
    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert {"users", "api_keys", "support_tickets", "idempotency_records"} <= tables
    assert set(db.metadata.tables) <= tables


def test_demo_seed_prints_the_demo_world(app, runner):
    result = invoke(runner, "demo-seed")
    world = json.loads(result.stdout)  # stdout is exactly one JSON object
    assert set(world) == {"users", "teams", "games", "leagues", "keys"}
    assert {"alice", "amir", "bob", "bea", "carol", "olivia", "gina"} <= set(world["users"])
    assert {"alpha", "bravo", "charlie"} <= set(world["teams"])
    assert {"demo-game", "other-game"} <= set(world["games"])
    assert "demo-league" in world["leagues"]
    key_names = {"alice", "amir", "bob", "bea", "carol", "alice_readonly", "game", "other_game"}
    assert key_names | {"league"} <= set(world["keys"])
    users, games = world["users"], world["games"]
    with app.app_context():
        for name, user_id in users.items():
            assert db.session.get(User, user_id).name == name
        for slug, game_id in games.items():
            assert db.session.get(Game, game_id).slug == slug
        teams = {name: db.session.get(Team, team_id) for name, team_id in world["teams"].items()}
        expected = {
            "alpha": ("alice", {"alice", "amir"}),
            "bravo": ("bob", {"bob", "bea"}),
            "charlie": ("carol", {"carol"}),
        }
        for name, (captain, members) in expected.items():
            team = teams[name]
            assert team.game_id == games["demo-game"], name
            assert team.captain_id == users[captain], name
            assert team.member_ids() == {users[member] for member in members}, name
        league = db.session.get(League, world["leagues"]["demo-league"])
        assert [game.slug for game in league.games] == ["demo-game"]

        def key(name: str) -> ApiKey:
            plaintext = world["keys"][name]
            found = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext)))
            assert found is not None and found.revoked_at is None, name
            return found

        for name in ("alice", "amir", "bob", "bea", "carol"):
            personal = key(name)
            assert (personal.kind, personal.owner_id) == ("personal", users[name])
            assert personal.scopes == PERSONAL_FULL_SCOPES
        readonly = key("alice_readonly")
        assert (readonly.kind, readonly.owner_id) == ("personal", users["alice"])
        assert set(readonly.scopes.values()) <= {"read", "on", "none", "off"}
        assert "tickets.write" not in readonly.scopes or readonly.scopes["tickets.write"] == "off"
        for name, slug in (("game", "demo-game"), ("other_game", "other-game")):
            game_key = key(name)
            assert (game_key.kind, game_key.owner_id) == ("game", users["gina"])
            assert game_key.game_id == games[slug]
            assert game_key.scopes["game.lifecycle"] == "read-write"
            assert game_key.scopes["game.scores"] == "write"
        league_key = key("league")
        assert (league_key.kind, league_key.owner_id) == ("league", users["olivia"])
        assert league_key.league_id == world["leagues"]["demo-league"]
        assert league_key.scopes["leagues.seasons"] == "read-write"
        assert league_key.scopes["leagues.tickets"] == "read-write"


def test_demo_seed_refuses_a_second_run_and_changes_nothing(app, runner):
    invoke(runner, "demo-seed")
    before = row_counts(app)
    result = invoke(runner, "demo-seed", ok=False)
    assert result.exit_code != 0
    assert "already holds data" in result.output
    assert result.stdout.strip() == ""
    assert row_counts(app) == before


def test_demo_seed_refuses_any_database_that_holds_data(app, runner):
    """Not only a previous demo world: any data at all, e.g. one game an operator created."""
    invoke(runner, "games", "create", "my-game")
    before = row_counts(app)
    result = invoke(runner, "demo-seed", ok=False)
    assert result.exit_code != 0
    assert "already holds data" in result.output
    assert row_counts(app) == before


def test_administration_commands_create_a_working_league(app, runner, client):
    user_id = invoke(runner, "users", "create", "dave").stdout.strip()
    erin_id = invoke(runner, "users", "create", "erin").stdout.strip()
    game_id = invoke(runner, "games", "create", "chess", "--name", "Chess").stdout.strip()
    league_id = invoke(runner, "leagues", "create", "chess-league", "--game", "chess").stdout
    team_id = invoke(
        runner,
        "teams",
        "create",
        "knights",
        "--game",
        "chess",
        "--captain",
        "dave",
        "--member",
        "erin",
    ).stdout.strip()
    created = invoke(
        runner,
        "keys",
        "create",
        "dave-key",
        "--kind",
        "personal",
        "--owner",
        "dave",
        "--scope",
        "tickets.write=on",
    )
    plaintext = created.stdout.strip()
    assert "\n" not in plaintext and plaintext.startswith("lk_")
    assert "key id:" in created.stderr
    operator = invoke(
        runner,
        "keys",
        "create",
        "chess-ops",
        "--kind",
        "league",
        "--owner",
        "erin",
        "--league",
        "chess-league",
        "--scope",
        "leagues.tickets=read-write",
    ).stdout.strip()
    developer = invoke(
        runner,
        "keys",
        "create",
        "chess-dev",
        "--kind",
        "game",
        "--owner",
        "erin",
        "--game",
        "chess",
        "--scope",
        "game.lifecycle=read",
    ).stdout.strip()
    with app.app_context():
        assert db.session.get(User, user_id).name == "dave"
        assert db.session.get(Game, game_id).name == "Chess"
        league = db.session.get(League, league_id.strip())
        assert [game.id for game in league.games] == [game_id]
        team = db.session.get(Team, team_id)
        assert (team.game_id, team.captain_id) == (game_id, user_id)
        assert team.member_ids() == {user_id, erin_id}
        keys = {
            key.name: key
            for key in db.session.scalars(
                select(ApiKey).where(ApiKey.owner_id.in_([user_id, erin_id]))
            )
        }
        assert keys["dave-key"].key_hash == hash_key(plaintext)
        assert (keys["chess-ops"].kind, keys["chess-ops"].league_id) == ("league", league.id)
        assert (keys["chess-dev"].kind, keys["chess-dev"].game_id) == ("game", game_id)
        assert keys["chess-dev"].key_hash == hash_key(developer)
        assert keys["chess-ops"].key_hash == hash_key(operator)
    # The personal key works, as dave.
    headers = {"Authorization": f"Bearer {plaintext}"}
    response = client.post("/api/v1/tickets", json=TICKET, headers=headers)
    assert response.status_code == 201
    with app.app_context():
        ticket = db.session.get(SupportTicket, response.get_json()["ticketId"])
        assert ticket.owner_id == user_id


def test_administration_commands_refuse_bad_input_and_change_nothing(app, runner):
    invoke(runner, "users", "create", "dave")
    invoke(runner, "games", "create", "chess")
    before = row_counts(app)
    failures: list[tuple[list[str], str]] = [
        (["teams", "create", "t", "--game", "nope", "--captain", "dave"], "no game"),
        (["teams", "create", "t", "--game", "chess", "--captain", "nobody"], "no user"),
        (["leagues", "create", "l", "--game", "nope"], "no game"),
        (["keys", "create", "k", "--kind", "game", "--owner", "dave"], "game"),
        (["keys", "create", "k", "--kind", "personal", "--owner", "dave", "--scope", "x=on"], "x"),
        (
            [
                "keys",
                "create",
                "k",
                "--kind",
                "personal",
                "--owner",
                "dave",
                "--scope",
                "chat.read=rw",
            ],
            "chat.read",
        ),
        (["keys", "create", "k", "--kind", "personal", "--owner", "ghost"], "no user"),
        (["keys", "revoke", "no-such-key"], "no API key"),
        (["tickets", "close", "no-such-ticket"], "no ticket"),
        (["users", "create", "dave"], "conflicts with existing data"),
        (["games", "create", "chess"], "conflicts with existing data"),
    ]
    for args, message in failures:
        result = invoke(runner, *args, ok=False)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output, args
    assert row_counts(app) == before


def _key_id(app, name: str) -> str:
    with app.app_context():
        return db.session.scalar(select(ApiKey.id).where(ApiKey.name == name))


def test_keys_revoke_makes_the_key_401(api, app, runner):
    assert api.get("/tickets", "alice").status_code == 200
    result = invoke(runner, "keys", "revoke", _key_id(app, "alice"))
    assert "Revoked" in result.stdout
    for response in (api.get("/tickets", "alice"), api.post("/tickets", "alice", TICKET)):
        assert response.status_code == 401
        assert response.get_json()["error"] == "error_api_key_invalid"
    # Revoking twice is harmless; other keys are untouched.
    invoke(runner, "keys", "revoke", _key_id(app, "alice"))
    assert api.get("/tickets", "alice_readonly").status_code == 200


def test_tickets_close_closes_a_support_ticket(api, runner):
    ticket_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
    invoke(runner, "tickets", "close", ticket_id)
    response = api.post(f"/tickets/{ticket_id}/messages", "alice", {"content": "hello?"})
    assert (response.status_code, response.get_json()["error"]) == (409, "error_ticket_closed")


def test_demo_seed_keys_work_against_the_api(api):
    """Each demo key authenticates and has the kind the demo world promises."""
    expected: dict[str, Any] = {"alice": 200, "alice_readonly": 200, "game": 403, "league": 403}
    for who, status in expected.items():
        assert api.get("/tickets", who).status_code == status, who
