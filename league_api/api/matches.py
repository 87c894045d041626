"""Personal match writes and the match read (API.md 5.3): personal keys,
``matches.user_matches`` read-write for writes, read for ``GET /matches/<id>``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from league_api.api.declare import body, raises, response
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import personal as domain
from league_api.domain.matches import readable_match
from league_api.errors import (
    CaptainRequired,
    GameNotFound,
    InvalidRequest,
    MatchNotFound,
    MatchNotInValidState,
    NotMatchParticipant,
    TeamNotFound,
    TeamNotInMatch,
)
from league_api.idempotency import idempotent
from league_api.models import Match
from league_api.schemas.matches import (
    acting_team_schema,
    attendance_schema,
    attendance_set_schema,
    end_match_schema,
    forfeited_schema,
    lobby_code_schema,
    lobby_code_set_schema,
    match_accept_schema,
    match_create_schema,
    match_created_schema,
    match_read_schema,
    match_ready_schema,
    match_status_schema,
)

bp = Blueprint("matches", __name__)

WRITE = "matches.user_matches:read-write"
READ = "matches.user_matches:read"
# A captain of a team of the match acts for it (see domain.matches.acting_team).
ACTING = (MatchNotFound, TeamNotFound, TeamNotInMatch, NotMatchParticipant, CaptainRequired)
BOTH_TEAMS = "A captain of both teams of the match names `teamId` (else 400)."
TEAM_OF_MATCH = (
    "`teamId`, when given, is a team of this match (else 400 `error_team_not_in_match`)."
)
ROSTER = "`activeRoster` holds 1..`teamSize` distinct members of the team (else 400)."


@bp.post("/matches/create")
@require_key("personal", WRITE)
@idempotent
@body(
    match_create_schema,
    ROSTER,
    "`gameId` is the team's game; `challengedTeamId` another team of that game (else 400).",
)
@response(
    201,
    match_created_schema,
    "The match, PENDING",
    location="api.matches.get_match",
    location_args={"match_id": "matchId"},
)
@raises(TeamNotFound, GameNotFound, CaptainRequired, NotMatchParticipant, InvalidRequest)
def create_match(data: dict[str, Any]):
    """Offer a match from the owner's team (PENDING), optionally challenging one team."""
    return {"matchId": domain.create_match(current_key().owner_id, **data).id}


@bp.post("/matches/<api_id:match_id>/accept")
@require_key("personal", WRITE)
@idempotent
@body(match_accept_schema, ROSTER, "No player may be on both rosters (else 400).")
@response(200, match_status_schema, "The match, ACCEPTED")
@raises(
    MatchNotFound,
    TeamNotFound,
    CaptainRequired,
    NotMatchParticipant,
    InvalidRequest,
    MatchNotInValidState,
)
def accept_match(data: dict[str, Any], match_id: str):
    """Take an open or challenged match for the owner's team."""
    match = domain.accept_match(match_id, current_key().owner_id, **data)
    return {"matchId": match.id, "status": match.status}


@bp.post("/matches/<api_id:match_id>/ready")
@require_key("personal", WRITE)
@idempotent
@body(acting_team_schema, BOTH_TEAMS, TEAM_OF_MATCH)
@response(200, match_ready_schema, "The team is ready; matchReady once both are")
@raises(*ACTING, InvalidRequest, MatchNotInValidState)
def ready(data: dict[str, Any], match_id: str):
    """Mark the owner's team ready; both ready makes the match READY."""
    return {"matchReady": domain.mark_ready(match_id, current_key().owner_id, data["team_id"])}


@bp.post("/matches/<api_id:match_id>/lobby-code")
@require_key("personal", WRITE)
@idempotent
@body(lobby_code_schema, BOTH_TEAMS, TEAM_OF_MATCH)
@response(200, lobby_code_set_schema, "The lobby code, shared")
@raises(*ACTING, InvalidRequest, MatchNotInValidState)
def lobby_code(data: dict[str, Any], match_id: str):
    """Share the in-game lobby code with the players of the match."""
    owner_id = current_key().owner_id
    code = domain.set_lobby_code(match_id, owner_id, data["team_id"], data["lobby_code"])
    return {"lobbyCode": code}


@bp.post("/matches/<api_id:match_id>/start")
@require_key("personal", WRITE)
@transactional
@body(acting_team_schema, BOTH_TEAMS, TEAM_OF_MATCH)
@response(200, match_status_schema, "The match, IN_PROGRESS")
@raises(*ACTING, InvalidRequest, MatchNotInValidState)
def start(data: dict[str, Any], match_id: str):
    """READY -> IN_PROGRESS; state-guarded, so it needs no Idempotency-Key."""
    match = domain.start_match(match_id, current_key().owner_id, data["team_id"])
    return {"matchId": match.id, "status": match.status}


@bp.post("/matches/<api_id:match_id>/cancel")
@require_key("personal", WRITE)
@idempotent
@body(end_match_schema, BOTH_TEAMS, TEAM_OF_MATCH)
@response(200, match_status_schema, "The match, CANCELLED")
@raises(*ACTING, InvalidRequest, MatchNotInValidState)
def cancel(data: dict[str, Any], match_id: str):
    """Call the match off before it starts."""
    match = domain.cancel_match(match_id, current_key().owner_id, **data)
    return {"matchId": match.id, "status": match.status}


@bp.post("/matches/<api_id:match_id>/forfeit")
@require_key("personal", WRITE)
@idempotent
@body(end_match_schema, BOTH_TEAMS, TEAM_OF_MATCH)
@response(200, forfeited_schema, "The match, FORFEITED: the owner's team lost")
@raises(*ACTING, InvalidRequest, MatchNotInValidState)
def forfeit(data: dict[str, Any], match_id: str):
    """Give the match up: the owner's team loses."""
    match = domain.forfeit_match(match_id, current_key().owner_id, **data)
    return {"matchId": match.id, "forfeitedByTeamId": match.forfeited_by_team_id}


@bp.post("/matches/<api_id:match_id>/attendance")
@require_key("personal", WRITE)
@idempotent
@body(attendance_schema)
@response(200, attendance_set_schema, "The owner's attendance, recorded")
@raises(MatchNotFound, NotMatchParticipant, MatchNotInValidState)
def attendance(data: dict[str, Any], match_id: str):
    """Say whether the owner will play."""
    return {"status": domain.set_attendance(match_id, current_key().owner_id, data["status"])}


class _SeenByNonPlayer:
    """A match as a captain who may accept it sees it: everything but the lobby code."""

    def __init__(self, match: Match) -> None:
        self._match = match

    def __getattr__(self, name: str) -> Any:
        return None if name == "lobby_code" else getattr(self._match, name)


@bp.get("/matches/<api_id:match_id>")
@require_key("personal", READ)
@response(200, match_read_schema, "The match")
@raises(MatchNotFound, TeamNotFound, NotMatchParticipant)
def get_match(match_id: str):
    """The match as its players (or a captain who may accept it) see it."""
    match, plays = readable_match(match_id, current_key().owner_id)
    return {"match": match if plays else _SeenByNonPlayer(match)}
