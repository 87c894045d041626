"""Captain scores (API.md 5.4): personal keys, ``matches.team_matches``; no Idempotency-Key.

A submission overwrites the map's pending score (last writer wins) and a confirmation of a
confirmed map is refused, so a retried request without a key is safe.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from league_api.api.declare import body, raises, response
from league_api.api.matches import TEAM_OF_MATCH
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import scores as domain
from league_api.domain.matches import member_match
from league_api.errors import (
    CannotConfirmOwnScore,
    CaptainRequired,
    InvalidRequest,
    MatchNotFound,
    MatchNotInValidState,
    NotMatchParticipant,
    ScoreAlreadySubmittedByGame,
    ScoreNotFound,
    TeamNotFound,
    TeamNotInMatch,
)
from league_api.schemas.scores import (
    captain_confirm_schema,
    captain_score_done_schema,
    captain_score_schema,
    scores_read_schema,
)

bp = Blueprint("scores", __name__)

TEAM_MATCHES_WRITE = "matches.team_matches:read-write"
TEAM_MATCHES_READ = "matches.team_matches:read"
# Who acts for a team, and the map rule every score write shares.
ACTING = (MatchNotFound, TeamNotFound, NotMatchParticipant, CaptainRequired, TeamNotInMatch)
MAP_RULE = "`mapIndex` must be below the match's `bestOf` (else 400)."
SCORES_DIFFER = (
    "A map has a winner: `opponentTeamScore` differs from `creatorTeamScore` (else 400)."
)
BOTH_TEAMS = "A captain of both teams names `teamId` (else 400)."


@bp.post("/matches/<api_id:match_id>/scores")
@require_key("personal", TEAM_MATCHES_WRITE)
@transactional
@body(captain_score_schema, MAP_RULE, SCORES_DIFFER, BOTH_TEAMS, TEAM_OF_MATCH)
@response(200, captain_score_done_schema, "The map's score, pending the other captain")
@raises(*ACTING, InvalidRequest, MatchNotInValidState, ScoreAlreadySubmittedByGame)
def submit_score(data: dict[str, Any], match_id: str):
    """A participant's captain proposes a map result."""
    domain.submit_captain_score(match_id, current_key().owner_id, data)
    return {"action": "submitted", "mapIndex": data["map_index"], "scoreStatus": "PENDING"}


@bp.patch("/matches/<api_id:match_id>/scores")
@require_key("personal", TEAM_MATCHES_WRITE)
@transactional
@body(captain_confirm_schema, MAP_RULE, BOTH_TEAMS, TEAM_OF_MATCH)
@response(200, captain_score_done_schema, "The map's score, confirmed")
@raises(*ACTING, InvalidRequest, MatchNotInValidState, ScoreNotFound, CannotConfirmOwnScore)
def confirm_score(data: dict[str, Any], match_id: str):
    """The other team's captain confirms a pending map result."""
    domain.confirm_captain_score(
        match_id, current_key().owner_id, data["map_index"], data["team_id"]
    )
    return {"action": "confirmed", "mapIndex": data["map_index"], "scoreStatus": "CONFIRMED"}


@bp.get("/matches/<api_id:match_id>/scores")
@require_key("personal", TEAM_MATCHES_READ)
@response(200, scores_read_schema, "Every map's score and the series score")
@raises(MatchNotFound, TeamNotFound, NotMatchParticipant)
def list_scores(match_id: str):
    """Every map's score and the series score (confirmed maps only)."""
    match = member_match(match_id, current_key().owner_id)
    creator, opponent = domain.series_score(match)
    return {
        "scores": match.scores,
        "seriesScore": {"creatorMapWins": creator, "opponentMapWins": opponent},
    }
