"""Captain scores (API.md 5.4): personal keys, ``matches.team_matches``; no Idempotency-Key.

A submission overwrites the map's pending score (last writer wins) and a confirmation of a
confirmed map is refused, so a retried request without a key is safe.
"""

from __future__ import annotations

from flask import Blueprint

from league_api.api.common import answer, success
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import scores as domain
from league_api.schemas import load
from league_api.schemas.scores import captain_confirm_schema, captain_score_schema

bp = Blueprint("scores", __name__)

TEAM_MATCHES_WRITE = "matches.team_matches:read-write"
TEAM_MATCHES_READ = "matches.team_matches:read"


@bp.post("/matches/<match_id>/scores")
@require_key("personal", TEAM_MATCHES_WRITE)
@transactional
def submit_score(match_id: str):
    """A participant's captain proposes a map result."""
    data = load(captain_score_schema)
    domain.submit_captain_score(match_id, current_key().owner_id, data)
    return success(action="submitted", mapIndex=data["map_index"], scoreStatus="PENDING")


@bp.patch("/matches/<match_id>/scores")
@require_key("personal", TEAM_MATCHES_WRITE)
@transactional
def confirm_score(match_id: str):
    """The other team's captain confirms a pending map result."""
    data = load(captain_confirm_schema)
    domain.confirm_captain_score(
        match_id, current_key().owner_id, data["map_index"], data["team_id"]
    )
    return success(action="confirmed", mapIndex=data["map_index"], scoreStatus="CONFIRMED")


@bp.get("/matches/<match_id>/scores")
@require_key("personal", TEAM_MATCHES_READ)
def list_scores(match_id: str):
    """Every map's score and the series score (confirmed maps only)."""
    match = domain.readable_match(match_id, current_key().owner_id)
    creator, opponent = domain.series_score(match)
    return answer(
        {
            "scores": [domain.score_json(score) for score in match.scores],
            "seriesScore": {"creatorMapWins": creator, "opponentMapWins": opponent},
        }
    )
