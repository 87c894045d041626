"""The event catalogue: each type, who may receive it, and its ``data`` for one receiving key.

The one rule for an audience: a subscription receives an event only if its key could read the
same thing through the API at that moment (kind, binding and read scope), and the payload holds
what that key would see there (e.g. ``lobbyCode`` only for the match's players).
``docs/WEBHOOKS.md`` holds the same table for readers; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from league_api.auth import has_scope
from league_api.errors import APIError
from league_api.models import ApiKey

# (key kind, scope, level) a key needs to read each family through the API.
MATCH_READ = {
    "personal": ("matches.user_matches", "read"),
    "game": ("game.lifecycle", "read"),
}
SEASON_READ = {"league": ("leagues.seasons", "read")}
LEAGUE_TICKET_READ = {"league": ("leagues.tickets", "read")}
TICKET_READ = {"personal": ("tickets.read", "on")}
CHAT_READ = {"personal": ("chat.read", "on")}


@dataclass(frozen=True)
class EventType:
    name: str
    triggers: str  # the endpoint(s), for the docs
    reads: dict[str, tuple[str, str]]  # key kind -> the read scope it needs
    # The key's view of the subject: the ``data`` object, or None when it may not see it.
    render: Callable[[ApiKey, dict[str, Any]], dict[str, Any] | None]
    # Taken at emit time, for what later changes in the same request must not alter.
    snapshot: Callable[[dict[str, Any]], dict[str, Any]] = dict

    def may_subscribe(self, key: ApiKey) -> bool:
        """Whether this key could ever receive the type (its kind and scopes allow it)."""
        read = self.reads.get(key.kind)
        return read is not None and has_scope(key.scopes or {}, *read)


def _match_view(key: ApiKey, match: Any) -> dict[str, Any] | None:
    """The match as ``GET /matches/<id>`` (personal) or ``GET /game/matches/<id>`` shows it."""
    from league_api.schemas.matches import MatchOutSchema

    if key.kind == "game":
        if match.game_id != key.game_id:
            return None
        return MatchOutSchema().dump(match)
    from league_api.domain.matches import readable_match

    try:
        _, plays = readable_match(match.id, key.owner_id)
    except APIError:
        return None
    data = MatchOutSchema().dump(match)
    if not plays:
        data["lobbyCode"] = None
    return data


def _render_match(key: ApiKey, subject: dict[str, Any]) -> dict[str, Any] | None:
    match = _match_view(key, subject["match"])
    return None if match is None else {"match": match}


def _snapshot_score(subject: dict[str, Any]) -> dict[str, Any]:
    """The map's score and the match state as the confirmation left them (a later map in the
    same request may complete the match)."""
    from league_api.schemas.scores import MapScoreOutSchema

    match = subject["match"]
    score = MapScoreOutSchema().dump(subject["score"])
    status, index = match.status, score["mapIndex"]
    return {"match": match, "score": score, "matchStatus": status, "mapIndex": index}


def _render_score(key: ApiKey, subject: dict[str, Any]) -> dict[str, Any] | None:
    """Scores are read by the game, and by members of both teams (not the challenged one)."""
    match = subject["match"]
    if key.kind == "game":
        visible = match.game_id == key.game_id
    else:
        from league_api.domain.matches import is_member_of_match

        visible = is_member_of_match(match, key.owner_id)
    if not visible:
        return None
    return {"matchId": match.id, "status": subject["matchStatus"], "score": subject["score"]}


def _render_season(key: ApiKey, subject: dict[str, Any]) -> dict[str, Any] | None:
    from league_api.schemas.leagues import SeasonOutSchema

    season = subject["season"]
    if season.league_id != key.league_id:
        return None
    return {"season": SeasonOutSchema().dump(season)}


def _render_league_ticket(key: ApiKey, subject: dict[str, Any]) -> dict[str, Any] | None:
    from league_api.schemas.leagues import LeagueTicketMessageOutSchema, LeagueTicketOutSchema

    ticket = subject["ticket"]
    if ticket.league_id != key.league_id:
        return None
    if "message" in subject:
        message = LeagueTicketMessageOutSchema().dump(subject["message"])
        return {"ticketId": ticket.id, "leagueId": ticket.league_id, "message": message}
    return {"ticket": LeagueTicketOutSchema().dump(ticket)}


def _render_ticket(key: ApiKey, subject: dict[str, Any]) -> dict[str, Any] | None:
    from league_api.schemas.tickets import TicketMessageOutSchema, TicketOutSchema

    ticket = subject["ticket"]
    if ticket.owner_id != key.owner_id:
        return None
    if "message" in subject:
        message = TicketMessageOutSchema().dump(subject["message"])
        return {"ticketId": ticket.id, "message": message}
    return {"ticket": TicketOutSchema().dump(ticket)}


def _render_report(key: ApiKey, subject: dict[str, Any]) -> dict[str, Any] | None:
    """A report is readable by its reporter only (``GET /chat/messages/<id>/report``)."""
    from league_api.schemas.chat import ChatReportOutSchema

    report = subject["report"]
    if report.reporter_user_id != key.owner_id:
        return None
    return {"matchId": subject["matchId"], "report": ChatReportOutSchema().dump(report)}


def _types() -> dict[str, EventType]:
    match_triggers = {
        "match.created": "POST /matches/create, POST /game/matches/create",
        "match.accepted": "POST /matches/<id>/accept",
        "match.ready": "POST /matches/<id>/ready (the second team)",
        "match.started": "POST /matches/<id>/start, POST /game/matches/<id>/start or /status",
        "match.completed": "the map score confirmation that decides the series",
        "match.cancelled": "POST /matches/<id>/cancel, POST /game/matches/<id>/cancel or /status",
        "match.forfeited": "POST /matches/<id>/forfeit, POST /game/matches/<id>/forfeit",
    }
    found = [
        EventType(name, text, MATCH_READ, _render_match) for name, text in match_triggers.items()
    ]
    found += [
        EventType(
            "score.submitted",
            "POST /matches/<id>/scores (a captain)",
            MATCH_READ,
            _render_score,
            _snapshot_score,
        ),
        EventType(
            "score.confirmed",
            "PATCH /matches/<id>/scores, POST /game/matches/<id>/scores (each map)",
            MATCH_READ,
            _render_score,
            _snapshot_score,
        ),
        EventType(
            "season.created", "POST /leagues/<slug>/seasons/create", SEASON_READ, _render_season
        ),
        EventType(
            "season.activated",
            "POST /leagues/<slug>/seasons/<id>/activate",
            SEASON_READ,
            _render_season,
        ),
        EventType(
            "season.completed",
            "POST /leagues/<slug>/seasons/<id>/complete",
            SEASON_READ,
            _render_season,
        ),
        EventType("ticket.created", "POST /tickets", TICKET_READ, _render_ticket),
        EventType("ticket.replied", "POST /tickets/<id>/messages", TICKET_READ, _render_ticket),
        EventType(
            "league_ticket.created",
            "POST /leagues/<slug>/tickets/create",
            LEAGUE_TICKET_READ,
            _render_league_ticket,
        ),
        EventType(
            "league_ticket.replied",
            "POST /leagues/<slug>/tickets/<id>/reply",
            LEAGUE_TICKET_READ,
            _render_league_ticket,
        ),
        EventType(
            "chat.message_reported",
            "POST /chat/messages/<id>/report (a first report)",
            CHAT_READ,
            _render_report,
        ),
    ]
    return {event.name: event for event in found}


EVENT_TYPES: dict[str, EventType] = _types()

# The MATCH state machine's actions that change the state, and the event each one emits.
MATCH_ACTION_EVENTS = {
    "accept": "match.accepted",
    "become_ready": "match.ready",
    "start": "match.started",
    "complete": "match.completed",
    "cancel": "match.cancelled",
    "game_cancel": "match.cancelled",
    "forfeit": "match.forfeited",
}
SEASON_ACTION_EVENTS = {"activate": "season.activated", "complete": "season.completed"}
