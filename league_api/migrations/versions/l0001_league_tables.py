"""The league tables of 0.1.0, exactly as its create_all made them.

A 0.1.0 database (no version table) whose schema equals this is stamped here instead
(league_api.idempotency.migrating.legacy_revisions).

Revision ID: l0001
Revises:
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import CreateSequence, DropSequence

revision = "l0001"
down_revision = None
branch_labels = ("league",)
depends_on = None

TABLES = (
    "games",
    "leagues",
    "users",
    "api_keys",
    "league_games",
    "league_tickets",
    "seasons",
    "support_tickets",
    "teams",
    "league_ticket_messages",
    "matches",
    "support_ticket_messages",
    "team_members",
    "chat_messages",
    "match_map_scores",
    "match_roster",
    "chat_reports",
)


def upgrade() -> None:
    p = op.get_context().opts["table_prefix"]
    if op.get_context().dialect.name == "postgresql":
        # Support ticket numbers (SQLite takes MAX + 1 under its write lock instead).
        op.execute(CreateSequence(sa.Sequence(p + "support_ticket_number_seq")))
    op.create_table(
        p + "games",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        p + "leagues",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        p + "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        p + "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("game_id", sa.String(length=32), nullable=True),
        sa.Column("league_id", sa.String(length=32), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["game_id"],
            [p + "games.id"],
        ),
        sa.ForeignKeyConstraint(
            ["league_id"],
            [p + "leagues.id"],
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            [p + "users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        p + "league_games",
        sa.Column("league_id", sa.String(length=32), nullable=False),
        sa.Column("game_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["game_id"], [p + "games.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["league_id"], [p + "leagues.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("league_id", "game_id"),
    )
    op.create_table(
        p + "league_tickets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("league_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            [p + "users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["league_id"],
            [p + "leagues.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        f"ix_{p}league_tickets_league_id", p + "league_tickets", ["league_id"], unique=False
    )
    op.create_table(
        p + "seasons",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("league_id", sa.String(length=32), nullable=False),
        sa.Column("game_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["game_id"],
            [p + "games.id"],
        ),
        sa.ForeignKeyConstraint(
            ["league_id"],
            [p + "leagues.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(f"ix_{p}seasons_league_id", p + "seasons", ["league_id"], unique=False)
    op.create_index(
        p + "uq_seasons_one_active_per_league_game",
        p + "seasons",
        ["league_id", "game_id"],
        unique=True,
        sqlite_where=sa.text("status = 'ACTIVE'"),
        postgresql_where=sa.text("status = 'ACTIVE'"),
    )
    op.create_table(
        p + "support_tickets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ticket_number", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=150), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            [p + "users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket_number"),
    )
    op.create_index(
        f"ix_{p}support_tickets_owner_id", p + "support_tickets", ["owner_id"], unique=False
    )
    op.create_table(
        p + "teams",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("game_id", sa.String(length=32), nullable=False),
        sa.Column("captain_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["captain_id"],
            [p + "users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["game_id"],
            [p + "games.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(f"ix_{p}teams_game_id", p + "teams", ["game_id"], unique=False)
    op.create_table(
        p + "league_ticket_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("is_internal", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            [p + "users.id"],
        ),
        sa.ForeignKeyConstraint(["ticket_id"], [p + "league_tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        f"ix_{p}league_ticket_messages_ticket_id",
        p + "league_ticket_messages",
        ["ticket_id"],
        unique=False,
    )
    op.create_table(
        p + "matches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("game_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("creator_team_id", sa.String(length=32), nullable=False),
        sa.Column("accepted_team_id", sa.String(length=32), nullable=True),
        sa.Column("challenged_team_id", sa.String(length=32), nullable=True),
        sa.Column("created_by_game", sa.Boolean(), nullable=False),
        sa.Column("game_mode_id", sa.String(length=100), nullable=False),
        sa.Column("team_size", sa.Integer(), nullable=False),
        sa.Column("best_of", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("platform", sa.String(length=100), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("selected_maps", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("lobby_code", sa.String(length=50), nullable=True),
        sa.Column("creator_ready", sa.Boolean(), nullable=False),
        sa.Column("accepted_ready", sa.Boolean(), nullable=False),
        sa.Column("winner_team_id", sa.String(length=32), nullable=True),
        sa.Column("forfeited_by_team_id", sa.String(length=32), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["accepted_team_id"],
            [p + "teams.id"],
        ),
        sa.ForeignKeyConstraint(
            ["challenged_team_id"],
            [p + "teams.id"],
        ),
        sa.ForeignKeyConstraint(
            ["creator_team_id"],
            [p + "teams.id"],
        ),
        sa.ForeignKeyConstraint(
            ["forfeited_by_team_id"],
            [p + "teams.id"],
        ),
        sa.ForeignKeyConstraint(
            ["game_id"],
            [p + "games.id"],
        ),
        sa.ForeignKeyConstraint(
            ["winner_team_id"],
            [p + "teams.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        f"ix_{p}matches_accepted_team_id", p + "matches", ["accepted_team_id"], unique=False
    )
    op.create_index(
        f"ix_{p}matches_creator_team_id", p + "matches", ["creator_team_id"], unique=False
    )
    op.create_index(f"ix_{p}matches_game_id", p + "matches", ["game_id"], unique=False)
    op.create_index(f"ix_{p}matches_status", p + "matches", ["status"], unique=False)
    op.create_table(
        p + "support_ticket_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            [p + "users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            [p + "support_tickets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        f"ix_{p}support_ticket_messages_ticket_id",
        p + "support_ticket_messages",
        ["ticket_id"],
        unique=False,
    )
    op.create_table(
        p + "team_members",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], [p + "teams.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], [p + "users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )
    op.create_table(
        p + "chat_messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("match_id", sa.String(length=32), nullable=False),
        sa.Column("sender_user_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("content", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["match_id"], [p + "matches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["sender_user_id"],
            [p + "users.id"],
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            [p + "teams.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        f"ix_{p}chat_messages_match_id", p + "chat_messages", ["match_id"], unique=False
    )
    op.create_table(
        p + "match_map_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.String(length=32), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("map_id", sa.String(length=100), nullable=False),
        sa.Column("creator_team_score", sa.Integer(), nullable=False),
        sa.Column("opponent_team_score", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_by_team_id", sa.String(length=32), nullable=True),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("confirmed_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["match_id"], [p + "matches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["submitted_by_team_id"],
            [p + "teams.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_id", "map_index"),
    )
    op.create_table(
        p + "match_roster",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("attendance", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["match_id"], [p + "matches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["team_id"],
            [p + "teams.id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            [p + "users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("match_id", "user_id"),
    )
    op.create_table(
        p + "chat_reports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("reporter_user_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], [p + "chat_messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["reporter_user_id"],
            [p + "users.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "reporter_user_id"),
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    p = op.get_context().opts["table_prefix"]
    for table in reversed(TABLES):
        op.drop_table(p + table)
    if op.get_context().dialect.name == "postgresql":
        op.execute(DropSequence(sa.Sequence(p + "support_ticket_number_seq")))
