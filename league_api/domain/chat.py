"""Match chat (API.md 5.5): the players of both teams talk, and may report a message.

Decisions where API.md is silent:
- A player on both teams of a match names ``teamId`` when sending (else 400), as a captain of both
  teams does for match writes.
- One report per (message, reporter) is a unique constraint; a concurrent second insert that hits
  it answers as a repeated report instead of failing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from league_api.db import db
from league_api.domain.matches import (
    get_match,
    member_match,
    member_teams,
    require_member,
    require_participant_team,
)
from league_api.errors import InvalidRequest, MessageNotFound, NotFound, NotMatchParticipant
from league_api.models import ChatMessage, ChatReport, Match
from league_api.webhooks.outbox import emit


def sender_team(match: Match, user_id: str, team_id: str | None) -> str:
    """The side the user speaks for: the team of the match they are a member of."""
    if team_id is not None:
        require_participant_team(match, team_id)
    teams = [tid for tid in member_teams(match, user_id) if team_id in (None, tid)]
    if not teams:
        raise NotMatchParticipant()
    if len(teams) > 1:
        raise InvalidRequest.field("teamId", "Name the team you speak for.")
    return teams[0]


def send_message(match_id: str, user_id: str, content: str, team_id: str | None) -> ChatMessage:
    match = get_match(match_id)
    message = ChatMessage(
        match_id=match.id,
        sender_user_id=user_id,
        team_id=sender_team(match, user_id, team_id),
        content=content,
    )
    db.session.add(message)
    db.session.flush()
    return message


def list_messages(match_id: str, user_id: str) -> list[ChatMessage]:
    """The match's messages, oldest first (ids are time-ordered and break ties)."""
    match = member_match(match_id, user_id)
    query = (
        select(ChatMessage)
        .where(ChatMessage.match_id == match.id)
        .order_by(ChatMessage.created_at, ChatMessage.id)
    )
    return list(db.session.scalars(query))


def readable_message(message_id: str, user_id: str) -> ChatMessage:
    """A message, for the players of its match."""
    message = db.session.get(ChatMessage, message_id)
    if message is None:
        raise MessageNotFound()
    require_member(get_match(message.match_id), user_id)
    return message


def _report_by(message_id: str, user_id: str) -> ChatReport | None:
    return db.session.scalar(
        select(ChatReport).where(
            ChatReport.message_id == message_id, ChatReport.reporter_user_id == user_id
        )
    )


def report_message(message_id: str, user_id: str, reason: str | None) -> tuple[ChatReport, bool]:
    """The user's report on a message and whether it existed before this request."""
    message = readable_message(message_id, user_id)
    if message.sender_user_id == user_id:
        raise InvalidRequest.field("messageId", "You wrote this message.")
    existing = _report_by(message.id, user_id)
    if existing is not None:
        return existing, True
    report = ChatReport(message_id=message.id, reporter_user_id=user_id, reason=reason)
    try:
        # PostgreSQL: a concurrent report by the same user commits first and this insert then
        # fails on the unique constraint; the savepoint keeps the request's transaction usable.
        with db.session.begin_nested():
            db.session.add(report)
            db.session.flush()
    except IntegrityError:
        existing = _report_by(message.id, user_id)
        if existing is None:
            raise
        return existing, True
    emit("chat.message_reported", report=report, matchId=message.match_id)
    return report, False


def own_report(message_id: str, user_id: str) -> ChatReport:
    """The user's report on a message they can see; 404 when they have not reported it."""
    message = readable_message(message_id, user_id)
    report = _report_by(message.id, user_id)
    if report is None:
        raise NotFound("you have not reported this message")
    return report
