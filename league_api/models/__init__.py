"""Typed SQLAlchemy 2 models; importing this package registers every table on ``db``."""

from league_api.db import TABLE_PREFIX, Base
from league_api.idempotency.model import record_model
from league_api.models.accounts import ApiKey, Game, League, Team, User, league_games, team_members
from league_api.models.base import isoformat, new_id, utcnow
from league_api.models.leagues import LeagueTicket, LeagueTicketMessage, Season
from league_api.models.matches import ChatMessage, ChatReport, MapScore, Match, RosterEntry
from league_api.models.tickets import SupportTicket, TicketMessage, ticket_number_sequence
from league_api.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

# The idempotency layer's record table, under the league's prefix; it is also on league_api's
# MetaData so that create_all, autogenerate and demo-seed's emptiness check see every table.
IdempotencyRecord = record_model(TABLE_PREFIX)
IdempotencyRecord.__table__.to_metadata(Base.metadata)

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
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookSubscription",
    "isoformat",
    "league_games",
    "new_id",
    "team_members",
    "ticket_number_sequence",
    "utcnow",
]
