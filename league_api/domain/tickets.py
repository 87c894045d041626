"""Support tickets: numbering, replies and closing."""

from __future__ import annotations

from sqlalchemy import func, select

from league_api.db import db
from league_api.domain import one_or_404
from league_api.errors import TicketClosed, TicketNotFound
from league_api.models import SupportTicket, TicketMessage, ticket_number_sequence, utcnow
from league_api.webhooks.outbox import emit


def _next_ticket_number() -> int:
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(ticket_number_sequence.next_value())
    # SQLite: the request holds the write lock, so MAX+1 cannot race (the unique index checks).
    return (session.scalar(select(func.max(SupportTicket.ticket_number))) or 0) + 1


def open_ticket(owner_id: str, subject: str, description: str, category: str) -> SupportTicket:
    ticket = SupportTicket(
        ticket_number=_next_ticket_number(),
        owner_id=owner_id,
        subject=subject,
        description=description,
        category=category,
        status="open",
    )
    db.session.add(ticket)
    db.session.flush()
    emit("ticket.created", ticket=ticket)
    return ticket


def owned_ticket(owner_id: str, ticket_id: str, for_update: bool = False) -> SupportTicket:
    """The owner's ticket; another user's is a 404 so its existence is not revealed."""
    query = select(SupportTicket).where(
        SupportTicket.id == ticket_id, SupportTicket.owner_id == owner_id
    )
    return one_or_404(query, TicketNotFound, for_update)


def _require_open(ticket: SupportTicket) -> None:
    if ticket.status == "closed":
        raise TicketClosed()


def add_message(ticket: SupportTicket, author_id: str, content: str) -> TicketMessage:
    _require_open(ticket)
    message = TicketMessage(ticket_id=ticket.id, author_id=author_id, content=content)
    db.session.add(message)
    ticket.updated_at = utcnow()
    db.session.flush()
    emit("ticket.replied", ticket=ticket, message=message)
    return message


def close_ticket(ticket: SupportTicket) -> None:
    _require_open(ticket)
    ticket.status = "closed"
    db.session.flush()


MAX_TICKET_NUMBER = 2**31 - 1


def list_tickets(owner_id: str, limit: int, cursor: int | None) -> tuple[list[SupportTicket], bool]:
    """Newest first; the cursor is the last ticket number seen."""
    query = select(SupportTicket).where(SupportTicket.owner_id == owner_id)
    # A cursor above any storable number (the column is 32-bit) filters nothing; binding it
    # would overflow on PostgreSQL.
    if cursor is not None and cursor <= MAX_TICKET_NUMBER:
        query = query.where(SupportTicket.ticket_number < cursor)
    query = query.order_by(SupportTicket.ticket_number.desc()).limit(limit + 1)
    rows = list(db.session.scalars(query))
    return rows[:limit], len(rows) > limit
