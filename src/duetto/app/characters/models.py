"""The characters feature's tables: characters, who may use them, their owners' rules, which videos show them,
notifications to owners, enrollment challenges and the append-only consent ledger."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from duetto.app.db.models import Base

KINDS = ("person", "toy")
# From narrowest to widest; each level also lets in everyone the narrower ones do (see service.may_use).
LEVELS = ("only_me", "approved", "mutuals", "everyone")


class Character(Base):
    """A likeness that prompts can name as @name: a person (enrolled in the browser) or a Toybox toy."""

    __tablename__ = "characters"
    __table_args__ = (Index("ix_characters_owner", "owner_id", "deleted_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # person | toy
    # Lowercase, written @name in prompts. Set to NULL when the character is deleted, which frees the name:
    # NULLs never collide under a unique constraint (SQLite and PostgreSQL alike).
    name: Mapped[str | None] = mapped_column(String(30), unique=True, nullable=True)
    display_name: Mapped[str] = mapped_column(String(60))
    permission: Mapped[str] = mapped_column(String(20), default="only_me")  # one of LEVELS
    # A toy's identity (head_colour, hat, eyes, pitch, timbre); None for a person.
    toy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    still_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    voice_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class CharacterApproval(Base):
    """The owner's word on one person: `approved` lets them in at the `approved` level and above,
    `revoked` keeps them out at every level, `everyone` included."""

    __tablename__ = "character_approvals"
    __table_args__ = (Index("ix_character_approvals_user", "user_id"),)

    character_id: Mapped[str] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))  # approved | revoked
    created_at: Mapped[float] = mapped_column(Float)


class CharacterRule(Base):
    """A rule in the owner's words ('no politics'), with the parsed form that prompts are checked against."""

    __tablename__ = "character_rules"
    __table_args__ = (Index("ix_character_rules_character", "character_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    character_id: Mapped[str] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(200))
    form: Mapped[str] = mapped_column(String(10))  # no | always | never
    # The stems a prompt is checked against: a list of phrases, each a list of stems.
    terms: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float)


class VideoCharacter(Base):
    """That a video shows a character; the owner's page lists every video, whoever made it."""

    __tablename__ = "video_characters"
    __table_args__ = (Index("ix_video_characters_character", "character_id"),)

    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    character_id: Mapped[str] = mapped_column(ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class CharacterNotification(Base):
    """An in-app notice to a character's owner (someone used it) or to a maker (the owner removed a video)."""

    __tablename__ = "character_notifications"
    __table_args__ = (Index("ix_character_notifications_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # used | removed | revoked
    character_id: Mapped[str | None] = mapped_column(
        ForeignKey("characters.id", ondelete="SET NULL"), nullable=True)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    read_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class BirthYear(Base):
    """A user's declared birth year, set once: people under 18 cannot open a character to everyone.

    Its own table rather than a column on accounts, so that API users, who may have no web account, can
    declare it too.
    """

    __tablename__ = "birth_years"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    declared_at: Mapped[float] = mapped_column(Float)


class EnrollmentChallenge(Base):
    """What a person must say and do on camera to enroll: random digits and a head turn, valid briefly."""

    __tablename__ = "enrollment_challenges"
    __table_args__ = (Index("ix_enrollment_challenges_user", "user_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    digits: Mapped[str] = mapped_column(String(6))
    turn: Mapped[str] = mapped_column(String(5))  # left | right
    issued_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    used_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class ConsentRecord(Base):
    """One entry of the consent ledger: who, when, which challenge (by hash), the result and why.

    Append-only: rows are never updated or deleted (mapper events below refuse both). `user_id` is a plain
    string, not a foreign key, so the record of what someone consented to outlives their account.
    """

    __tablename__ = "consent_ledger"
    __table_args__ = (Index("ix_consent_ledger_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(40))
    challenge_hash: Mapped[str] = mapped_column(String(128))
    result: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class LedgerIsAppendOnly(Exception):
    """Raised when code tries to change or remove a consent record."""


@event.listens_for(ConsentRecord, "before_update")
def _refuse_update(_mapper: object, _connection: object, target: ConsentRecord) -> None:
    raise LedgerIsAppendOnly(f"consent record {target.id} cannot be changed; append a new record instead")


@event.listens_for(ConsentRecord, "before_delete")
def _refuse_delete(_mapper: object, _connection: object, target: ConsentRecord) -> None:
    raise LedgerIsAppendOnly(f"consent record {target.id} cannot be deleted; the ledger is append-only")


__all__ = [
    "KINDS", "LEVELS", "BirthYear", "Character", "CharacterApproval", "CharacterNotification", "CharacterRule",
    "ConsentRecord", "EnrollmentChallenge", "LedgerIsAppendOnly", "VideoCharacter",
]
