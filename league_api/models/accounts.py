"""Users, games, leagues, teams and API keys: who may act, and on what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from league_api.db import db
from league_api.models.base import new_id, utcnow

league_games = Table(
    "league_games",
    db.metadata,
    Column("league_id", ForeignKey("leagues.id", ondelete="CASCADE"), primary_key=True),
    Column("game_id", ForeignKey("games.id", ondelete="CASCADE"), primary_key=True),
)

team_members = Table(
    "team_members",
    db.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Game(db.Model):
    __tablename__ = "games"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class League(db.Model):
    __tablename__ = "leagues"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    games: Mapped[list[Game]] = relationship(secondary=league_games)


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    game_id: Mapped[str] = mapped_column(ForeignKey("games.id"), index=True)
    captain_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    members: Mapped[list[User]] = relationship(secondary=team_members)

    def member_ids(self) -> set[str]:
        return {member.id for member in self.members} | {self.captain_id}


class ApiKey(db.Model):
    """A key is stored only as its SHA-256; ``prefix`` lets an operator recognise it."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # personal | game | league
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    game_id: Mapped[str | None] = mapped_column(ForeignKey("games.id"))
    league_id: Mapped[str | None] = mapped_column(ForeignKey("leagues.id"))
    scopes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
