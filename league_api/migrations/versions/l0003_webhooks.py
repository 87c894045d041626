"""0.2.0: webhooks: subscriptions, the outbox, deliveries and their attempts.

Revision ID: l0003
Revises: l0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "l0003"
down_revision = "l0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    p = op.get_context().opts["table_prefix"]
    op.create_table(
        p + "webhook_subscriptions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("previous_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_reason", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["api_key_id"], [p + "api_keys.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        f"ix_{p}webhook_subscriptions_api_key_id",
        p + "webhook_subscriptions",
        ["api_key_id"],
        unique=False,
    )
    op.create_table(
        p + "webhook_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(f"ix_{p}webhook_events_type", p + "webhook_events", ["type"], unique=False)
    op.create_table(
        p + "webhook_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.String(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_token", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], [p + "webhook_events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["subscription_id"], [p + "webhook_subscriptions.id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        f"ix_{p}webhook_deliveries_due",
        p + "webhook_deliveries",
        ["status", "next_attempt_at"],
        unique=False,
    )
    op.create_index(
        f"ix_{p}webhook_deliveries_event_id", p + "webhook_deliveries", ["event_id"], unique=False
    )
    op.create_index(
        f"ix_{p}webhook_deliveries_subscription_id",
        p + "webhook_deliveries",
        ["subscription_id"],
        unique=False,
    )
    op.create_table(
        p + "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("lease_token", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], [p + "webhook_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        f"ix_{p}webhook_attempts_delivery_id", p + "webhook_attempts", ["delivery_id"], unique=False
    )


def downgrade() -> None:
    p = op.get_context().opts["table_prefix"]
    for table in ("webhook_attempts", "webhook_deliveries", "webhook_events"):
        op.drop_table(p + table)
    op.drop_table(p + "webhook_subscriptions")
