"""Stories: storyboards and their shots. Only new tables; shots and stitched stories are ordinary videos.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 22:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "storyboards",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("size", sa.String(20), nullable=False),
        sa.Column("making", sa.Boolean(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("video_id", sa.String(40), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_storyboards_user", "storyboards", ["user_id", "created_at"])
    op.create_table(
        "story_shots",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("storyboard_id", sa.String(40), sa.ForeignKey("storyboards.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("characters", sa.JSON(), nullable=False),
        sa.Column("image_key", sa.String(300), nullable=True),
        sa.Column("video_id", sa.String(40), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_story_shots_story", "story_shots", ["storyboard_id", "position"])


def downgrade() -> None:
    op.drop_index("ix_story_shots_story", table_name="story_shots")
    op.drop_table("story_shots")
    op.drop_index("ix_storyboards_user", table_name="storyboards")
    op.drop_table("storyboards")
