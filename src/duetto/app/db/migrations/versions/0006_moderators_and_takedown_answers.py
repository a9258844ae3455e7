"""Moderators as a role on accounts (given by `duetto users create NAME --moderator`), and a takedown's
creator side: when they last looked at the case and their one answer to it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 1. The moderator role, off for every existing account (DUETTO_ADMIN_HANDLES still names moderators too).
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("is_moderator", sa.Boolean(), nullable=False, server_default=sa.false()))
    # 2. The creator's answer to a takedown request, and when they last saw its state (for their notice).
    with op.batch_alter_table("takedowns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("creator_answer", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("creator_answered_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("creator_seen_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("takedowns", schema=None) as batch_op:
        batch_op.drop_column("creator_seen_at")
        batch_op.drop_column("creator_answered_at")
        batch_op.drop_column("creator_answer")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("is_moderator")
