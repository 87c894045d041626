"""Support tickets (API.md 5.6): personal keys, ``tickets.write`` / ``tickets.read``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from league_api.api.declare import body, query, raises, response
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.domain import tickets as domain
from league_api.errors import TicketClosed, TicketNotFound
from league_api.idempotency import idempotent
from league_api.schemas import empty_body_schema
from league_api.schemas.tickets import (
    ticket_closed_schema,
    ticket_create_schema,
    ticket_created_schema,
    ticket_list_query_schema,
    ticket_list_schema,
    ticket_message_added_schema,
    ticket_message_schema,
    ticket_read_schema,
)

bp = Blueprint("tickets", __name__)


@bp.post("/tickets")
@require_key("personal", "tickets.write")
@idempotent
@body(ticket_create_schema)
@response(
    201,
    ticket_created_schema,
    "The ticket, opened",
    location="api.tickets.get_ticket",
    location_args={"ticket_id": "ticketId"},
)
def create_ticket(data: dict[str, Any]):
    """Open a support ticket."""
    ticket = domain.open_ticket(current_key().owner_id, **data)
    return {"ticketId": ticket.id, "ticketNumber": ticket.ticket_number}


@bp.post("/tickets/<api_id:ticket_id>/messages")
@require_key("personal", "tickets.write")
@idempotent
@body(ticket_message_schema)
@response(200, ticket_message_added_schema, "The message, added")
@raises(TicketNotFound, TicketClosed)
def add_ticket_message(data: dict[str, Any], ticket_id: str):
    """Add the owner's message to an open ticket."""
    owner_id = current_key().owner_id
    ticket = domain.owned_ticket(owner_id, ticket_id, for_update=True)
    return {"messageId": domain.add_message(ticket, owner_id, data["content"]).id}


@bp.post("/tickets/<api_id:ticket_id>/close")
@require_key("personal", "tickets.write")
@transactional
@body(empty_body_schema)
@response(200, ticket_closed_schema, "The ticket, closed")
@raises(TicketNotFound, TicketClosed)
def close_ticket(data: dict[str, Any], ticket_id: str):
    """Close a ticket; closing a closed one is a 409, which makes retries safe."""
    ticket = domain.owned_ticket(current_key().owner_id, ticket_id, for_update=True)
    domain.close_ticket(ticket)
    return {"ticketId": ticket.id, "status": ticket.status}


@bp.get("/tickets")
@require_key("personal", "tickets.read")
@query(ticket_list_query_schema)
@response(200, ticket_list_schema, "The owner's tickets, newest first")
def list_tickets(args: dict[str, Any]):
    """The owner's tickets, newest first."""
    cursor = int(args["cursor"]) if args["cursor"] else None
    tickets, has_more = domain.list_tickets(current_key().owner_id, args["limit"], cursor)
    next_cursor = str(tickets[-1].ticket_number) if has_more else None
    return {"tickets": tickets, "nextCursor": next_cursor, "hasMore": has_more}


@bp.get("/tickets/<api_id:ticket_id>")
@require_key("personal", "tickets.read")
@response(200, ticket_read_schema, "The ticket with its messages")
@raises(TicketNotFound)
def get_ticket(ticket_id: str):
    """One of the owner's tickets with its messages."""
    return {"ticket": domain.owned_ticket(current_key().owner_id, ticket_id)}
