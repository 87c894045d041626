"""Match chat (API.md 5.5): personal keys, ``chat.write`` / ``chat.read``.

Beyond API.md, two reads give the created resources their ``Location``:
``GET /chat/messages/<id>`` (a message, for the players of its match) and
``GET /chat/messages/<id>/report`` (the caller's own report on that message).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from league_api.api.declare import body, raises, response
from league_api.api.matches import TEAM_OF_MATCH
from league_api.auth import current_key, require_key
from league_api.domain import chat as domain
from league_api.errors import (
    InvalidRequest,
    MatchNotFound,
    MessageNotFound,
    NotFound,
    NotMatchParticipant,
    TeamNotInMatch,
)
from league_api.idempotency import idempotent
from league_api.schemas.chat import (
    chat_list_schema,
    chat_message_read_schema,
    chat_report_read_schema,
    chat_report_schema,
    chat_reported_schema,
    chat_send_schema,
    chat_sent_schema,
)

bp = Blueprint("chat", __name__)


@bp.post("/matches/<api_id:match_id>/chat")
@require_key("personal", "chat.write")
@idempotent
@body(
    chat_send_schema,
    "A player on both teams of the match names `teamId` (else 400).",
    TEAM_OF_MATCH,
)
@response(
    201,
    chat_sent_schema,
    "The message, posted",
    location="api.chat.get_message",
    location_args={"message_id": "messageId"},
)
@raises(MatchNotFound, NotMatchParticipant, TeamNotInMatch)
def send_message(data: dict[str, Any], match_id: str):
    """Post a message to the match chat as the owner."""
    message = domain.send_message(match_id, current_key().owner_id, **data)
    return {"messageId": message.id}


@bp.get("/matches/<api_id:match_id>/chat")
@require_key("personal", "chat.read")
@response(200, chat_list_schema, "The match chat, oldest first")
@raises(MatchNotFound, NotMatchParticipant)
def list_messages(match_id: str):
    """The match chat, oldest first."""
    return {"messages": domain.list_messages(match_id, current_key().owner_id)}


@bp.get("/chat/messages/<api_id:message_id>")
@require_key("personal", "chat.read")
@response(200, chat_message_read_schema, "The message")
@raises(MessageNotFound, MatchNotFound, NotMatchParticipant)
def get_message(message_id: str):
    """One chat message."""
    return {"message": domain.readable_message(message_id, current_key().owner_id)}


@bp.post("/chat/messages/<api_id:message_id>/report")
@require_key("personal", "chat.write")
@idempotent
@body(chat_report_schema, "Reporting your own message is a 400.")
@response(200, chat_reported_schema, "The caller had reported this message already")
@response(
    201,
    chat_reported_schema,
    "The report, filed",
    location="api.chat.get_report",
)
@raises(MessageNotFound, MatchNotFound, NotMatchParticipant, InvalidRequest)
def report_message(data: dict[str, Any], message_id: str):
    """Report another player's message; reporting it again answers with the first report."""
    report, already = domain.report_message(message_id, current_key().owner_id, data["reason"])
    return {"reportId": report.id, "alreadyReported": already}, 200 if already else 201


@bp.get("/chat/messages/<api_id:message_id>/report")
@require_key("personal", "chat.read")
@response(200, chat_report_read_schema, "The caller's own report")
@raises(MessageNotFound, MatchNotFound, NotMatchParticipant, NotFound)
def get_report(message_id: str):
    """The owner's own report on a message."""
    return {"report": domain.own_report(message_id, current_key().owner_id)}
