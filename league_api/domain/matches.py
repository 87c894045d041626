"""Match rules shared by every match area: lookups, who acts for which team, transitions."""

from __future__ import annotations

from sqlalchemy import select

from league_api.db import db
from league_api.domain import one_or_404
from league_api.errors import (
    CaptainRequired,
    GameNotFound,
    GameScopeMismatch,
    InvalidRequest,
    MatchNotFound,
    NotMatchParticipant,
    TeamNotFound,
    TeamNotInMatch,
)
from league_api.models import ApiKey, Game, Match, RosterEntry, Team, utcnow
from league_api.states import (
    ACCEPTED,
    CANCELLED,
    COMPLETED,
    FORFEITED,
    IN_PROGRESS,
    MATCH,
    PENDING,
)
from league_api.webhooks.events import MATCH_ACTION_EVENTS
from league_api.webhooks.outbox import emit


def get_match(match_id: str, for_update: bool = False) -> Match:
    """The match, locked for the rest of the transaction when it is about to change."""
    query = select(Match).where(Match.id == match_id)
    return one_or_404(query, MatchNotFound, for_update)


def get_team(team_id: str) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        raise TeamNotFound(f"no team {team_id}")
    return team


def get_game(game_id: str) -> Game:
    game = db.session.get(Game, game_id)
    if game is None:
        raise GameNotFound(f"no game {game_id}")
    return game


def require_game_binding(match: Match, key: ApiKey) -> None:
    """A game developer key reaches only the matches of its own game."""
    if match.game_id != key.game_id:
        raise GameScopeMismatch()


def require_participant_team(match: Match, team_id: str) -> str:
    if team_id not in match.team_ids():
        raise TeamNotInMatch(f"team {team_id} does not play this match")
    return team_id


def other_team(match: Match, team_id: str) -> str | None:
    return match.accepted_team_id if team_id == match.creator_team_id else match.creator_team_id


def require_captain(teams: list[Team], user_id: str, stranger: str | None = None) -> Team:
    """The one team of ``teams`` the user captains: the one captaincy rule.

    A captain of two of them must name ``teamId`` (400); a member who is not the captain
    gets ``error_captain_required``; anyone else ``error_not_match_participant``.
    """
    captained = [team for team in teams if team.captain_id == user_id]
    if len(captained) > 1:
        raise InvalidRequest.field("teamId", "Name the team you act for.")
    if captained:
        return captained[0]
    if any(user_id in team.member_ids() for team in teams):
        raise CaptainRequired()
    raise NotMatchParticipant(stranger)


def acting_team(match: Match, user_id: str, team_id: str | None = None) -> Team:
    """The participating team the user captains and acts for (``teamId`` narrows the choice)."""
    teams = [get_team(tid) for tid in match.team_ids()]
    if team_id is not None:
        require_participant_team(match, team_id)
        teams = [team for team in teams if team.id == team_id]
    return require_captain(teams, user_id)


def member_teams(match: Match, user_id: str) -> list[str]:
    """The teams of the match the user is a member of (captains included)."""
    return [team_id for team_id in match.team_ids() if user_id in get_team(team_id).member_ids()]


def is_member_of_match(match: Match, user_id: str) -> bool:
    return bool(member_teams(match, user_id))


def require_member(match: Match, user_id: str) -> None:
    """The participation rule: only members of the match's teams play (and talk, and score)."""
    if not is_member_of_match(match, user_id):
        raise NotMatchParticipant()


def member_match(match_id: str, user_id: str) -> Match:
    """A match its member reads (scores, chat); anyone else is not a participant."""
    match = get_match(match_id)
    require_member(match, user_id)
    return match


def _captains_team_of_game(user_id: str, game_id: str) -> bool:
    query = select(Team.id).where(Team.game_id == game_id, Team.captain_id == user_id).limit(1)
    return db.session.scalar(query) is not None


def readable_match(match_id: str, user_id: str) -> tuple[Match, bool]:
    """The match read: the match and whether the user plays it (only players see the lobby code).

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
    raise NotMatchParticipant()


def choose_roster(team: Team, chosen: list[str] | None, team_size: int, field: str) -> list[str]:
    """A team's players for a match: the named ones, or by default all of its members.

    The one roster rule: 1..teamSize distinct members of the team (a team with more members
    than teamSize must name who plays).
    """
    members = team.member_ids()
    players = list(dict.fromkeys(chosen)) if chosen is not None else sorted(members)
    if not 1 <= len(players) <= team_size:
        hint = "" if chosen is not None else f"; the team has {len(players)} members, name them"
        raise InvalidRequest.field(field, f"must hold 1 to teamSize ({team_size}) players{hint}")
    outsiders = [user_id for user_id in players if user_id not in members]
    if outsiders:
        raise InvalidRequest.field(field, f"not members of team {team.id}: {outsiders}")
    return players


def set_roster(match: Match, team: Team, players: list[str], field: str) -> None:
    """Put a team's chosen players on the match; a player plays on one side only."""
    taken = [
        entry.user_id
        for entry in match.roster
        if entry.team_id != team.id and entry.user_id in players
    ]
    if taken:
        raise InvalidRequest.field(field, f"already on the other team's roster: {taken}")
    for entry in [entry for entry in match.roster if entry.team_id == team.id]:
        match.roster.remove(entry)
    match.roster.extend(RosterEntry(team_id=team.id, user_id=user_id) for user_id in players)


def transition(match: Match, action: str) -> str:
    """Apply a MATCH action (409 if not allowed) and stamp the times it implies."""
    previous = match.status
    match.status = MATCH.apply(action, previous)
    now = utcnow()
    if match.status == IN_PROGRESS and previous != IN_PROGRESS:
        match.started_at = now
    if match.status in (COMPLETED, CANCELLED, FORFEITED):
        match.ended_at = now
    if action in MATCH_ACTION_EVENTS:
        # Every state change passes here; the body is rendered at commit, when complete.
        emit(MATCH_ACTION_EVENTS[action], match=match)
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


__all__ = [
    "ACCEPTED",
    "acting_team",
    "cancel",
    "forfeit",
    "get_game",
    "get_match",
    "get_team",
    "is_member_of_match",
    "member_match",
    "member_teams",
    "readable_match",
    "require_captain",
    "require_member",
    "choose_roster",
    "other_team",
    "require_game_binding",
    "require_participant_team",
    "set_roster",
    "transition",
]
