"""Game developer endpoints (API.md 5.1): game keys, bound to one game."""

from __future__ import annotations

from flask import Blueprint, url_for

from league_api.api.common import answer, created, success
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import game as domain
from league_api.domain.matches import match_json
from league_api.idempotency import idempotent
from league_api.models import Match
from league_api.schemas import empty_body_schema, load
from league_api.schemas.game import (
    game_cancel_schema,
    game_forfeit_schema,
    game_match_create_schema,
    game_match_list_schema,
    game_status_schema,
)
from league_api.schemas.scores import game_scores_schema
from league_api.states import CANCELLED, IN_PROGRESS

bp = Blueprint("game", __name__)

LIFECYCLE_WRITE = "game.lifecycle:read-write"
LIFECYCLE_READ = "game.lifecycle:read"
SCORES_WRITE = "game.scores:write"


@bp.post("/game/matches/create")
@require_key("game", LIFECYCLE_WRITE)
@idempotent
def create_match():
    """Create an ACCEPTED match between two teams of the key's game."""
    data = load(game_match_create_schema)
    match = domain.create_match(current_key(), data)
    return created(url_for("api.game.get_match", match_id=match.id), matchId=match.id)


@bp.post("/game/matches/<match_id>/forfeit")
@require_key("game", LIFECYCLE_WRITE)
@idempotent
def forfeit_match(match_id: str):
    """A participant forfeits; the other team wins."""
    data = load(game_forfeit_schema)
    match = domain.forfeit_match(
        match_id, current_key(), data["forfeiting_team_id"], data["reason"]
    )
    return success(matchId=match.id, forfeitedByTeamId=match.forfeited_by_team_id)


def _status_changed(match: Match, previous: str):
    return success(matchId=match.id, previousStatus=previous, newStatus=match.status)


@bp.patch("/game/matches/<match_id>/status")
@require_key("game", LIFECYCLE_WRITE)
@transactional
def set_match_status(match_id: str):
    """Start a READY match or cancel a live one; a wrong state is a 409, so retries are safe."""
    data = load(game_status_schema)
    match, previous = domain.change_status(match_id, current_key(), data["status"], data["reason"])
    return _status_changed(match, previous)


@bp.post("/game/matches/<match_id>/start")
@require_key("game", LIFECYCLE_WRITE)
@transactional
def start_match(match_id: str):
    """READY -> IN_PROGRESS (the same transition as the status PATCH)."""
    load(empty_body_schema)
    match, previous = domain.change_status(match_id, current_key(), IN_PROGRESS)
    return _status_changed(match, previous)


@bp.post("/game/matches/<match_id>/cancel")
@require_key("game", LIFECYCLE_WRITE)
@transactional
def cancel_match(match_id: str):
    """ACCEPTED, READY or IN_PROGRESS -> CANCELLED (the same as the status PATCH)."""
    data = load(game_cancel_schema)
    match, previous = domain.change_status(match_id, current_key(), CANCELLED, data["reason"])
    return _status_changed(match, previous)


@bp.post("/game/matches/<match_id>/scores")
@require_key("game", SCORES_WRITE)
@transactional
def submit_scores(match_id: str):
    """Verified map results: each is confirmed on arrival or fails on its own."""
    data = load(game_scores_schema)
    submitted = domain.submit_verified_scores(match_id, current_key(), data["maps"])
    confirmed = sum(item["status"] == "confirmed" for item in submitted)
    return answer(
        {"success": confirmed == len(submitted), "submitted": submitted, "count": confirmed}
    )


@bp.get("/game/matches/<match_id>")
@require_key("game", LIFECYCLE_READ)
def get_match(match_id: str):
    """One match of the key's game."""
    return answer({"match": match_json(domain.game_match(match_id, current_key()))})


@bp.get("/game/matches/<match_id>/rosters")
@require_key("game", LIFECYCLE_READ)
def get_rosters(match_id: str):
    """Who plays on each side."""
    match = match_json(domain.game_match(match_id, current_key()))
    return answer(
        {
            name: match[name]
            for name in ("creatorTeamId", "acceptedTeamId", "creatorRoster", "acceptedRoster")
        }
    )


@bp.post("/game/matches")
@require_key("game", LIFECYCLE_READ)
def list_matches():
    """The key's game's matches, newest first (a read that takes its filters as a body)."""
    query = load(game_match_list_schema)
    matches, has_more = domain.list_matches(
        current_key().game_id, query["status"], query["limit"], query["cursor"]
    )
    return answer(
        {
            "matches": [match_json(match) for match in matches],
            "count": len(matches),
            "pagination": {"cursor": matches[-1].id if has_more else None, "hasMore": has_more},
        }
    )
