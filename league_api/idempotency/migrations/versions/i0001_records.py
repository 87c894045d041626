"""The idempotency record table, as 0.1.0 first made it (id INTEGER).

Revision ID: i0001
Revises:
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "i0001"
down_revision = None
branch_labels = ("idempotency",)
depends_on = None


def upgrade() -> None:
    prefix = op.get_context().opts["table_prefix"]
    table = prefix + "idempotency_records"
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope_hash", sa.String(length=64), nullable=False),
        sa.Column("caller", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("headers", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope_hash"),
    )
    op.create_index(f"ix_{table}_expires_at", table, ["expires_at"], unique=False)


def downgrade() -> None:
    prefix = op.get_context().opts["table_prefix"]
    op.drop_table(prefix + "idempotency_records")
