"""The shipped public-figure list (moderation/public_figures.txt, names from public lists it cites): heads of
state and government and others a prompt may not show, with surnames that name one person ("Biden").

Migration 0004 seeded only thirty full names, so "president Biden gives a speech" passed. This adds every
listed name an instance lacks, but never one its operator removed, nor a category its operator deleted:
after this the list is the operator's, edited with `duetto moderation` or /mod/moderation as before.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

import time
from importlib import resources

import sqlalchemy as sa
from alembic import op

from duetto.app.moderation.matching import term_key

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CATEGORY = "public_figures"
ADDED_BY = "defaults:0007"  # tells this migration's names apart, for the downgrade

_categories = sa.table("moderation_categories", sa.column("slug", sa.String))
_terms = sa.table("moderation_terms", sa.column("id", sa.Integer), sa.column("category", sa.String),
                  sa.column("term", sa.String), sa.column("key", sa.String), sa.column("added_by", sa.String),
                  sa.column("created_at", sa.Float))
_changes = sa.table("moderation_changes", sa.column("id", sa.Integer), sa.column("at", sa.Float),
                    sa.column("actor", sa.String), sa.column("action", sa.String), sa.column("category", sa.String),
                    sa.column("detail", sa.Text))


def shipped_names() -> list[str]:
    """The names of public_figures.txt, in order, without its comments and blank lines."""
    text = (resources.files("duetto.app.moderation") / "public_figures.txt").read_text(encoding="utf-8")
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def upgrade() -> None:
    bind = op.get_bind()
    # 1. An operator who deleted the category chose to have none; nothing is added back.
    if bind.execute(sa.select(_categories.c.slug).where(_categories.c.slug == CATEGORY)).first() is None:
        return
    # 2. Names listed already (in any spelling with the same key), and names an operator removed.
    listed = set(bind.execute(sa.select(_terms.c.key).where(_terms.c.category == CATEGORY)).scalars())
    removals = bind.execute(sa.select(_changes.c.detail).where(
        _changes.c.category == CATEGORY, _changes.c.action == "remove")).scalars()
    removed = {term_key(term) for detail in removals for term in detail.split("; ")}
    # 3. The rest are added, with one entry in the audit of edits (its id is the new list version).
    now = time.time()
    new: dict[str, str] = {}
    for name in shipped_names():
        key = term_key(name)
        if key and key not in listed and key not in removed:
            new.setdefault(key, name)
    if not new:
        return
    op.bulk_insert(_terms, [{"category": CATEGORY, "term": name, "key": key, "added_by": ADDED_BY,
                             "created_at": now} for key, name in new.items()])
    op.bulk_insert(_changes, [{"at": now, "actor": "defaults", "action": "seed", "category": CATEGORY,
                               "detail": f"{len(new)} names of the shipped public-figure list (public_figures.txt)"}])


def downgrade() -> None:
    op.execute(_terms.delete().where(_terms.c.category == CATEGORY, _terms.c.added_by == ADDED_BY))
    op.execute(_changes.delete().where(_changes.c.category == CATEGORY, _changes.c.action == "seed",
                                       _changes.c.actor == "defaults"))
