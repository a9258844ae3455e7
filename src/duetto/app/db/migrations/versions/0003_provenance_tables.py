"""Provenance and safety tables: fingerprints of generated clips and takedown requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 15:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clip_prints",
        sa.Column("video_id", sa.String(length=40), nullable=False),
        sa.Column("video_seq", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("video_id"),
    )
    with op.batch_alter_table("clip_prints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clip_prints_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_clip_prints_video_seq"), ["video_seq"], unique=False)
    op.create_table(
        "takedowns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket", sa.String(length=40), nullable=False),
        sa.Column("post_id", sa.String(length=40), nullable=False),
        sa.Column("video_id", sa.String(length=40), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        sa.Column("resolved_by", sa.String(length=40), nullable=True),
        sa.Column("removed_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ticket"),
    )
    with op.batch_alter_table("takedowns", schema=None) as batch_op:
        batch_op.create_index("ix_takedowns_status", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_takedowns_post", ["post_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("takedowns", schema=None) as batch_op:
        batch_op.drop_index("ix_takedowns_post")
        batch_op.drop_index("ix_takedowns_status")
    op.drop_table("takedowns")
    with op.batch_alter_table("clip_prints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clip_prints_video_seq"))
        batch_op.drop_index(batch_op.f("ix_clip_prints_user_id"))
    op.drop_table("clip_prints")
