"""Game developer rules (API.md 5.1): matches of the key's own game, created ready to play."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from league_api.db import db
from league_api.domain import scores
from league_api.domain.matches import (
    cancel,
    choose_roster,
    forfeit,
    get_match,
    get_team,
    require_game_binding,
    require_participant_team,
    set_roster,
    transition,
)
from league_api.errors import GameScopeMismatch, InvalidRequest
from league_api.models import ApiKey, Match, Team
from league_api.states import ACCEPTED, CANCELLED, IN_PROGRESS, MATCH
from league_api.webhooks.outbox import emit


def game_match(match_id: str, key: ApiKey, for_update: bool = False) -> Match:
    """A match of the key's game: 404 if unknown, 403 if it belongs to another game."""
    match = get_match(match_id, for_update=for_update)
    require_game_binding(match, key)
    return match


def _team_of_game(team_id: str, game_id: str) -> Team:
    team = get_team(team_id)
    if team.game_id != game_id:
        raise GameScopeMismatch(f"team {team_id} plays another game")
    return team


def create_match(key: ApiKey, data: dict[str, Any]) -> Match:
    """Create an ACCEPTED match between two teams of the key's game.

    Rosters default to each team's members and must fit teamSize (see ``_roster``); one
    player cannot be on both sides.
    """
    creator = _team_of_game(data["creator_team_id"], key.game_id)
    accepted = _team_of_game(data["accepted_team_id"], key.game_id)
    team_size = data["team_size"]
    creator_roster = choose_roster(creator, data["creator_roster"], team_size, "creatorRoster")
    accepted_roster = choose_roster(accepted, data["accepted_roster"], team_size, "acceptedRoster")
    match = Match(
        game_id=key.game_id,
        status=ACCEPTED,
        creator_team_id=creator.id,
        accepted_team_id=accepted.id,
        created_by_game=True,
        game_mode_id=data["game_mode_id"],
        team_size=team_size,
        best_of=data["best_of"],
        region=data["region"],
        platform=data["platform"],
        scheduled_at=data["scheduled_at"],
        selected_maps=data["selected_maps"],
        roster=[],
        scores=[],
    )
    db.session.add(match)
    set_roster(match, creator, creator_roster, "creatorRoster")
    set_roster(match, accepted, accepted_roster, "acceptedRoster")
    db.session.flush()
    emit("match.created", match=match)
    return match


def forfeit_match(match_id: str, key: ApiKey, team_id: str, reason: str | None) -> Match:
    """The named participant forfeits; the other team wins."""
    match = game_match(match_id, key, for_update=True)
    require_participant_team(match, team_id)
    forfeit(match, team_id, reason)
    db.session.flush()
    return match


def change_status(
    match_id: str, key: ApiKey, status: str, reason: str | None = None
) -> tuple[Match, str]:
    """Start (READY only) or cancel (any live state); returns the match and its previous state."""
    match = game_match(match_id, key, for_update=True)
    previous = match.status
    if status == IN_PROGRESS:
        transition(match, "start")
    elif status == CANCELLED:
        cancel(match, reason, action="game_cancel")
    else:
        raise ValueError(f"unsupported target status {status!r}")
    db.session.flush()
    return match, previous


def _require_maps_fit(match: Match, items: list[dict[str, Any]]) -> None:
    """The whole request is a 400 if it does not fit the match's bestOf."""
    if len(items) > match.best_of:
        raise InvalidRequest.field("maps", f"at most bestOf ({match.best_of}) maps")
    too_high = {
        str(position): {"mapIndex": [f"must be below bestOf ({match.best_of})"]}
        for position, item in enumerate(items)
        if item["map_index"] >= match.best_of
    }
    if too_high:
        raise InvalidRequest({"maps": too_high})


def submit_verified_scores(
    match_id: str, key: ApiKey, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Confirm the game's map results on an IN_PROGRESS match, each item on its own."""
    match = game_match(match_id, key, for_update=True)
    _require_maps_fit(match, items)
    MATCH.apply("confirm_score", match.status)
    return scores.record_game_scores(match, items)


def list_matches(
    game_id: str, status: str | None, limit: int, cursor: str | None
) -> tuple[list[Match], bool]:
    """The game's matches, newest first; IDs are time-ordered, the cursor is the last one seen."""
    query = select(Match).where(Match.game_id == game_id)
    if status is not None:
        query = query.where(Match.status == status)
    if cursor:
        query = query.where(Match.id < cursor)
    rows = list(db.session.scalars(query.order_by(Match.id.desc()).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
