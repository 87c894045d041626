"""Webhooks: subscriptions, the transactional outbox, and each delivery with its attempts.

An event row is written in the same transaction as the change it announces (the outbox); the
same transaction fans it out to one delivery per subscription that may see it, with the body
rendered for that subscription's key. A delivery's ``id`` is its stable ``webhook-id``, and its
``body`` the exact bytes every attempt sends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from league_api.db import Base, table_name
from league_api.models.base import new_id, utcnow

# Delivery states: pending (due at next_attempt_at), then one of the final three.
PENDING, SUCCEEDED, FAILED, CANCELLED = "pending", "succeeded", "failed", "cancelled"


class WebhookSubscription(Base):
    """An endpoint an API key subscribed; it sees what that key may read.

    Secrets are stored only encrypted (``league_api.webhooks.secrets``). After a rotation the
    previous secret keeps signing, beside the new one, until ``previous_secret_expires_at``.
    """

    __tablename__ = table_name("webhook_subscriptions")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    api_key_id: Mapped[str] = mapped_column(ForeignKey(table_name("api_keys") + ".id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(500))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set when the receiver answered 410 Gone: nothing more is sent.
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(String(100))


class WebhookEvent(Base):
    """The outbox: one row per committed change, whoever (if anyone) subscribed to it."""

    __tablename__ = table_name("webhook_events")

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # No index: nothing reads events by type, and every emitting write would also write its b-tree.
    type: Mapped[str] = mapped_column(String(64))
    # What the event is about (e.g. {"matchId": ...}): for operators and the tests.
    subject: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """One event for one subscription: its exact body, its schedule and its lease.

    A worker takes a delivery by committing ``lease_token + 1`` and ``lease_expires_at``
    before its HTTP call; it records the outcome only while the token is still its own.
    """

    __tablename__ = table_name("webhook_deliveries")
    __table_args__ = (
        Index(f"ix_{table_name('webhook_deliveries')}_due", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("webhook_events") + ".id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("webhook_subscriptions") + ".id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempt_count: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_token: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def webhook_id(self) -> str:
        return "msg_" + self.id


class WebhookAttempt(Base):
    """One HTTP attempt: written (started) with the lease, finished under the same token."""

    __tablename__ = table_name("webhook_attempts")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey(table_name("webhook_deliveries") + ".id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    lease_token: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # A short reason, never a secret: "timeout", "connection_error", "http_500", ...
    error: Mapped[str | None] = mapped_column(String(200))
