"""Wellbeing and family: each user's safety settings, teen controls and parent links, account notices, check-ins
and restrictions. Only new tables: existing accounts keep their data, and a missing row reads as the defaults.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _user(name: str, *, primary_key: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=primary_key,
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "safety_prefs",
        _user("user_id", primary_key=True),
        sa.Column("dm_policy", sa.String(20), nullable=False),
        sa.Column("stranger_dm_limit", sa.Integer(), nullable=False),
        sa.Column("comment_filter", sa.JSON(), nullable=False),
        sa.Column("hide_unfollowed_comments", sa.Boolean(), nullable=False),
        sa.Column("checkins", sa.Boolean(), nullable=False),
        sa.Column("checkin_offered_at", sa.Float(), nullable=True),
        sa.Column("break_until", sa.Float(), nullable=True),
    )
    op.create_table(
        "teen_controls",
        _user("user_id", primary_key=True),
        sa.Column("daily_limit_minutes", sa.Integer(), nullable=True),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(60), nullable=False),
        sa.Column("personalized", sa.Boolean(), nullable=False),
        sa.Column("dm_policy", sa.String(20), nullable=False),
        sa.Column("character_level", sa.String(20), nullable=False),
        sa.Column("discoverable", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(40), nullable=True),
    )
    op.create_table(
        "parent_links",
        _user("teen_id", primary_key=True),
        _user("parent_id"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("accepted_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_parent_links_parent", "parent_links", ["parent_id"])
    op.create_table(
        "account_notices",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _user("user_id"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_account_notices_user", "account_notices", ["user_id", "id"])
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _user("user_id"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_checkins_user", "checkins", ["user_id", "kind", "created_at"])
    op.create_table(
        "restrictions",
        _user("restricter_id", primary_key=True),
        _user("restricted_id", primary_key=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("restrictions")
    op.drop_index("ix_checkins_user", table_name="checkins")
    op.drop_table("checkins")
    op.drop_index("ix_account_notices_user", table_name="account_notices")
    op.drop_table("account_notices")
    op.drop_index("ix_parent_links_parent", table_name="parent_links")
    op.drop_table("parent_links")
    op.drop_table("teen_controls")
    op.drop_table("safety_prefs")
