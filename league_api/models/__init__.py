"""Typed SQLAlchemy 2 models; importing this package registers every table on ``db``."""

from league_api.idempotency.model import IdempotencyRecord
from league_api.models.accounts import ApiKey, Game, League, Team, User, league_games, team_members
from league_api.models.base import isoformat, new_id, utcnow
from league_api.models.leagues import LeagueTicket, LeagueTicketMessage, Season
from league_api.models.matches import ChatMessage, ChatReport, MapScore, Match, RosterEntry
from league_api.models.tickets import SupportTicket, TicketMessage, ticket_number_sequence

__all__ = [
    "ApiKey",
    "ChatMessage",
    "ChatReport",
    "MapScore",
    "Match",
    "RosterEntry",
    "Season",
    "Game",
    "IdempotencyRecord",
    "League",
    "LeagueTicket",
    "LeagueTicketMessage",
    "SupportTicket",
    "Team",
    "TicketMessage",
    "User",
    "isoformat",
    "league_games",
    "new_id",
    "team_members",
    "ticket_number_sequence",
    "utcnow",
]
