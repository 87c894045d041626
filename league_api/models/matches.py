"""Matches, their rosters, map scores and chat (API.md 5.1, 5.3-5.5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from league_api.db import Base, table_name
from league_api.models.base import new_id, utcnow


class Match(Base):
    """A series between the creator team and the accepted team.

    ``accepted_team_id`` is NULL while a personal match is PENDING; ``challenged_team_id``
    restricts who may accept. ``created_by_game`` marks matches a game developer created
    (they start ACCEPTED and cannot be accepted again).
    """

    __tablename__ = table_name("matches")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    game_id: Mapped[str] = mapped_column(ForeignKey(table_name("games") + ".id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    creator_team_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("teams") + ".id"), index=True
    )
    accepted_team_id: Mapped[str | None] = mapped_column(
        ForeignKey(table_name("teams") + ".id"), index=True
    )
    challenged_team_id: Mapped[str | None] = mapped_column(ForeignKey(table_name("teams") + ".id"))
    created_by_game: Mapped[bool] = mapped_column(Boolean, default=False)
    game_mode_id: Mapped[str] = mapped_column(String(100))
    team_size: Mapped[int] = mapped_column(Integer)
    best_of: Mapped[int] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(100))
    platform: Mapped[str | None] = mapped_column(String(100))
    scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    selected_maps: Mapped[list[Any]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    lobby_code: Mapped[str | None] = mapped_column(String(50))
    creator_ready: Mapped[bool] = mapped_column(Boolean, default=False)
    accepted_ready: Mapped[bool] = mapped_column(Boolean, default=False)
    winner_team_id: Mapped[str | None] = mapped_column(ForeignKey(table_name("teams") + ".id"))
    forfeited_by_team_id: Mapped[str | None] = mapped_column(
        ForeignKey(table_name("teams") + ".id")
    )
    end_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    roster: Mapped[list[RosterEntry]] = relationship(
        order_by="RosterEntry.id", cascade="all, delete-orphan"
    )
    scores: Mapped[list[MapScore]] = relationship(
        order_by="MapScore.map_index", cascade="all, delete-orphan"
    )

    def team_ids(self) -> list[str]:
        return [t for t in (self.creator_team_id, self.accepted_team_id) if t is not None]


class RosterEntry(Base):
    """A player on one side of a match, with their attendance answer."""

    __tablename__ = table_name("match_roster")
    __table_args__ = (UniqueConstraint("match_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("matches") + ".id", ondelete="CASCADE")
    )
    team_id: Mapped[str] = mapped_column(ForeignKey(table_name("teams") + ".id"))
    user_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"))
    attendance: Mapped[str | None] = mapped_column(String(16))  # ATTENDING|NOT_ATTENDING|TENTATIVE


class MapScore(Base):
    """One map's result: PENDING from a captain until confirmed, or CONFIRMED."""

    __tablename__ = table_name("match_map_scores")
    __table_args__ = (UniqueConstraint("match_id", "map_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("matches") + ".id", ondelete="CASCADE")
    )
    map_index: Mapped[int] = mapped_column(Integer)
    map_id: Mapped[str] = mapped_column(String(100))
    creator_team_score: Mapped[int] = mapped_column(Integer)
    opponent_team_score: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # PENDING | CONFIRMED
    submitted_by_team_id: Mapped[str | None] = mapped_column(
        ForeignKey(table_name("teams") + ".id")
    )
    submitted_by: Mapped[str] = mapped_column(String(64))  # a user id, or "game"
    confirmed_by: Mapped[str | None] = mapped_column(String(64))  # a user id, or "game"
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class ChatMessage(Base):
    __tablename__ = table_name("chat_messages")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    match_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("matches") + ".id", ondelete="CASCADE"), index=True
    )
    sender_user_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"))
    team_id: Mapped[str] = mapped_column(ForeignKey(table_name("teams") + ".id"))
    content: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChatReport(Base):
    """One report per (message, reporter), enforced by the database."""

    __tablename__ = table_name("chat_reports")
    __table_args__ = (UniqueConstraint("message_id", "reporter_user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("chat_messages") + ".id", ondelete="CASCADE")
    )
    reporter_user_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
