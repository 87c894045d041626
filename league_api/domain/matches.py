"""Match rules shared by every match area: lookups, who acts for which team, transitions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from league_api.db import db
from league_api.domain import one_or_404
from league_api.errors import APIError
from league_api.models import ApiKey, Game, Match, RosterEntry, Team, isoformat, utcnow
from league_api.states import ACCEPTED, CANCELLED, COMPLETED, FORFEITED, IN_PROGRESS, MATCH


def get_match(match_id: str, for_update: bool = False) -> Match:
    """The match, locked for the rest of the transaction when it is about to change."""
    query = select(Match).where(Match.id == match_id)
    return one_or_404(query, "error_match_not_found", "no such match", for_update)


def get_team(team_id: str) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise APIError(404, "error_team_not_found", f"no team {team_id}")
    return team


def get_game(game_id: str) -> Game:
    game = db.session.get(Game, game_id)
    if game is None:
        raise APIError(404, "error_game_not_found", f"no game {game_id}")
    return game


def require_game_binding(match: Match, key: ApiKey) -> None:
    """A game developer key reaches only the matches of its own game."""
    if match.game_id != key.game_id:
        raise APIError(403, "error_game_scope_mismatch", "the match belongs to another game")


def require_participant_team(match: Match, team_id: str) -> str:
    if team_id not in match.team_ids():
        raise APIError(400, "error_team_not_in_match", f"team {team_id} does not play this match")
    return team_id


def other_team(match: Match, team_id: str) -> str | None:
    return match.accepted_team_id if team_id == match.creator_team_id else match.creator_team_id


def acting_team(match: Match, user_id: str, team_id: str | None = None) -> Team:
    """The participating team the user captains and acts for.

    A user who captains both teams must name ``teamId``; a member who is not the captain
    gets ``error_captain_required``; anyone else ``error_not_match_participant``.
    """
    teams = [get_team(tid) for tid in match.team_ids()]
    if team_id is not None:
        require_participant_team(match, team_id)
        teams = [team for team in teams if team.id == team_id]
    captained = [team for team in teams if team.captain_id == user_id]
    if len(captained) > 1:
        raise APIError(400, "error_invalid_request", {"teamId": ["Name the team you act for."]})
    if captained:
        return captained[0]
    if any(user_id in team.member_ids() for team in teams):
        raise APIError(403, "error_captain_required", "only the team's captain may do this")
    raise APIError(403, "error_not_match_participant", "you are not on either team of this match")


def is_member_of_match(match: Match, user_id: str) -> bool:
    return any(user_id in get_team(team_id).member_ids() for team_id in match.team_ids())


def set_roster(match: Match, team: Team, user_ids: list[str] | None) -> None:
    """Put a team's players on the match: the named ones, or by default all its members."""
    members = team.member_ids()
    chosen = list(dict.fromkeys(user_ids)) if user_ids is not None else sorted(members)
    outsiders = [user_id for user_id in chosen if user_id not in members]
    if outsiders:
        raise APIError(
            400, "error_invalid_request", {"roster": [f"not members of the team: {outsiders}"]}
        )
    for entry in [entry for entry in match.roster if entry.team_id == team.id]:
        match.roster.remove(entry)
    match.roster.extend(RosterEntry(team_id=team.id, user_id=user_id) for user_id in chosen)


def transition(match: Match, action: str) -> str:
    """Apply a MATCH action (409 if not allowed) and stamp the times it implies."""
    previous = match.status
    match.status = MATCH.apply(action, previous)
    now = utcnow()
    if match.status == IN_PROGRESS and previous != IN_PROGRESS:
        match.started_at = now
    if match.status in (COMPLETED, CANCELLED, FORFEITED):
        match.ended_at = now
    return previous


def forfeit(match: Match, team_id: str, reason: str | None) -> None:
    """The forfeiting team loses; the other wins."""
    transition(match, "forfeit")
    match.forfeited_by_team_id = team_id
    match.winner_team_id = other_team(match, team_id)
    match.end_reason = reason


def cancel(match: Match, reason: str | None, action: str = "cancel") -> None:
    transition(match, action)
    match.end_reason = reason


def _roster_of(match: Match, team_id: str | None) -> list[str]:
    return [entry.user_id for entry in match.roster if team_id and entry.team_id == team_id]


def match_json(match: Match, show_lobby_code: bool = True) -> dict[str, Any]:
    """What a client needs to follow a match."""
    return {
        "id": match.id,
        "gameId": match.game_id,
        "status": match.status,
        "creatorTeamId": match.creator_team_id,
        "acceptedTeamId": match.accepted_team_id,
        "challengedTeamId": match.challenged_team_id,
        "createdByGame": match.created_by_game,
        "gameModeId": match.game_mode_id,
        "teamSize": match.team_size,
        "bestOf": match.best_of,
        "region": match.region,
        "platform": match.platform,
        "scheduledAt": isoformat(match.scheduled_at),
        "selectedMaps": match.selected_maps or [],
        "notes": match.notes,
        "creatorRoster": _roster_of(match, match.creator_team_id),
        "acceptedRoster": _roster_of(match, match.accepted_team_id),
        "readiness": {"creator": match.creator_ready, "accepted": match.accepted_ready},
        "attendance": {entry.user_id: entry.attendance for entry in match.roster},
        "lobbyCode": match.lobby_code if show_lobby_code else None,
        "winnerTeamId": match.winner_team_id,
        "forfeitedByTeamId": match.forfeited_by_team_id,
        "createdAt": isoformat(match.created_at),
        "updatedAt": isoformat(match.updated_at),
        "startedAt": isoformat(match.started_at),
        "endedAt": isoformat(match.ended_at),
    }


__all__ = [
    "ACCEPTED",
    "acting_team",
    "cancel",
    "forfeit",
    "get_game",
    "get_match",
    "get_team",
    "is_member_of_match",
    "match_json",
    "other_team",
    "require_game_binding",
    "require_participant_team",
    "set_roster",
    "transition",
]
