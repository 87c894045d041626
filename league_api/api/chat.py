"""Match chat (API.md 5.5): personal keys, ``chat.write`` / ``chat.read``.

Beyond API.md, two reads give the created resources their ``Location``:
``GET /chat/messages/<id>`` (a message, for the players of its match) and
``GET /chat/messages/<id>/report`` (the caller's own report on that message).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from league_api.api.common import answer, created, success
from league_api.auth import current_key, require_key
from league_api.domain import chat as domain
from league_api.idempotency import idempotent
from league_api.models import ChatMessage, ChatReport, isoformat
from league_api.schemas import load
from league_api.schemas.chat import chat_report_schema, chat_send_schema

bp = Blueprint("chat", __name__)


def message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "content": message.content,
        "senderUserId": message.sender_user_id,
        "teamId": message.team_id,
        "createdAt": isoformat(message.created_at),
    }


def report_json(report: ChatReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "messageId": report.message_id,
        "reason": report.reason,
        "createdAt": isoformat(report.created_at),
    }


@bp.post("/matches/<match_id>/chat")
@require_key("personal", "chat.write")
@idempotent
def send_message(match_id: str):
    """Post a message to the match chat as the owner."""
    data = load(chat_send_schema)
    message = domain.send_message(match_id, current_key().owner_id, **data)
    return created(url_for("api.chat.get_message", message_id=message.id), messageId=message.id)


@bp.get("/matches/<match_id>/chat")
@require_key("personal", "chat.read")
def list_messages(match_id: str):
    """The match chat, oldest first."""
    messages = domain.list_messages(match_id, current_key().owner_id)
    return answer({"messages": [message_json(message) for message in messages]})


@bp.get("/chat/messages/<message_id>")
@require_key("personal", "chat.read")
def get_message(message_id: str):
    """One chat message."""
    message = domain.readable_message(message_id, current_key().owner_id)
    return answer({"message": message_json(message)})


@bp.post("/chat/messages/<message_id>/report")
@require_key("personal", "chat.write")
@idempotent
def report_message(message_id: str):
    """Report another player's message; reporting it again answers with the first report."""
    data = load(chat_report_schema)
    report, already = domain.report_message(message_id, current_key().owner_id, data["reason"])
    if already:
        return success(reportId=report.id, alreadyReported=True)
    return created(
        url_for("api.chat.get_report", message_id=message_id),
        reportId=report.id,
        alreadyReported=False,
    )


@bp.get("/chat/messages/<message_id>/report")
@require_key("personal", "chat.read")
def get_report(message_id: str):
    """The owner's own report on a message."""
    report = domain.own_report(message_id, current_key().owner_id)
    return answer({"report": report_json(report)})
