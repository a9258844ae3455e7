"""Characters tables: characters, approvals, owners' rules, video↔character links, notifications, birth years,
enrollment challenges and the append-only consent ledger.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The consent ledger is evidence of what people agreed to: the database itself refuses to rewrite it.
_SQLITE_GUARDS = [
    "CREATE TRIGGER consent_ledger_no_update BEFORE UPDATE ON consent_ledger "
    "BEGIN SELECT RAISE(ABORT, 'consent_ledger is append-only'); END",
    "CREATE TRIGGER consent_ledger_no_delete BEFORE DELETE ON consent_ledger "
    "BEGIN SELECT RAISE(ABORT, 'consent_ledger is append-only'); END",
]
_POSTGRES_GUARDS = [
    "CREATE FUNCTION consent_ledger_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'consent_ledger is append-only'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER consent_ledger_append_only BEFORE UPDATE OR DELETE ON consent_ledger "
    "FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only()",
]


def upgrade() -> None:
    # 1. Characters, with the index of an owner's characters.
    op.create_table(
        "characters",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=True),
        sa.Column("display_name", sa.String(length=60), nullable=False),
        sa.Column("permission", sa.String(length=20), nullable=False),
        sa.Column("toy", sa.JSON(), nullable=True),
        sa.Column("still_key", sa.String(length=300), nullable=True),
        sa.Column("voice_key", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("deleted_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_index("ix_characters_owner", "characters", ["owner_id", "deleted_at"], unique=False)
    # 2. Who the owner approved or revoked.
    op.create_table(
        "character_approvals",
        sa.Column("character_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["character_id"], ["characters.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("character_id", "user_id"),
    )
    op.create_index("ix_character_approvals_user", "character_approvals", ["user_id"], unique=False)
    # 3. The owners' rules, parsed.
    op.create_table(
        "character_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("character_id", sa.String(length=40), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("form", sa.String(length=10), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["character_id"], ["characters.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_character_rules_character", "character_rules", ["character_id", "id"], unique=False)
    # 4. Which videos show which characters.
    op.create_table(
        "video_characters",
        sa.Column("video_id", sa.String(length=40), nullable=False),
        sa.Column("character_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["character_id"], ["characters.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["video_id"], ["videos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("video_id", "character_id"),
    )
    op.create_index("ix_video_characters_character", "video_characters", ["character_id"], unique=False)
    # 5. Notices to owners and makers.
    op.create_table(
        "character_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("character_id", sa.String(length=40), nullable=True),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("video_id", sa.String(length=40), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("read_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["character_id"], ["characters.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_character_notifications_user", "character_notifications", ["user_id", "id"], unique=False)
    # 6. Owners' declared birth years.
    op.create_table(
        "birth_years",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("declared_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    # 7. Enrollment challenges.
    op.create_table(
        "enrollment_challenges",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("digits", sa.String(length=6), nullable=False),
        sa.Column("turn", sa.String(length=5), nullable=False),
        sa.Column("issued_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.Column("used_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_enrollment_challenges_user", "enrollment_challenges", ["user_id"], unique=False)
    # 8. The consent ledger.
    op.create_table(
        "consent_ledger",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("challenge_hash", sa.String(length=128), nullable=False),
        sa.Column("result", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_ledger_user", "consent_ledger", ["user_id", "id"], unique=False)

    # 9. The guards that keep the log append-only, in the database's own dialect.
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRES_GUARDS}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    # Dropping a table takes its indexes and triggers with it.
    op.drop_table("consent_ledger")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS consent_ledger_append_only()")
    op.drop_table("enrollment_challenges")
    op.drop_table("birth_years")
    op.drop_table("character_notifications")
    op.drop_table("video_characters")
    op.drop_table("character_rules")
    op.drop_table("character_approvals")
    op.drop_table("characters")
