"""Personal match rules (API.md 5.3): the key's owner acts for the team they captain.

Decisions where API.md is silent:
- Checks run in the order lookups (404), who may act (403), request rules (400), state (409).
- create: the owner must captain ``teamId``; a member who is not its captain gets 403
  ``error_captain_required``, anyone else 403 ``error_not_match_participant`` (they would not be
  on the match). A ``gameId`` that is not the team's game, and a ``challengedTeamId`` that is the
  creator team or a team of another game, are 400 ``error_invalid_request``.
- accept: a team of another game, the creator team itself, or (for a challenge) any team but the
  challenged one is 403 ``error_not_match_participant``.
- ready, lobby-code, start, cancel and forfeit are done by a captain of a team of the match
  (``acting_team``); attendance by any player on a roster of the match.
- ``activeRoster`` names distinct players (a duplicate is a 400).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from league_api.db import db
from league_api.domain.matches import (
    acting_team,
    cancel,
    forfeit,
    get_game,
    get_match,
    get_team,
    is_member_of_match,
    set_roster,
    transition,
)
from league_api.errors import APIError
from league_api.models import Match, Team
from league_api.states import MATCH, PENDING, READY


def _invalid(field: str, message: str) -> APIError:
    return APIError(400, "error_invalid_request", {field: [message]})


def _not_participant(details: str) -> APIError:
    return APIError(403, "error_not_match_participant", details)


def require_captain(team: Team, user_id: str) -> None:
    """The owner must captain ``team``: a plain member is told so, a stranger is not on it."""
    if team.captain_id == user_id:
        return
    if user_id in team.member_ids():
        raise APIError(403, "error_captain_required", "only the team's captain may do this")
    raise _not_participant("you are not on this team")


def _check_roster(team: Team, roster: list[str], team_size: int) -> None:
    if len(roster) > team_size:
        raise _invalid("activeRoster", f"holds more players than teamSize ({team_size})")
    members = team.member_ids()
    outsiders = [user_id for user_id in roster if user_id not in members]
    if outsiders:
        raise _invalid("activeRoster", f"not members of team {team.id}: {outsiders}")


def create_match(
    owner_id: str,
    *,
    team_id: str,
    game_id: str,
    game_mode_id: str,
    team_size: int,
    best_of: int,
    active_roster: list[str],
    challenged_team_id: str | None,
    scheduled_at: datetime | None,
    notes: str | None,
) -> Match:
    """A PENDING match offered by the owner's team, open to any team of the game or challenged."""
    team = get_team(team_id)
    game = get_game(game_id)
    challenged = get_team(challenged_team_id) if challenged_team_id is not None else None
    require_captain(team, owner_id)
    if team.game_id != game.id:
        raise _invalid("gameId", "is not the game of the team")
    if challenged is not None and challenged.id == team.id:
        raise _invalid("challengedTeamId", "a team cannot challenge itself")
    if challenged is not None and challenged.game_id != game.id:
        raise _invalid("challengedTeamId", "is a team of another game")
    _check_roster(team, active_roster, team_size)
    match = Match(
        game_id=game.id,
        status=PENDING,
        creator_team_id=team.id,
        challenged_team_id=challenged.id if challenged is not None else None,
        created_by_game=False,
        game_mode_id=game_mode_id,
        team_size=team_size,
        best_of=best_of,
        scheduled_at=scheduled_at,
        selected_maps=[],
        notes=notes,
    )
    set_roster(match, team, active_roster)
    db.session.add(match)
    db.session.flush()
    return match


