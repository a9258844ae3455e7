"""The moderation tables: categories of terms with their action and reason, the terms, the audit of operator
edits (whose ids are the list versions) and the append-only log of every decision."""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from duetto.app.db.models import Base

ACTIONS = ("refuse", "flag")


class ModerationCategory(Base):
    """A named group of terms: what happens when one matches (refuse or flag) and what the user is told."""

    __tablename__ = "moderation_categories"

    slug: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))  # refuse | flag
    # Shown after "This prompt was refused: "; "{term}" is replaced by the matched term.
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class ModerationTerm(Base):
    """A word or phrase of a category, as the operator typed it."""

    __tablename__ = "moderation_terms"
    __table_args__ = (UniqueConstraint("category", "key", name="uq_moderation_terms_category_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(ForeignKey("moderation_categories.slug", ondelete="CASCADE"))
    term: Mapped[str] = mapped_column(String(200))
    # Case-folded with single spaces, so "Donald  Trump" and "donald trump" are one entry.
    key: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)


class ModerationChange(Base):
    """One operator edit of the lists; the newest id is the list version every decision records."""

    __tablename__ = "moderation_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(100))  # "cli:<os user>", a moderator's user id, or "defaults"
    action: Mapped[str] = mapped_column(String(40))  # seed | add | remove | category | drop-category
    category: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)


class ModerationDecision(Base):
    """One check of user text, allowed or not. Append-only: triggers in migration 0004 refuse updates and deletes."""

    __tablename__ = "moderation_decisions"
    __table_args__ = (
        Index("ix_moderation_decisions_created", "created_at"),
        Index("ix_moderation_decisions_user", "user_id", "id"),
        Index("ix_moderation_decisions_verdict", "verdict", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[float] = mapped_column(Float)
    # A plain id, not a foreign key: the log outlives the account it speaks of.
    user_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    surface: Mapped[str] = mapped_column(String(40))  # api_prompt | web_prompt | caption | comment | message
    text_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the full text
    excerpt: Mapped[str] = mapped_column(String(200))
    verdict: Mapped[str] = mapped_column(String(20))  # allowed | refused | flagged
    category: Mapped[str | None] = mapped_column(String(40), nullable=True)
    term: Mapped[str | None] = mapped_column(String(200), nullable=True)
    list_version: Mapped[int] = mapped_column(Integer)
