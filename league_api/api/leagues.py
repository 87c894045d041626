"""League operator endpoints (API.md 5.2): seasons and league tickets, league keys only."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from league_api.api.common import answer, created, success
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import leagues as domain
from league_api.idempotency import idempotent
from league_api.models import LeagueTicket, Season, isoformat
from league_api.schemas import empty_body_schema, load
from league_api.schemas.leagues import (
    league_ticket_create_schema,
    league_ticket_reply_schema,
    season_create_schema,
    season_list_schema,
)

bp = Blueprint("leagues", __name__)

SEASONS_WRITE = "leagues.seasons:read-write"
SEASONS_READ = "leagues.seasons:read"
TICKETS_WRITE = "leagues.tickets:read-write"
TICKETS_READ = "leagues.tickets:read"


def season_json(season: Season) -> dict[str, Any]:
    return {
        "id": season.id,
        "leagueId": season.league_id,
        "gameId": season.game_id,
        "name": season.name,
        "status": season.status,
        "startDate": isoformat(season.start_date),
        "endDate": isoformat(season.end_date),
        "createdAt": isoformat(season.created_at),
    }


def ticket_json(ticket: LeagueTicket) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "leagueId": ticket.league_id,
        "authorUserId": ticket.author_id,
        "subject": ticket.subject,
        "description": ticket.description,
        "priority": ticket.priority,
        "status": ticket.status,
        "createdAt": isoformat(ticket.created_at),
        "updatedAt": isoformat(ticket.updated_at),
        "messages": [
            {
                "id": message.id,
                "content": message.content,
                "isInternal": message.is_internal,
                "authorUserId": message.author_id,
                "createdAt": isoformat(message.created_at),
            }
            for message in ticket.messages
        ],
    }


@bp.post("/leagues/<slug>/seasons/create")
@require_key("league", SEASONS_WRITE)
@idempotent
def create_season(slug: str):
    """Create an UPCOMING season of one of the league's games."""
    data = load(season_create_schema)
    league = domain.operated_league(current_key(), slug)
    season = domain.create_season(league, **data)
    return created(
        url_for("api.leagues.get_season", slug=slug, season_id=season.id), seasonId=season.id
    )


def _change_season(slug: str, season_id: str, action: str):
    load(empty_body_schema)
    league = domain.operated_league(current_key(), slug)
    season = domain.league_season(league, season_id, for_update=True)
    domain.change_season_state(season, action)
    return success(seasonId=season.id, status=season.status)


@bp.post("/leagues/<slug>/seasons/<season_id>/activate")
@require_key("league", SEASONS_WRITE)
@transactional
def activate_season(slug: str, season_id: str):
    """UPCOMING -> ACTIVE; state-guarded, so a retry without a key is safe (a 409)."""
    return _change_season(slug, season_id, "activate")


@bp.post("/leagues/<slug>/seasons/<season_id>/complete")
@require_key("league", SEASONS_WRITE)
@transactional
def complete_season(slug: str, season_id: str):
    """ACTIVE -> COMPLETED; state-guarded like activate."""
    return _change_season(slug, season_id, "complete")


@bp.get("/leagues/<slug>/seasons/<season_id>")
@require_key("league", SEASONS_READ)
def get_season(slug: str, season_id: str):
    """One season of the key's league."""
    league = domain.operated_league(current_key(), slug)
    return answer({"season": season_json(domain.league_season(league, season_id))})


@bp.post("/leagues/<slug>/seasons")
@require_key("league", SEASONS_READ)
def list_seasons(slug: str):
    """The league's seasons, filtered by game and status: a read that takes a body."""
    query = load(season_list_schema)
    league = domain.operated_league(current_key(), slug)
    seasons = domain.list_seasons(league, query["game_id"], query["status"])
    return answer({"seasons": [season_json(season) for season in seasons], "count": len(seasons)})


@bp.post("/leagues/<slug>/tickets/create")
@require_key("league", TICKETS_WRITE)
@idempotent
def create_league_ticket(slug: str):
    """Open a ticket for the league, written by the key's owner."""
    data = load(league_ticket_create_schema)
    key = current_key()
    ticket = domain.open_ticket(domain.operated_league(key, slug), key.owner_id, **data)
    return created(
        url_for("api.leagues.get_league_ticket", slug=slug, ticket_id=ticket.id),
        ticketId=ticket.id,
    )


@bp.post("/leagues/<slug>/tickets/<ticket_id>/reply")
@require_key("league", TICKETS_WRITE)
@idempotent
def reply_league_ticket(slug: str, ticket_id: str):
    """Add a reply (or a staff-only note) to one of the league's tickets."""
    data = load(league_ticket_reply_schema)
    key = current_key()
    league = domain.operated_league(key, slug)
    ticket = domain.league_ticket(league, ticket_id, for_update=True)
    message = domain.reply(ticket, key.owner_id, data["content"], data["is_internal"])
    return success(messageId=message.id)


@bp.get("/leagues/<slug>/tickets/<ticket_id>")
@require_key("league", TICKETS_READ)
def get_league_ticket(slug: str, ticket_id: str):
    """One of the league's tickets with its messages."""
    league = domain.operated_league(current_key(), slug)
    return answer({"ticket": ticket_json(domain.league_ticket(league, ticket_id))})
