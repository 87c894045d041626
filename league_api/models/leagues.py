"""League seasons and league tickets (API.md 5.2), separate from support tickets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from league_api.db import Base, table_name
from league_api.models.base import new_id, utcnow

# The partial index's predicate; literal so both dialects render the same DDL.
_ACTIVE_ONLY = text("status = 'ACTIVE'")


class Season(Base):
    """A season of one game in one league: UPCOMING -> ACTIVE -> COMPLETED.

    At most one ACTIVE season per (league, game) is a database rule (a partial unique
    index), so concurrent activations cannot both win even if they slip past the code check.
    """

    __tablename__ = table_name("seasons")
    __table_args__ = (
        Index(
            table_name("uq_seasons_one_active_per_league_game"),
            "league_id",
            "game_id",
            unique=True,
            sqlite_where=_ACTIVE_ONLY,
            postgresql_where=_ACTIVE_ONLY,
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    league_id: Mapped[str] = mapped_column(ForeignKey(table_name("leagues") + ".id"), index=True)
    game_id: Mapped[str] = mapped_column(ForeignKey(table_name("games") + ".id"))
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class LeagueTicket(Base):
    """A league operator's ticket to the deployment's staff; ``status`` is open or closed."""

    __tablename__ = table_name("league_tickets")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    league_id: Mapped[str] = mapped_column(ForeignKey(table_name("leagues") + ".id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"))
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(16))  # low | medium | high | urgent
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    messages: Mapped[list[LeagueTicketMessage]] = relationship(
        order_by="LeagueTicketMessage.id", cascade="all, delete-orphan"
    )


class LeagueTicketMessage(Base):
    """A reply on a league ticket; ``is_internal`` marks a staff-only note."""

    __tablename__ = table_name("league_ticket_messages")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    ticket_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("league_tickets") + ".id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"))
    content: Mapped[str] = mapped_column(Text)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