def accept_match(match_id: str, owner_id: str, team_id: str, active_roster: list[str]) -> Match:
    """The owner's team takes the open (or its challenged) match: PENDING -> ACCEPTED."""
    match = get_match(match_id, for_update=True)
    team = get_team(team_id)
    require_captain(team, owner_id)
    if team.game_id != match.game_id:
        raise _not_participant("the team plays another game")
    if team.id == match.creator_team_id:
        raise _not_participant("a team cannot accept its own match")
    if match.challenged_team_id is not None and team.id != match.challenged_team_id:
        raise _not_participant("this match challenges another team")
    _check_roster(team, active_roster, match.team_size)
    # A player is on one side of a match only (one roster row per match and user).
    taken = [entry.user_id for entry in match.roster if entry.user_id in active_roster]
    if taken:
        raise _invalid("activeRoster", f"already on the other team's roster: {taken}")
    if match.created_by_game:
        raise APIError(
            409, "error_match_not_in_valid_state", "a game's match starts ACCEPTED; none to accept"
        )
    transition(match, "accept")
    match.accepted_team_id = team.id
    set_roster(match, team, active_roster)
    db.session.flush()
    return match


def mark_ready(match_id: str, owner_id: str, team_id: str | None) -> bool:
    """Mark the owner's team ready; the second team ready makes the match READY."""
    # The row lock makes two captains readying at once see each other's flag.
    match = get_match(match_id, for_update=True)
    team = acting_team(match, owner_id, team_id)
    MATCH.apply("mark_ready", match.status)
    if team.id == match.creator_team_id:
        match.creator_ready = True
    else:
        match.accepted_ready = True
    if match.creator_ready and match.accepted_ready:
        transition(match, "become_ready")
    db.session.flush()
    return match.status == READY


def set_lobby_code(match_id: str, owner_id: str, team_id: str | None, lobby_code: str) -> str:
    match = get_match(match_id, for_update=True)
    acting_team(match, owner_id, team_id)
    MATCH.apply("set_lobby_code", match.status)
    match.lobby_code = lobby_code
    db.session.flush()
    return lobby_code


def start_match(match_id: str, owner_id: str, team_id: str | None) -> Match:
    """READY -> IN_PROGRESS; any other state is a 409, so a retry is safe without a key."""
    match = get_match(match_id, for_update=True)
    acting_team(match, owner_id, team_id)
    transition(match, "start")
    db.session.flush()
    return match


def cancel_match(match_id: str, owner_id: str, team_id: str | None, reason: str | None) -> Match:
    """PENDING (only the creator team plays it yet), ACCEPTED or READY -> CANCELLED."""
    match = get_match(match_id, for_update=True)
    acting_team(match, owner_id, team_id)
    cancel(match, reason)
    db.session.flush()
    return match


def forfeit_match(match_id: str, owner_id: str, team_id: str | None, reason: str | None) -> Match:
    """The owner's team gives the match up and loses it."""
    match = get_match(match_id, for_update=True)
    team = acting_team(match, owner_id, team_id)
    forfeit(match, team.id, reason)
    db.session.flush()
    return match


def set_attendance(match_id: str, owner_id: str, status: str) -> str:
    """The owner's own answer, as a player on a roster of the match."""
    match = get_match(match_id, for_update=True)
    entry = next((entry for entry in match.roster if entry.user_id == owner_id), None)
    if entry is None:
        raise _not_participant("you are not on a roster of this match")
    MATCH.apply("set_attendance", match.status)
    entry.attendance = status
    db.session.flush()
    return status


def _captains_team_of_game(user_id: str, game_id: str) -> bool:
    query = select(Team.id).where(Team.game_id == game_id, Team.captain_id == user_id).limit(1)
    return db.session.scalar(query) is not None


def readable_match(match_id: str, user_id: str) -> tuple[Match, bool]:
    """The match and whether the user plays it (only players see the lobby code).

    Readable by members of both teams, of the challenged team, and, while an open match
    waits for an opponent, by any captain of the game who might accept it.
    """
    match = get_match(match_id)
    if is_member_of_match(match, user_id):
        return match, True
    if match.challenged_team_id is not None:
        if user_id in get_team(match.challenged_team_id).member_ids():
            return match, False
    elif match.status == PENDING and _captains_team_of_game(user_id, match.game_id):
        return match, False
    raise _not_participant("you are not on either team of this match")
