"""Map scores: captains submit and confirm, the game confirms on arrival, and the series ends
the moment one team has won a majority of its maps (API.md 5.1 verified scores, 5.4)."""

from __future__ import annotations

from typing import Any

from league_api.db import db
from league_api.domain.matches import acting_team, get_match, transition
from league_api.errors import (
    CannotConfirmOwnScore,
    InvalidRequest,
    ScoreAlreadySubmittedByGame,
    ScoreNotFound,
)
from league_api.models import MapScore, Match, Team
from league_api.states import MATCH
from league_api.webhooks.outbox import emit

PENDING_SCORE, CONFIRMED_SCORE = "PENDING", "CONFIRMED"
# The author recorded in ``submitted_by`` / ``confirmed_by`` for the game developer.
GAME = "game"


def score_of(match: Match, map_index: int) -> MapScore | None:
    return next((score for score in match.scores if score.map_index == map_index), None)


def require_map_index(match: Match, map_index: int) -> None:
    """A series of bestOf N has maps 0..N-1."""
    if map_index >= match.best_of:
        raise InvalidRequest.field(
            "mapIndex", f"must be below the match's bestOf ({match.best_of})"
        )


def series_score(match: Match) -> tuple[int, int]:
    """Confirmed map wins of (creator team, accepted team); a map goes to the higher score."""
    creator = opponent = 0
    for score in match.scores:
        if score.status != CONFIRMED_SCORE:
            continue
        if score.creator_team_score > score.opponent_team_score:
            creator += 1
        else:
            opponent += 1
    return creator, opponent


def complete_if_decided(match: Match) -> bool:
    """Complete the match once a team's confirmed wins reach a majority of bestOf.

    The one place a series ends, whoever confirmed the deciding map. Callers hold the
    match row lock, so two confirmations racing cannot both complete it.
    """
    needed = match.best_of // 2 + 1  # ceil(bestOf / 2) for the odd bestOf values allowed
    creator, opponent = series_score(match)
    if max(creator, opponent) < needed:
        return False
    transition(match, "complete")
    match.winner_team_id = match.creator_team_id if creator >= needed else match.accepted_team_id
    db.session.flush()
    return True


def _write_score(score: MapScore, item: dict[str, Any]) -> None:
    score.map_id = item["map_id"]
    score.creator_team_score = item["creator_team_score"]
    score.opponent_team_score = item["opponent_team_score"]


def _require_unconfirmed(score: MapScore | None) -> None:
    if score is not None and score.status == CONFIRMED_SCORE:
        raise ScoreAlreadySubmittedByGame(f"map {score.map_index} already has a confirmed score")


def submit_captain_score(match_id: str, user_id: str, item: dict[str, Any]) -> Team:
    """Create or overwrite a map's PENDING score for the captain's team (last writer wins)."""
    match = get_match(match_id, for_update=True)
    team = acting_team(match, user_id, item.get("team_id"))
    require_map_index(match, item["map_index"])
    MATCH.apply("submit_score", match.status)
    score = score_of(match, item["map_index"])
    _require_unconfirmed(score)
    if score is None:
        score = MapScore(match_id=match.id, map_index=item["map_index"], status=PENDING_SCORE)
        match.scores.append(score)
    _write_score(score, item)
    score.submitted_by_team_id = team.id
    score.submitted_by = user_id
    db.session.flush()
    emit("score.submitted", match=match, score=score)
    return team


def confirm_captain_score(match_id: str, user_id: str, map_index: int, team_id: str | None) -> bool:
    """The other team's captain confirms a PENDING score; True when that ended the series.

    A map with no PENDING score (none yet, or already confirmed) is a 404. Confirming your
    own team's submission is refused, and so is confirming a score you submitted yourself
    (an owner captaining both teams acting for the other one).
    """
    match = get_match(match_id, for_update=True)
    team = acting_team(match, user_id, team_id)
    require_map_index(match, map_index)
    MATCH.apply("confirm_score", match.status)
    score = score_of(match, map_index)
    if score is None or score.status != PENDING_SCORE:
        raise ScoreNotFound(f"no pending score for map {map_index}")
    if score.submitted_by_team_id == team.id or score.submitted_by == user_id:
        raise CannotConfirmOwnScore()
    score.status = CONFIRMED_SCORE
    score.confirmed_by = user_id
    db.session.flush()
    emit("score.confirmed", match=match, score=score)
    return complete_if_decided(match)


def record_game_scores(match: Match, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Confirm each map the game reports, in request order; each item succeeds or fails alone.

    The caller has locked the match, validated the items against its bestOf and checked it
    is IN_PROGRESS. A map that already has a confirmed score fails; once a map decides the
    series, the items after it fail too.
    """
    results = []
    for item in items:
        result: dict[str, Any] = {"mapIndex": item["map_index"], "status": "confirmed"}
        score = score_of(match, item["map_index"])
        if not MATCH.allows("confirm_score", match.status):  # an earlier item completed it
            result.update(status="failed", error="error_match_not_in_valid_state")
        elif score is not None and score.status == CONFIRMED_SCORE:
            result.update(status="failed", error="error_score_already_submitted_by_game")
        else:
            if score is None:
                score = MapScore(match_id=match.id, map_index=item["map_index"])
                match.scores.append(score)
            _write_score(score, item)
            # The game's word replaces whatever a captain had proposed for this map.
            score.status = CONFIRMED_SCORE
            score.submitted_by_team_id = None
            score.submitted_by = GAME
            score.confirmed_by = GAME
            db.session.flush()
            emit("score.confirmed", match=match, score=score)
            complete_if_decided(match)
        results.append(result)
    return results
