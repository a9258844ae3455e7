"""Library exports and imports (one table of transfers), and the mark on a person character brought from another
instance that keeps it 'only me' until its owner enrolls here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "library_transfers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("archive_key", sa.String(300), nullable=True),
        sa.Column("archive_bytes", sa.Integer(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("error_code", sa.String(100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=True),
        sa.Column("completed_at", sa.Float(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_library_transfers_user", "library_transfers", ["user_id", "direction", "created_at"])
    with op.batch_alter_table("characters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("needs_enrollment", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("characters", schema=None) as batch_op:
        batch_op.drop_column("needs_enrollment")
    op.drop_index("ix_library_transfers_user", table_name="library_transfers")
    op.drop_table("library_transfers")
