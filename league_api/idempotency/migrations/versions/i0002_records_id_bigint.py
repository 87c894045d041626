"""PostgreSQL: the record id becomes 64-bit, column and sequence (its claim draws an id per try).

SQLite's rowid is already 64-bit: nothing to do there.

Revision ID: i0002
Revises: i0001
Create Date: 2026-11-30
"""

from alembic import op

revision = "i0002"
down_revision = "i0001"
branch_labels = None
depends_on = None


def _retype(to: str) -> None:
    if op.get_context().dialect.name != "postgresql":
        return
    table = op.get_context().opts["table_prefix"] + "idempotency_records"
    op.execute(f'ALTER TABLE "{table}" ALTER COLUMN id TYPE {to}')
    op.execute(f'ALTER SEQUENCE "{table}_id_seq" AS {to}')


def upgrade() -> None:
    _retype("bigint")


def downgrade() -> None:
    _retype("integer")
