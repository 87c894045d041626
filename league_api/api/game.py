"""Game developer endpoints (API.md 5.1): game keys, bound to one game."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from league_api.api.declare import body, raises, response
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import game as domain
from league_api.errors import (
    GameScopeMismatch,
    InvalidRequest,
    MatchNotFound,
    MatchNotInValidState,
    TeamNotFound,
    TeamNotInMatch,
)
from league_api.idempotency import idempotent
from league_api.models import Match
from league_api.schemas import empty_body_schema
from league_api.schemas.game import (
    game_cancel_schema,
    game_forfeit_schema,
    game_match_create_schema,
    game_match_list_out_schema,
    game_match_list_schema,
    game_status_schema,
    match_status_changed_schema,
    rosters_schema,
)
from league_api.schemas.matches import forfeited_schema, match_created_schema, match_read_schema
from league_api.schemas.scores import game_scores_done_schema, game_scores_schema
from league_api.states import CANCELLED, IN_PROGRESS

bp = Blueprint("game", __name__)

LIFECYCLE_WRITE = "game.lifecycle:read-write"
LIFECYCLE_READ = "game.lifecycle:read"
SCORES_WRITE = "game.scores:write"
SCORES_DIFFER = (
    "A map has a winner: `opponentTeamScore` differs from `creatorTeamScore` (else 400)."
)
# Every write on one match: it must exist and belong to the key's game, and be in a fitting state.
ON_MATCH = (MatchNotFound, GameScopeMismatch, MatchNotInValidState)


@bp.post("/game/matches/create")
@require_key("game", LIFECYCLE_WRITE)
@idempotent
@body(
    game_match_create_schema,
    "`acceptedTeamId` differs from `creatorTeamId` (else 400).",
    "Each roster holds 1..`teamSize` distinct members of its team (by default all of them);"
    " no player is on both (else 400).",
)
@response(
    201,
    match_created_schema,
    "The match, ACCEPTED",
    location="api.game.get_match",
    location_args={"match_id": "matchId"},
)
@raises(TeamNotFound, GameScopeMismatch, InvalidRequest)
def create_match(data: dict[str, Any]):
    """Create an ACCEPTED match between two teams of the key's game."""
    return {"matchId": domain.create_match(current_key(), data).id}


@bp.post("/game/matches/<api_id:match_id>/forfeit")
@require_key("game", LIFECYCLE_WRITE)
@idempotent
@body(
    game_forfeit_schema,
    "`forfeitingTeamId` is a team of this match (else 400 `error_team_not_in_match`).",
)
@response(200, forfeited_schema, "The match, FORFEITED: the other team won")
@raises(*ON_MATCH, TeamNotInMatch)
def forfeit_match(data: dict[str, Any], match_id: str):
    """A participant forfeits; the other team wins."""
    key = current_key()
    match = domain.forfeit_match(match_id, key, data["forfeiting_team_id"], data["reason"])
    return {"matchId": match.id, "forfeitedByTeamId": match.forfeited_by_team_id}


def _status_changed(match: Match, previous: str) -> dict[str, Any]:
    return {"matchId": match.id, "previousStatus": previous, "newStatus": match.status}


@bp.patch("/game/matches/<api_id:match_id>/status")
@require_key("game", LIFECYCLE_WRITE)
@transactional
@body(game_status_schema)
@response(200, match_status_changed_schema, "The match, in its new state")
@raises(*ON_MATCH)
def set_match_status(data: dict[str, Any], match_id: str):
    """Start a READY match or cancel a live one; a wrong state is a 409, so retries are safe."""
    match, previous = domain.change_status(match_id, current_key(), data["status"], data["reason"])
    return _status_changed(match, previous)


@bp.post("/game/matches/<api_id:match_id>/start")
@require_key("game", LIFECYCLE_WRITE)
@transactional
@body(empty_body_schema)
@response(200, match_status_changed_schema, "The match, IN_PROGRESS")
@raises(*ON_MATCH)
def start_match(data: dict[str, Any], match_id: str):
    """READY -> IN_PROGRESS (the same transition as the status PATCH)."""
    return _status_changed(*domain.change_status(match_id, current_key(), IN_PROGRESS))


@bp.post("/game/matches/<api_id:match_id>/cancel")
@require_key("game", LIFECYCLE_WRITE)
@transactional
@body(game_cancel_schema)
@response(200, match_status_changed_schema, "The match, CANCELLED")
@raises(*ON_MATCH)
def cancel_match(data: dict[str, Any], match_id: str):
    """ACCEPTED, READY or IN_PROGRESS -> CANCELLED (the same as the status PATCH)."""
    key = current_key()
    return _status_changed(*domain.change_status(match_id, key, CANCELLED, data["reason"]))


@bp.post("/game/matches/<api_id:match_id>/scores")
@require_key("game", SCORES_WRITE)
@transactional
@body(
    game_scores_schema,
    "At most `bestOf` maps, each `mapIndex` below the match's `bestOf` and named once (else 400).",
    SCORES_DIFFER,
)
@response(200, game_scores_done_schema, "Each map, confirmed or failed on its own")
@raises(*ON_MATCH, InvalidRequest)
def submit_scores(data: dict[str, Any], match_id: str):
    """Verified map results: each is confirmed on arrival or fails on its own."""
    submitted = domain.submit_verified_scores(match_id, current_key(), data["maps"])
    confirmed = sum(item["status"] == "confirmed" for item in submitted)
    return {"success": confirmed == len(submitted), "submitted": submitted, "count": confirmed}


@bp.get("/game/matches/<api_id:match_id>")
@require_key("game", LIFECYCLE_READ)
@response(200, match_read_schema, "The match")
@raises(MatchNotFound, GameScopeMismatch)
def get_match(match_id: str):
    """One match of the key's game."""
    return {"match": domain.game_match(match_id, current_key())}


@bp.get("/game/matches/<api_id:match_id>/rosters")
@require_key("game", LIFECYCLE_READ)
@response(200, rosters_schema, "Who plays on each side")
@raises(MatchNotFound, GameScopeMismatch)
def get_rosters(match_id: str):
    """Who plays on each side."""
    return domain.game_match(match_id, current_key())


@bp.post("/game/matches")
@require_key("game", LIFECYCLE_READ)
@body(game_match_list_schema)
@response(200, game_match_list_out_schema, "The key's game's matches, newest first")
def list_matches(data: dict[str, Any]):
    """The key's game's matches, newest first (a read that takes its filters as a body)."""
    matches, has_more = domain.list_matches(
        current_key().game_id, data["status"], data["limit"], data["cursor"]
    )
    return {
        "matches": matches,
        "count": len(matches),
        "pagination": {"cursor": matches[-1].id if has_more else None, "hasMore": has_more},
    }
