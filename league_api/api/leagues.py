"""League operator endpoints (API.md 5.2): seasons and league tickets, league keys only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from league_api.api.declare import body, raises, response
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import leagues as domain
from league_api.errors import (
    GameNotFound,
    LeagueNotFound,
    LeagueScopeMismatch,
    SeasonNotFound,
    SeasonNotInValidState,
    TicketClosed,
    TicketNotFound,
)
from league_api.idempotency import idempotent
from league_api.schemas import empty_body_schema
from league_api.schemas.leagues import (
    league_ticket_create_schema,
    league_ticket_created_schema,
    league_ticket_read_schema,
    league_ticket_replied_schema,
    league_ticket_reply_schema,
    season_changed_schema,
    season_create_schema,
    season_created_schema,
    season_list_out_schema,
    season_list_schema,
    season_read_schema,
)

bp = Blueprint("leagues", __name__)

SEASONS_WRITE = "leagues.seasons:read-write"
SEASONS_READ = "leagues.seasons:read"
TICKETS_WRITE = "leagues.tickets:read-write"
TICKETS_READ = "leagues.tickets:read"
# Every league endpoint: the slug must name a league, and the key's own.
LEAGUE = (LeagueNotFound, LeagueScopeMismatch)


@bp.post("/leagues/<slug>/seasons/create")
@require_key("league", SEASONS_WRITE)
@idempotent
@body(season_create_schema, "`endDate` is after `startDate` (else 400).")
@response(
    201,
    season_created_schema,
    "The season, UPCOMING",
    location="api.leagues.get_season",
    location_args={"season_id": "seasonId"},
)
@raises(*LEAGUE, GameNotFound)
def create_season(data: dict[str, Any], slug: str):
    """Create an UPCOMING season of one of the league's games."""
    league = domain.operated_league(current_key(), slug)
    return {"seasonId": domain.create_season(league, **data).id}


def _change_season(slug: str, season_id: str, action: str) -> dict[str, Any]:
    league = domain.operated_league(current_key(), slug)
    season = domain.league_season(league, season_id, for_update=True)
    domain.change_season_state(season, action)
    return {"seasonId": season.id, "status": season.status}


@bp.post("/leagues/<slug>/seasons/<api_id:season_id>/activate")
@require_key("league", SEASONS_WRITE)
@transactional
@body(empty_body_schema)
@response(200, season_changed_schema, "The season, ACTIVE")
@raises(*LEAGUE, SeasonNotFound, SeasonNotInValidState)
def activate_season(data: dict[str, Any], slug: str, season_id: str):
    """UPCOMING -> ACTIVE; state-guarded, so a retry without a key is safe (a 409)."""
    return _change_season(slug, season_id, "activate")


@bp.post("/leagues/<slug>/seasons/<api_id:season_id>/complete")
@require_key("league", SEASONS_WRITE)
@transactional
@body(empty_body_schema)
@response(200, season_changed_schema, "The season, COMPLETED")
@raises(*LEAGUE, SeasonNotFound, SeasonNotInValidState)
def complete_season(data: dict[str, Any], slug: str, season_id: str):
    """ACTIVE -> COMPLETED; state-guarded like activate."""
    return _change_season(slug, season_id, "complete")


@bp.get("/leagues/<slug>/seasons/<api_id:season_id>")
@require_key("league", SEASONS_READ)
@response(200, season_read_schema, "The season")
@raises(*LEAGUE, SeasonNotFound)
def get_season(slug: str, season_id: str):
    """One season of the key's league."""
    league = domain.operated_league(current_key(), slug)
    return {"season": domain.league_season(league, season_id)}


@bp.post("/leagues/<slug>/seasons")
@require_key("league", SEASONS_READ)
@body(season_list_schema)
@response(200, season_list_out_schema, "The league's seasons, newest start first")
@raises(*LEAGUE)
def list_seasons(data: dict[str, Any], slug: str):
    """The league's seasons, filtered by game and status: a read that takes a body."""
    league = domain.operated_league(current_key(), slug)
    seasons = domain.list_seasons(league, data["game_id"], data["status"])
    return {"seasons": seasons, "count": len(seasons)}


@bp.post("/leagues/<slug>/tickets/create")
@require_key("league", TICKETS_WRITE)
@idempotent
@body(league_ticket_create_schema)
@response(
    201,
    league_ticket_created_schema,
    "The ticket, opened",
    location="api.leagues.get_league_ticket",
    location_args={"ticket_id": "ticketId"},
)
@raises(*LEAGUE)
def create_league_ticket(data: dict[str, Any], slug: str):
    """Open a ticket for the league, written by the key's owner."""
    key = current_key()
    ticket = domain.open_ticket(domain.operated_league(key, slug), key.owner_id, **data)
    return {"ticketId": ticket.id}


@bp.post("/leagues/<slug>/tickets/<api_id:ticket_id>/reply")
@require_key("league", TICKETS_WRITE)
@idempotent
@body(league_ticket_reply_schema)
@response(200, league_ticket_replied_schema, "The reply, added")
@raises(*LEAGUE, TicketNotFound, TicketClosed)
def reply_league_ticket(data: dict[str, Any], slug: str, ticket_id: str):
    """Add a reply (or a staff-only note) to one of the league's tickets."""
    key = current_key()
    league = domain.operated_league(key, slug)
    ticket = domain.league_ticket(league, ticket_id, for_update=True)
    message = domain.reply(ticket, key.owner_id, data["content"], data["is_internal"])
    return {"messageId": message.id}


@bp.get("/leagues/<slug>/tickets/<api_id:ticket_id>")
@require_key("league", TICKETS_READ)
@response(200, league_ticket_read_schema, "The ticket with its messages")
@raises(*LEAGUE, TicketNotFound)
def get_league_ticket(slug: str, ticket_id: str):
    """One of the league's tickets with its messages."""
    league = domain.operated_league(current_key(), slug)
    return {"ticket": domain.league_ticket(league, ticket_id)}
