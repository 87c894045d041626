"""Administration commands: demo-seed, and users, games, leagues, teams, keys and tickets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import literal, select

from league_api import provisioning
from league_api.auth import PERSONAL_FULL_SCOPES
from league_api.db import db
from league_api.provisioning import ProvisioningError


def _write(action: Callable[[], Any]) -> Any:
    """Run one administrative change in its own write transaction; refusals are messages."""
    try:
        with provisioning.transaction():
            return action()
    except ProvisioningError as error:
        raise click.ClickException(str(error)) from None


users_cli = AppGroup("users", help="Manage users.")
games_cli = AppGroup("games", help="Manage games.")
leagues_cli = AppGroup("leagues", help="Manage leagues.")
teams_cli = AppGroup("teams", help="Manage teams.")
keys_cli = AppGroup("keys", help="Issue and revoke API keys.")
tickets_cli = AppGroup("tickets", help="Support tickets.")


@users_cli.command("create")
@click.argument("name")
@click.option("--host-user-id", help="The host site's own id for this user.")
def create_user(name: str, host_user_id: str | None) -> None:
    """Create a user and print its id."""
    click.echo(_write(lambda: provisioning.create_user(name, host_user_id).id))


@games_cli.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
def create_game(slug: str, name: str | None) -> None:
    """Create a game and print its id."""
    click.echo(_write(lambda: provisioning.create_game(slug, name).id))


@leagues_cli.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (default: the slug).")
@click.option("--game", "games", multiple=True, help="Slug of a game the league plays.")
def create_league(slug: str, name: str | None, games: tuple[str, ...]) -> None:
    """Create a league and print its id."""
    click.echo(_write(lambda: provisioning.create_league(slug, name, games).id))


@teams_cli.command("create")
@click.argument("name")
@click.option("--game", required=True, help="Slug of the team's game.")
@click.option("--captain", required=True, help="Name or id of the captain.")
@click.option("--member", "members", multiple=True, help="Name or id of a member.")
def create_team(name: str, game: str, captain: str, members: tuple[str, ...]) -> None:
    """Create a team (the captain is a member) and print its id."""
    click.echo(_write(lambda: provisioning.create_team(name, game, captain, members).id))


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
    parsed = _parse_scopes(scopes)
    issued = _write(lambda: provisioning.create_key(name, kind, owner, parsed, game, league))
    click.echo(f"key id: {issued.id}", err=True)
    click.echo(issued.key)


@keys_cli.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke a key by its id; it answers 401 from then on."""
    _write(lambda: provisioning.revoke_key(key_id))
    click.echo(f"Revoked {key_id}.")


@tickets_cli.command("close")
@click.argument("ticket_id")
@click.option("--league", "league_ticket", is_flag=True, help="Close a league ticket instead.")
def close_ticket(ticket_id: str, league_ticket: bool) -> None:
    """Close a support ticket (or, with --league, a league ticket) as staff."""
    _write(lambda: provisioning.close_ticket(ticket_id, league=league_ticket))
    click.echo(f"Closed {ticket_id}.")


GAME_KEY_SCOPES = {
    "game.lifecycle": "read-write",
    "game.scores": "write",
    "webhooks": "read-write",
}
LEAGUE_KEY_SCOPES = {
    "leagues.seasons": "read-write",
    "leagues.tickets": "read-write",
    "webhooks": "read-write",
}
READ_ONLY_SCOPES = {
    "matches.user_matches": "read",
    "matches.team_matches": "read",
    "chat.read": "on",
    "tickets.read": "on",
}


def _seed_demo_world() -> dict[str, dict[str, str]]:
    users = {
        name: provisioning.create_user(name)
        for name in ("alice", "amir", "bob", "bea", "carol", "olivia", "gina")
    }
    games = {
        slug: provisioning.create_game(slug, slug.replace("-", " ").title())
        for slug in ("demo-game", "other-game")
    }
    league = provisioning.create_league("demo-league", "Demo League", [games["demo-game"]])
    teams = {
        "alpha": provisioning.create_team("alpha", games["demo-game"], "alice", ["amir"]),
        "bravo": provisioning.create_team("bravo", games["demo-game"], "bob", ["bea"]),
        "charlie": provisioning.create_team("charlie", games["demo-game"], "carol"),
    }
    keys = {}
    for name in ("alice", "amir", "bob", "bea", "carol"):
        keys[name] = provisioning.create_key(
            name, "personal", users[name], PERSONAL_FULL_SCOPES
        ).key
    keys["alice_readonly"] = provisioning.create_key(
        "alice_readonly", "personal", users["alice"], READ_ONLY_SCOPES
    ).key
    keys["game"] = provisioning.create_key(
        "game", "game", users["gina"], GAME_KEY_SCOPES, game=games["demo-game"]
    ).key
    keys["other_game"] = provisioning.create_key(
        "other_game", "game", users["gina"], GAME_KEY_SCOPES, game=games["other-game"]
    ).key
    keys["league"] = provisioning.create_key(
        "league", "league", users["olivia"], LEAGUE_KEY_SCOPES, league=league
    ).key
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
    from league_api.webhooks.commands import webhooks_cli

    for command in (
        webhooks_cli,
        users_cli,
        games_cli,
        leagues_cli,
        teams_cli,
        keys_cli,
        tickets_cli,
        demo_seed_command,
    ):
        app.cli.add_command(command)
