"""Support tickets (API.md 5.6): a user's conversation with the deployment's staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, Sequence, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from league_api.db import Base, table_name
from league_api.models.base import new_id, utcnow

# PostgreSQL hands out ticket numbers from a sequence; SQLite takes MAX+1 under its write lock.
ticket_number_sequence = Sequence(table_name("support_ticket_number_seq"), metadata=Base.metadata)


class SupportTicket(Base):
    __tablename__ = table_name("support_tickets")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    ticket_number: Mapped[int] = mapped_column(Integer, unique=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"), index=True)
    subject: Mapped[str] = mapped_column(String(150))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    messages: Mapped[list[TicketMessage]] = relationship(
        order_by="TicketMessage.id", cascade="all, delete-orphan"
    )


class TicketMessage(Base):
    __tablename__ = table_name("support_ticket_messages")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    ticket_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("support_tickets") + ".id"), index=True
    )
    author_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
