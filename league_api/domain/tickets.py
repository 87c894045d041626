"""Support tickets: numbering, replies and closing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from league_api.db import db, write_row
from league_api.domain import one_or_404
from league_api.errors import TicketClosed, TicketNotFound
from league_api.models import (
    SupportTicket,
    TicketMessage,
    new_id,
    ticket_number_sequence,
    utcnow,
)
from league_api.webhooks.outbox import emit


@dataclass(frozen=True)
class OpenedTicket:
    """A ticket just opened: what the answer and the ``ticket.created`` event read of it."""

    id: str
    ticket_number: int
    owner_id: str
    subject: str
    description: str
    category: str
    status: str
    created_at: datetime
    updated_at: datetime


_TICKETS = SupportTicket.__table__


def _open_statement(next_number: Any) -> Any:
    # A Core INSERT on the session's connection: the number is computed by the INSERT itself and
    # comes back alone with RETURNING (every other column is known here), with none of the ORM's
    # bulk-insert machinery or an entity to build. Built once per database.
    return insert(_TICKETS).values(ticket_number=next_number).returning(_TICKETS.c.ticket_number)


# PostgreSQL draws numbers from a sequence; SQLite takes MAX+1, which cannot race because the
# request holds the write lock (the unique index checks).
_OPEN = {
    "postgresql": _open_statement(ticket_number_sequence.next_value()),
    "sqlite": _open_statement(
        select(func.coalesce(func.max(_TICKETS.c.ticket_number), 0) + 1).scalar_subquery()
    ),
}


def open_ticket(owner_id: str, subject: str, description: str, category: str) -> OpenedTicket:
    connection = db.session.connection()
    now = utcnow()
    values = {
        "id": new_id(),
        "owner_id": owner_id,
        "subject": subject,
        "description": description,
        "category": category,
        "status": "open",
        "created_at": now,
        "updated_at": now,
    }
    (number,) = write_row(connection, _OPEN[connection.dialect.name], values)
    ticket = OpenedTicket(ticket_number=number, **values)
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
