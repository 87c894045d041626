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

from league_api.db import db
from league_api.domain.matches import (
    acting_team,
    cancel,
    choose_roster,
    forfeit,
    get_game,
    get_match,
    get_team,
    require_captain,
    set_roster,
    transition,
)
from league_api.errors import InvalidRequest, MatchNotInValidState, NotMatchParticipant
from league_api.models import Match
from league_api.states import MATCH, PENDING, READY
from league_api.webhooks.outbox import emit


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
    require_captain([team], owner_id, "you are not on this team")
    if team.game_id != game.id:
        raise InvalidRequest.field("gameId", "is not the game of the team")
    if challenged is not None and challenged.id == team.id:
        raise InvalidRequest.field("challengedTeamId", "a team cannot challenge itself")
    if challenged is not None and challenged.game_id != game.id:
        raise InvalidRequest.field("challengedTeamId", "is a team of another game")
    roster = choose_roster(team, active_roster, team_size, "activeRoster")
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
    set_roster(match, team, roster, "activeRoster")
    db.session.add(match)
    db.session.flush()
    emit("match.created", match=match)
    return match


def accept_match(match_id: str, owner_id: str, team_id: str, active_roster: list[str]) -> Match:
    """The owner's team takes the open (or its challenged) match: PENDING -> ACCEPTED."""
    match = get_match(match_id, for_update=True)
    team = get_team(team_id)
    require_captain([team], owner_id, "you are not on this team")
    if team.game_id != match.game_id:
        raise NotMatchParticipant("the team plays another game")
    if team.id == match.creator_team_id:
        raise NotMatchParticipant("a team cannot accept its own match")
    if match.challenged_team_id is not None and team.id != match.challenged_team_id:
        raise NotMatchParticipant("this match challenges another team")
    roster = choose_roster(team, active_roster, match.team_size, "activeRoster")
    # A player is on one side of a match only (one roster row per match and user).
    set_roster(match, team, roster, "activeRoster")
    if match.created_by_game:
        raise MatchNotInValidState("a game's match starts ACCEPTED; none to accept")
    transition(match, "accept")
    match.accepted_team_id = team.id
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
        raise NotMatchParticipant("you are not on a roster of this match")
    MATCH.apply("set_attendance", match.status)
    entry.attendance = status
    db.session.flush()
    return status
