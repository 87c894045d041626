"""0.2.0: a league user may carry the host site's own user id (unique when set).

Also the point where league_api's branch and the idempotency layer's meet: one head.
A new idempotency revision later needs a merge revision here again (a test checks one head).

Revision ID: l0002
Revises: l0001, i0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "l0002"
down_revision = ("l0001", "i0002")
branch_labels = None
depends_on = None


def upgrade() -> None:
    p = op.get_context().opts["table_prefix"]
    # ADD COLUMN and CREATE INDEX need no table rebuild on SQLite.
    op.add_column(p + "users", sa.Column("host_user_id", sa.String(length=255), nullable=True))
    op.create_index(f"ix_{p}users_host_user_id", p + "users", ["host_user_id"], unique=True)


def downgrade() -> None:
    p = op.get_context().opts["table_prefix"]
    op.drop_index(f"ix_{p}users_host_user_id", table_name=p + "users")
    with op.batch_alter_table(p + "users") as batch:
        batch.drop_column("host_user_id")
