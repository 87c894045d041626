"""Administration commands: demo-seed, and users, games, leagues, teams, keys and tickets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import literal, select
from sqlalchemy.exc import IntegrityError

from league_api.auth import PERSONAL_FULL_SCOPES, issue_key
from league_api.db import begin_write, db
from league_api.models import (
    ApiKey,
    Game,
    League,
    LeagueTicket,
    SupportTicket,
    Team,
    User,
    utcnow,
)


def _lookup(model: Any, column: Any, value: str, what: str) -> Any:
    found = db.session.scalar(select(model).where(column == value))
    if found is None:
        raise click.ClickException(f"no {what} {value!r}")
    return found


def _user(name_or_id: str) -> User:
    found = db.session.scalar(
        select(User).where((User.name == name_or_id) | (User.id == name_or_id))
    )
    if found is None:
        raise click.ClickException(f"no user {name_or_id!r}")
    return found


def _write(action: Callable[[], Any]) -> Any:
    """Run one administrative change in its own write transaction."""
    begin_write()
    try:
        result = action()
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        # Most often a name or slug already taken: a message, not a traceback.
        raise click.ClickException(f"that conflicts with existing data: {error.orig}") from None
    except BaseException:
        db.session.rollback()
        raise
    return result


def _insert(row: Any) -> str:
    """Add a new row and return its id (inside ``_write``'s transaction)."""
    db.session.add(row)
    db.session.flush()
    return row.id


users_cli = AppGroup("users", help="Manage users.")
games_cli = AppGroup("games", help="Manage games.")
leagues_cli = AppGroup("leagues", help="Manage leagues.")
teams_cli = AppGroup("teams", help="Manage teams.")
keys_cli = AppGroup("keys", help="Issue and revoke API keys.")
tickets_cli = AppGroup("tickets", help="Support tickets.")


@users_cli.command("create")
@click.argument("name")
def create_user(name: str) -> None:
    """Create a user and print its id."""
    click.echo(_write(lambda: _insert(User(name=name))))


@games_cli.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
def create_game(slug: str, name: str | None) -> None:
    """Create a game and print its id."""
    click.echo(_write(lambda: _insert(Game(slug=slug, name=name or slug))))


@leagues_cli.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
@click.option("--game", "games", multiple=True, help="Slug of a game the league plays.")
def create_league(slug: str, name: str | None, games: tuple[str, ...]) -> None:
    """Create a league and print its id."""

    def action() -> str:
        playing = [_lookup(Game, Game.slug, game, "game") for game in games]
        return _insert(League(slug=slug, name=name or slug, games=playing))

    click.echo(_write(action))


@teams_cli.command("create")
@click.argument("name")
@click.option("--game", required=True, help="Slug of the team's game.")
@click.option("--captain", required=True, help="Name or id of the captain.")
@click.option("--member", "members", multiple=True, help="Name or id of a member.")
def create_team(name: str, game: str, captain: str, members: tuple[str, ...]) -> None:
    """Create a team (the captain is a member) and print its id."""

    def action() -> str:
        return _new_team(name, _lookup(Game, Game.slug, game, "game"), captain, members).id

    click.echo(_write(action))


def _new_team(name: str, game: Game, captain: str, members: tuple[str, ...] | list[str]) -> Team:
    captain_user = _user(captain)
    team = Team(name=name, game_id=game.id, captain_id=captain_user.id)
    team.members = [captain_user] + [_user(member) for member in members]
    db.session.add(team)
    db.session.flush()
    return team


def _parse_scopes(pairs: tuple[str, ...]) -> dict[str, str]:
    scopes = {}
    for pair in pairs:
        name, sep, level = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not NAME=LEVEL", param_hint="--scope")
        scopes[name] = level
    return scopes


@keys_cli.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(["personal", "game", "league"]), required=True)
@click.option("--owner", required=True, help="Name or id of the owning user.")
@click.option("--game", help="Slug of the game (game developer keys).")
@click.option("--league", help="Slug of the league (league operator keys).")
@click.option("--scope", "scopes", multiple=True, help="NAME=LEVEL, e.g. tickets.write=on.")
def create_key(
    name: str, kind: str, owner: str, game: str | None, league: str | None, scopes: tuple[str, ...]
) -> None:
    """Issue an API key; the key is printed once and only its hash is kept."""

    def action() -> tuple[str, str]:
        game_id = _lookup(Game, Game.slug, game, "game").id if game else None
        league_id = _lookup(League, League.slug, league, "league").id if league else None
        try:
            key, plaintext = issue_key(
                name, kind, _user(owner), _parse_scopes(scopes), game_id, league_id
            )
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        return key.id, plaintext

    key_id, plaintext = _write(action)
    click.echo(f"key id: {key_id}", err=True)
    click.echo(plaintext)


