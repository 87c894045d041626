"""Users, games, leagues, teams and API keys: who may act, and on what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from league_api.db import Base, table_name
from league_api.models.base import new_id, utcnow

league_games = Table(
    table_name("league_games"),
    Base.metadata,
    Column(
        "league_id", ForeignKey(table_name("leagues") + ".id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "game_id", ForeignKey(table_name("games") + ".id", ondelete="CASCADE"), primary_key=True
    ),
)

team_members = Table(
    table_name("team_members"),
    Base.metadata,
    Column(
        "team_id", ForeignKey(table_name("teams") + ".id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "user_id", ForeignKey(table_name("users") + ".id", ondelete="CASCADE"), primary_key=True
    ),
)


class User(Base):
    __tablename__ = table_name("users")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The host site's own id for this member (league_api.provisioning), unique when set.
    host_user_id: Mapped[str | None] = mapped_column(String(255), index=True, unique=True)


class Game(Base):
    __tablename__ = table_name("games")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class League(Base):
    __tablename__ = table_name("leagues")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    games: Mapped[list[Game]] = relationship(secondary=league_games)


class Team(Base):
    __tablename__ = table_name("teams")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    game_id: Mapped[str] = mapped_column(ForeignKey(table_name("games") + ".id"), index=True)
    captain_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"))
    members: Mapped[list[User]] = relationship(secondary=team_members)

    def member_ids(self) -> set[str]:
        return {member.id for member in self.members} | {self.captain_id}


class ApiKey(Base):
    """A key is stored only as its SHA-256; ``prefix`` lets an operator recognise it."""

    __tablename__ = table_name("api_keys")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # personal | game | league
    owner_id: Mapped[str] = mapped_column(ForeignKey(table_name("users") + ".id"))
    game_id: Mapped[str | None] = mapped_column(ForeignKey(table_name("games") + ".id"))
    league_id: Mapped[str | None] = mapped_column(ForeignKey(table_name("leagues") + ".id"))
    scopes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
