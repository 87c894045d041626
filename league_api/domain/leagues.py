"""League operator rules: the key's league, seasons and their one-ACTIVE rule, league tickets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from league_api.db import db
from league_api.domain import one_or_404
from league_api.errors import (
    GameNotFound,
    LeagueNotFound,
    LeagueScopeMismatch,
    SeasonNotFound,
    SeasonNotInValidState,
    TicketClosed,
    TicketNotFound,
)
from league_api.models import (
    ApiKey,
    Game,
    League,
    LeagueTicket,
    LeagueTicketMessage,
    Season,
    league_games,
    utcnow,
)
from league_api.states import ACTIVE, SEASON, UPCOMING
from league_api.webhooks.events import SEASON_ACTION_EVENTS
from league_api.webhooks.outbox import emit


def operated_league(key: ApiKey, slug: str) -> League:
    """The league named by ``slug``: 404 if it does not exist, 403 if it is not the key's."""
    league = db.session.scalar(select(League).where(League.slug == slug))
    if league is None:
        raise LeagueNotFound()
    if league.id != key.league_id:
        raise LeagueScopeMismatch()
    return league


def _league_game(league: League, game_id: str) -> Game:
    game = db.session.scalar(
        select(Game)
        .join(league_games, league_games.c.game_id == Game.id)
        .where(league_games.c.league_id == league.id, Game.id == game_id)
    )
    if game is None:
        raise GameNotFound("no such game in this league")
    return game


def create_season(
    league: League, game_id: str, name: str, start_date: datetime, end_date: datetime
) -> Season:
    game = _league_game(league, game_id)
    season = Season(
        league_id=league.id,
        game_id=game.id,
        name=name,
        status=UPCOMING,
        start_date=start_date,
        end_date=end_date,
    )
    db.session.add(season)
    db.session.flush()
    emit("season.created", season=season)
    return season


def league_season(league: League, season_id: str, for_update: bool = False) -> Season:
    """A season of this league; one of another league is as unknown as a missing one."""
    query = select(Season).where(Season.id == season_id, Season.league_id == league.id)
    return one_or_404(query, SeasonNotFound, for_update)


def _active_season_conflict() -> SeasonNotInValidState:
    return SeasonNotInValidState("another season of this game is already ACTIVE in this league")


def _other_active_season(season: Season) -> str | None:
    return db.session.scalar(
        select(Season.id).where(
            Season.league_id == season.league_id,
            Season.game_id == season.game_id,
            Season.status == ACTIVE,
            Season.id != season.id,
        )
    )


def change_season_state(season: Season, action: str) -> None:
    """Apply ``activate`` or ``complete``; the partial unique index has the last word.

    The code check gives the common case a clear answer. Two activations racing on
    PostgreSQL both pass it; the second then blocks on the unique index until the first
    commits and fails there, which becomes the same 409. The savepoint keeps the request's
    transaction usable after that failure.
    """
    new_status = SEASON.apply(action, season.status)
    if new_status == ACTIVE and _other_active_season(season) is not None:
        raise _active_season_conflict()
    try:
        with db.session.begin_nested():
            season.status = new_status
            db.session.flush()
    except IntegrityError:
        raise _active_season_conflict() from None
    emit(SEASON_ACTION_EVENTS[action], season=season)


def list_seasons(league: League, game_id: str | None, status: str | None) -> list[Season]:
    """The league's seasons, newest start first."""
    query = select(Season).where(Season.league_id == league.id)
    if game_id is not None:
        query = query.where(Season.game_id == game_id)
    if status is not None:
        query = query.where(Season.status == status)
    return list(db.session.scalars(query.order_by(Season.start_date.desc(), Season.id.desc())))


def open_ticket(
    league: League, author_id: str, subject: str, description: str, priority: str
) -> LeagueTicket:
    ticket = LeagueTicket(
        league_id=league.id,
        author_id=author_id,
        subject=subject,
        description=description,
        priority=priority,
        status="open",
    )
    db.session.add(ticket)
    db.session.flush()
    emit("league_ticket.created", ticket=ticket)
    return ticket


def league_ticket(league: League, ticket_id: str, for_update: bool = False) -> LeagueTicket:
    """A ticket of this league; another league's is a 404 so its existence is not revealed."""
    query = select(LeagueTicket).where(
        LeagueTicket.id == ticket_id, LeagueTicket.league_id == league.id
    )
    return one_or_404(query, TicketNotFound, for_update)


def reply(
    ticket: LeagueTicket, author_id: str, content: str, is_internal: bool
) -> LeagueTicketMessage:
    """Add a message; a ticket staff closed takes no more replies, as with support tickets."""
    if ticket.status == "closed":
        raise TicketClosed()
    message = LeagueTicketMessage(
        ticket_id=ticket.id, author_id=author_id, content=content, is_internal=is_internal
    )
    db.session.add(message)
    ticket.updated_at = utcnow()
    db.session.flush()
    emit("league_ticket.replied", ticket=ticket, message=message)
    return message