@keys_cli.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke a key by its id; it answers 401 from then on."""

    def action() -> None:
        key = _lookup(ApiKey, ApiKey.id, key_id, "API key")
        key.revoked_at = key.revoked_at or utcnow()

    _write(action)
    click.echo(f"Revoked {key_id}.")


@tickets_cli.command("close")
@click.argument("ticket_id")
@click.option("--league", "league_ticket", is_flag=True, help="Close a league ticket instead.")
def close_ticket(ticket_id: str, league_ticket: bool) -> None:
    """Close a support ticket (or, with --league, a league ticket) as staff."""
    model = LeagueTicket if league_ticket else SupportTicket

    def action() -> None:
        _lookup(model, model.id, ticket_id, "ticket").status = "closed"

    _write(action)
    click.echo(f"Closed {ticket_id}.")


GAME_KEY_SCOPES = {"game.lifecycle": "read-write", "game.scores": "write"}
LEAGUE_KEY_SCOPES = {"leagues.seasons": "read-write", "leagues.tickets": "read-write"}
READ_ONLY_SCOPES = {
    "matches.user_matches": "read",
    "matches.team_matches": "read",
    "chat.read": "on",
    "tickets.read": "on",
}


def _seed_demo_world() -> dict[str, dict[str, str]]:
    users = {}
    for name in ("alice", "amir", "bob", "bea", "carol", "olivia", "gina"):
        user = User(name=name)
        db.session.add(user)
        users[name] = user
    games = {
        slug: Game(slug=slug, name=slug.replace("-", " ").title())
        for slug in ("demo-game", "other-game")
    }
    db.session.add_all(games.values())
    league = League(slug="demo-league", name="Demo League", games=[games["demo-game"]])
    db.session.add(league)
    db.session.flush()
    teams = {
        "alpha": _new_team("alpha", games["demo-game"], "alice", ["amir"]),
        "bravo": _new_team("bravo", games["demo-game"], "bob", ["bea"]),
        "charlie": _new_team("charlie", games["demo-game"], "carol", []),
    }
    keys = {}
    for name in ("alice", "amir", "bob", "bea", "carol"):
        keys[name] = issue_key(name, "personal", users[name], PERSONAL_FULL_SCOPES)[1]
    keys["alice_readonly"] = issue_key(
        "alice_readonly", "personal", users["alice"], READ_ONLY_SCOPES
    )[1]
    keys["game"] = issue_key(
        "game", "game", users["gina"], GAME_KEY_SCOPES, game_id=games["demo-game"].id
    )[1]
    keys["other_game"] = issue_key(
        "other_game", "game", users["gina"], GAME_KEY_SCOPES, game_id=games["other-game"].id
    )[1]
    keys["league"] = issue_key(
        "league", "league", users["olivia"], LEAGUE_KEY_SCOPES, league_id=league.id
    )[1]
    return {
        "users": {name: user.id for name, user in users.items()},
        "teams": {name: team.id for name, team in teams.items()},
        "games": {slug: game.id for slug, game in games.items()},
        "leagues": {league.slug: league.id},
        "keys": keys,
    }


@click.command("demo-seed")
@with_appcontext
def demo_seed_command() -> None:
    """Fill an empty database with a demo world and print its ids and keys as JSON."""

    def action() -> dict[str, dict[str, str]]:
        # Any row at all, not only users: an operator's own game or league counts too.
        for table in db.metadata.sorted_tables:
            if db.session.scalar(select(literal(1)).select_from(table).limit(1)) is not None:
                raise click.ClickException(
                    f"the database already holds data ({table.name}); demo-seed changed nothing"
                )
        return _seed_demo_world()

    click.echo(json.dumps(_write(action), indent=2))


def init_app(app: Flask) -> None:
    for command in (
        users_cli,
        games_cli,
        leagues_cli,
        teams_cli,
        keys_cli,
        tickets_cli,
        demo_seed_command,
    ):
        app.cli.add_command(command)
