"""Provisioning from Python: users, games, leagues, teams and API keys (the CLI uses this too).

A host site gives its own members league accounts with these, e.g. on sign-up::

    from league_api import provisioning

    with provisioning.transaction():
        user = provisioning.create_user(member.name, host_user_id=str(member.id))
        issued = provisioning.create_key("web", "personal", user, provisioning.PERSONAL_FULL_SCOPES)
    show_once(issued.key)  # only its hash is stored

Each function adds and flushes inside the current transaction and returns the new row;
:func:`transaction` runs a block as one write transaction (inside a request or a CLI command,
with an app context). Refusals raise :class:`ProvisioningError` and change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from league_api.auth import PERSONAL_FULL_SCOPES, issue_key
from league_api.db import begin_write, db
from league_api.models import ApiKey, Game, League, LeagueTicket, SupportTicket, Team, User, utcnow

__all__ = [
    "PERSONAL_FULL_SCOPES",
    "IssuedKey",
    "ProvisioningError",
    "close_ticket",
    "create_game",
    "create_key",
    "create_league",
    "create_team",
    "create_user",
    "find_user",
    "revoke_key",
    "transaction",
]


class ProvisioningError(ValueError):
    """A refused change: an unknown reference, a name already taken, a bad scope."""


class IssuedKey(NamedTuple):
    """A new API key: ``key`` is the plain key, returned this once and never stored."""

    id: str
    key: str
    prefix: str


@contextmanager
def transaction() -> Iterator[None]:
    """One write transaction: committed at the end of the block, rolled back on any error."""
    begin_write()
    try:
        yield
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        # Most often a name, slug or host user id already taken.
        raise ProvisioningError(f"that conflicts with existing data: {error.orig}") from None
    except BaseException:
        db.session.rollback()
        raise


def _add(row):
    db.session.add(row)
    db.session.flush()
    return row


def find_user(name_or_id: str | None = None, *, host_user_id: str | None = None) -> User:
    """A user by name or id, or by the host's own user id."""
    if host_user_id is not None:
        found = db.session.scalar(select(User).where(User.host_user_id == host_user_id))
        what = f"host user id {host_user_id!r}"
    else:
        found = db.session.scalar(
            select(User).where((User.name == name_or_id) | (User.id == name_or_id))
        )
        what = repr(name_or_id)
    if found is None:
        raise ProvisioningError(f"no user {what}")
    return found


def _user(user: User | str) -> User:
    return user if isinstance(user, User) else find_user(user)


def _by_slug(model, slug: str, what: str):
    found = db.session.scalar(select(model).where(model.slug == slug))
    if found is None:
        raise ProvisioningError(f"no {what} {slug!r}")
    return found


def _game(game: Game | str) -> Game:
    return game if isinstance(game, Game) else _by_slug(Game, game, "game")


def create_user(name: str, host_user_id: str | None = None) -> User:
    """A league user; ``host_user_id`` links it to the host site's own account (unique)."""
    return _add(User(name=name, host_user_id=host_user_id))


def create_game(slug: str, name: str | None = None) -> Game:
    return _add(Game(slug=slug, name=name or slug))


def create_league(slug: str, name: str | None = None, games: Iterable[Game | str] = ()) -> League:
    """A league playing ``games`` (Game rows or slugs)."""
    return _add(League(slug=slug, name=name or slug, games=[_game(game) for game in games]))


def create_team(
    name: str, game: Game | str, captain: User | str, members: Iterable[User | str] = ()
) -> Team:
    """A team of ``game``; the captain is a member. Users are rows, names or ids."""
    captain_user = _user(captain)
    team = Team(name=name, game_id=_game(game).id, captain_id=captain_user.id)
    team.members = [captain_user] + [_user(member) for member in members]
    return _add(team)


def create_key(
    name: str,
    kind: str,
    owner: User | str,
    scopes: Mapping[str, str],
    game: Game | str | None = None,
    league: League | str | None = None,
) -> IssuedKey:
    """Issue an API key of ``kind`` (personal, game or league) with ``scopes``."""
    game_id = _game(game).id if game is not None else None
    if league is not None and not isinstance(league, League):
        league = _by_slug(League, league, "league")
    league_id = league.id if league is not None else None
    try:
        key, plaintext = issue_key(name, kind, _user(owner), dict(scopes), game_id, league_id)
    except ValueError as error:
        raise ProvisioningError(str(error)) from None
    return IssuedKey(key.id, plaintext, key.prefix)


def revoke_key(key_id: str) -> ApiKey:
    """Revoke a key: it answers 401 from then on (revoking twice keeps the first time)."""
    key = db.session.get(ApiKey, key_id)
    if key is None:
        raise ProvisioningError(f"no API key {key_id!r}")
    key.revoked_at = key.revoked_at or utcnow()
    db.session.flush()
    return key


def close_ticket(ticket_id: str, league: bool = False) -> None:
    """Close a support ticket (or a league ticket) as staff."""
    model = LeagueTicket if league else SupportTicket
    ticket = db.session.get(model, ticket_id)
    if ticket is None:
        raise ProvisioningError(f"no ticket {ticket_id!r}")
    ticket.status = "closed"
    db.session.flush()
