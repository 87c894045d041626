"""0.2.0: the webhook outbox loses its unused index on ``type``.

Revision ID: l0004
Revises: l0003
Create Date: 2026-11-30
"""

from alembic import op

revision = "l0004"
down_revision = "l0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    p = op.get_context().opts["table_prefix"]
    op.drop_index(f"ix_{p}webhook_events_type", table_name=p + "webhook_events")


def downgrade() -> None:
    p = op.get_context().opts["table_prefix"]
    op.create_index(f"ix_{p}webhook_events_type", p + "webhook_events", ["type"], unique=False)
