"""Moderation tables: operator-edited categories and terms, the audit of their edits, and the decision log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00.000000
"""

from __future__ import annotations

import json
import time
from importlib import resources

import sqlalchemy as sa
from alembic import op

from duetto.app.moderation.matching import term_key

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The decision log is evidence: the database itself refuses to rewrite or delete it.
_SQLITE_GUARDS = [
    "CREATE TRIGGER moderation_decisions_no_update BEFORE UPDATE ON moderation_decisions "
    "BEGIN SELECT RAISE(ABORT, 'moderation_decisions is append-only'); END",
    "CREATE TRIGGER moderation_decisions_no_delete BEFORE DELETE ON moderation_decisions "
    "BEGIN SELECT RAISE(ABORT, 'moderation_decisions is append-only'); END",
]
_POSTGRES_GUARDS = [
    "CREATE FUNCTION moderation_decisions_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'moderation_decisions is append-only'; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER moderation_decisions_append_only BEFORE UPDATE OR DELETE ON moderation_decisions "
    "FOR EACH ROW EXECUTE FUNCTION moderation_decisions_append_only()",
]


def upgrade() -> None:
    # 1. Categories of terms, each with its action and reason.
    categories = op.create_table(
        "moderation_categories",
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("slug"),
    )
    # 2. The terms of each category.
    terms = op.create_table(
        "moderation_terms",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["category"], ["moderation_categories.slug"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("category", "key", name="uq_moderation_terms_category_key"),
    )
    # 3. The audit of operator edits (their ids are the list versions).
    changes = op.create_table(
        "moderation_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # 4. The log of every decision, with its indexes.
    op.create_table(
        "moderation_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("surface", sa.String(length=40), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("excerpt", sa.String(length=200), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("term", sa.String(length=200), nullable=True),
        sa.Column("list_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_moderation_decisions_created", "moderation_decisions", ["created_at"], unique=False)
    op.create_index("ix_moderation_decisions_user", "moderation_decisions", ["user_id", "id"], unique=False)
    op.create_index(
        "ix_moderation_decisions_verdict", "moderation_decisions", ["verdict", "id"], unique=False
    )

    # 5. The guards that keep the log append-only, in the database's own dialect.
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRES_GUARDS}.get(dialect, []):
        op.execute(statement)

    # 6. The shipped lists. A new instance starts with the shipped lists; later edits are the operator's and are never overwritten.
    defaults = json.loads(
        (resources.files("duetto.app.moderation") / "defaults.json").read_text(encoding="utf-8")
    )
    now = time.time()
    op.bulk_insert(
        categories,
        [
            {
                "slug": c["slug"],
                "label": c["label"],
                "action": c["action"],
                "reason": c["reason"],
                "created_at": now,
                "updated_at": now,
            }
            for c in defaults["categories"]
        ],
    )
    op.bulk_insert(
        terms,
        [
            {
                "category": c["slug"],
                "term": " ".join(t.split()),
                "key": term_key(t),
                "added_by": "defaults",
                "created_at": now,
            }
            for c in defaults["categories"]
            for t in c["terms"]
        ],
    )
    op.bulk_insert(
        changes,
        [
            {
                "at": now,
                "actor": "defaults",
                "action": "seed",
                "category": "",
                "detail": "the shipped default lists",
            }
        ],
    )


def downgrade() -> None:
    # Dropping the table takes its indexes and triggers with it.
    op.drop_table("moderation_decisions")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS moderation_decisions_append_only()")
    op.drop_table("moderation_changes")
    op.drop_table("moderation_terms")
    op.drop_table("moderation_categories")
