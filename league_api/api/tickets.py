"""Support tickets (API.md 5.6): personal keys, ``tickets.write`` / ``tickets.read``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from league_api.api.common import answer, created, success
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import tickets as domain
from league_api.idempotency import idempotent
from league_api.models import SupportTicket, isoformat
from league_api.schemas import empty_body_schema, load
from league_api.schemas.tickets import (
    ticket_create_schema,
    ticket_list_query_schema,
    ticket_message_schema,
)

bp = Blueprint("tickets", __name__)


def ticket_json(ticket: SupportTicket, with_messages: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": ticket.id,
        "ticketNumber": ticket.ticket_number,
        "subject": ticket.subject,
        "description": ticket.description,
        "category": ticket.category,
        "status": ticket.status,
        "createdAt": isoformat(ticket.created_at),
        "updatedAt": isoformat(ticket.updated_at),
    }
    if with_messages:
        data["messages"] = [
            {
                "id": message.id,
                "content": message.content,
                "authorUserId": message.author_id,
                "createdAt": isoformat(message.created_at),
            }
            for message in ticket.messages
        ]
    return data


@bp.post("/tickets")
@require_key("personal", "tickets.write")
@idempotent
def create_ticket():
    """Open a support ticket."""
    data = load(ticket_create_schema)
    ticket = domain.open_ticket(current_key().owner_id, **data)
    return created(
        url_for("api.tickets.get_ticket", ticket_id=ticket.id),
        ticketId=ticket.id,
        ticketNumber=ticket.ticket_number,
    )


@bp.post("/tickets/<ticket_id>/messages")
@require_key("personal", "tickets.write")
@idempotent
def add_ticket_message(ticket_id: str):
    """Add the owner's message to an open ticket."""
    data = load(ticket_message_schema)
    owner_id = current_key().owner_id
    ticket = domain.owned_ticket(owner_id, ticket_id, for_update=True)
    message = domain.add_message(ticket, owner_id, data["content"])
    return success(messageId=message.id)


@bp.post("/tickets/<ticket_id>/close")
@require_key("personal", "tickets.write")
@transactional
def close_ticket(ticket_id: str):
    """Close a ticket; closing a closed one is a 409, which makes retries safe."""
    load(empty_body_schema)
    ticket = domain.owned_ticket(current_key().owner_id, ticket_id, for_update=True)
    domain.close_ticket(ticket)
    return success(ticketId=ticket.id, status="closed")


@bp.get("/tickets")
@require_key("personal", "tickets.read")
def list_tickets():
    """The owner's tickets, newest first."""
    query = load(ticket_list_query_schema, request.args.to_dict())
    tickets, has_more = domain.list_tickets(current_key().owner_id, query["limit"], query["cursor"])
    next_cursor = str(tickets[-1].ticket_number) if has_more else None
    return answer(
        {
            "tickets": [ticket_json(ticket) for ticket in tickets],
            "nextCursor": next_cursor,
            "hasMore": has_more,
        }
    )


@bp.get("/tickets/<ticket_id>")
@require_key("personal", "tickets.read")
def get_ticket(ticket_id: str):
    """One of the owner's tickets with its messages."""
    ticket = domain.owned_ticket(current_key().owner_id, ticket_id)
    return answer({"ticket": ticket_json(ticket, with_messages=True)})
