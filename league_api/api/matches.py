"""Personal match writes and the match read (API.md 5.3): personal keys,
``matches.user_matches`` read-write for writes, read for ``GET /matches/<id>``."""

from __future__ import annotations

from flask import Blueprint, url_for

from league_api.api.common import answer, created, success
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import personal as domain
from league_api.domain.matches import match_json
from league_api.idempotency import idempotent
from league_api.schemas import load
from league_api.schemas.matches import (
    acting_team_schema,
    attendance_schema,
    end_match_schema,
    lobby_code_schema,
    match_accept_schema,
    match_create_schema,
)

bp = Blueprint("matches", __name__)

WRITE = "matches.user_matches:read-write"
READ = "matches.user_matches:read"


@bp.post("/matches/create")
@require_key("personal", WRITE)
@idempotent
def create_match():
    """Offer a match from the owner's team (PENDING), optionally challenging one team."""
    data = load(match_create_schema)
    match = domain.create_match(current_key().owner_id, **data)
    return created(url_for("api.matches.get_match", match_id=match.id), matchId=match.id)


@bp.post("/matches/<match_id>/accept")
@require_key("personal", WRITE)
@idempotent
def accept_match(match_id: str):
    """Take an open or challenged match for the owner's team."""
    data = load(match_accept_schema)
    match = domain.accept_match(match_id, current_key().owner_id, **data)
    return success(matchId=match.id, status=match.status)


@bp.post("/matches/<match_id>/ready")
@require_key("personal", WRITE)
@idempotent
def ready(match_id: str):
    """Mark the owner's team ready; both ready makes the match READY."""
    data = load(acting_team_schema)
    match_ready = domain.mark_ready(match_id, current_key().owner_id, data["team_id"])
    return success(matchReady=match_ready)


@bp.post("/matches/<match_id>/lobby-code")
@require_key("personal", WRITE)
@idempotent
def lobby_code(match_id: str):
    """Share the in-game lobby code with the players of the match."""
    data = load(lobby_code_schema)
    code = domain.set_lobby_code(
        match_id, current_key().owner_id, data["team_id"], data["lobby_code"]
    )
    return success(lobbyCode=code)


@bp.post("/matches/<match_id>/start")
@require_key("personal", WRITE)
@transactional
def start(match_id: str):
    """READY -> IN_PROGRESS; state-guarded, so it needs no Idempotency-Key."""
    data = load(acting_team_schema)
    match = domain.start_match(match_id, current_key().owner_id, data["team_id"])
    return success(matchId=match.id, status=match.status)


@bp.post("/matches/<match_id>/cancel")
@require_key("personal", WRITE)
@idempotent
def cancel(match_id: str):
    """Call the match off before it starts."""
    data = load(end_match_schema)
    match = domain.cancel_match(match_id, current_key().owner_id, **data)
    return success(matchId=match.id, status=match.status)


@bp.post("/matches/<match_id>/forfeit")
@require_key("personal", WRITE)
@idempotent
def forfeit(match_id: str):
    """Give the match up: the owner's team loses."""
    data = load(end_match_schema)
    match = domain.forfeit_match(match_id, current_key().owner_id, **data)
    return success(matchId=match.id, forfeitedByTeamId=match.forfeited_by_team_id)


@bp.post("/matches/<match_id>/attendance")
@require_key("personal", WRITE)
@idempotent
def attendance(match_id: str):
    """Say whether the owner will play."""
    data = load(attendance_schema)
    status = domain.set_attendance(match_id, current_key().owner_id, data["status"])
    return success(status=status)


@bp.get("/matches/<match_id>")
@require_key("personal", READ)
def get_match(match_id: str):
    """The match as its players (or a captain who may accept it) see it."""
    match, plays = domain.readable_match(match_id, current_key().owner_id)
    return answer({"match": match_json(match, show_lobby_code=plays)})
