"""Every table of the studio, one section per domain (users, videos, social, feed, moderation, provenance,
characters): Alembic's migrations describe exactly these, and a domain may read another's rows without
importing its code."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Credits per UTC day; None means the server's default.
    daily_quota: Mapped[float | None] = mapped_column(Float, nullable=True)
    webhook_secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[float] = mapped_column(Float)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Only a hash is kept: a leaked database does not leak working keys.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Video(Base):
    """One generation job and, once it completes, its video."""

    __tablename__ = "videos"
    __table_args__ = (Index("ix_videos_user_seq", "user_id", "seq"), Index("ix_videos_status", "status"))

    # seq orders pages and breaks ties between videos created in the same second.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="create")  # create | remix | extend | edit
    model: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    prompt: Mapped[str] = mapped_column(Text)
    size: Mapped[str] = mapped_column(String(20))
    seconds: Mapped[str] = mapped_column(String(20))
    # The length to generate; differs from `seconds` for extensions, whose `seconds` is the stitched total.
    generate_seconds: Mapped[float] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    remixed_from_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    input_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    cost: Mapped[float] = mapped_column(Float, default=0.0)

    error_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    webhook_status: Mapped[str | None] = mapped_column(String(100), nullable=True)

    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    video_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[float] = mapped_column(Float)


# --- The social app (web pages): accounts, posts, the social graph, engagement, messages, moderation ----


class Account(Base):
    """The web identity of a user: a handle, a profile and a password (API users may have none)."""

    __tablename__ = "accounts"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    handle: Mapped[str] = mapped_column(String(30), unique=True)  # lowercase, shown as @handle
    display_name: Mapped[str] = mapped_column(String(60))
    bio: Mapped[str] = mapped_column(Text, default="")
    avatar_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[float] = mapped_column(Float)
    # Moderators open /mod; the operator gives the role (`duetto users create NAME --moderator`), and the
    # handles in DUETTO_ADMIN_HANDLES have it as well.
    is_moderator: Mapped[bool] = mapped_column(default=False, server_default=false())


class WebSession(Base):
    """A signed-in browser; the cookie holds a random token and only its hash is kept here."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class Post(Base):
    """A draft (video) made public with a caption, with its remix lineage and precomputed ranking inputs."""

    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_hot", "hot"),
        Index("ix_posts_user_seq", "user_id", "seq"),
        Index("ix_posts_parent", "parent_post_id"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    video_id: Mapped[str] = mapped_column(ForeignKey("videos.id", ondelete="CASCADE"), unique=True)
    caption: Mapped[str] = mapped_column(Text, default="")
    # Lineage is kept as plain ids so it survives the parent being unposted.
    parent_post_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    root_post_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    remix_count: Mapped[int] = mapped_column(Integer, default=0)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    completion_count: Mapped[int] = mapped_column(Integer, default=0)
    # ln(1 + engagement) + created_at / decay: ordering by it is ordering by engagement with recency decay.
    hot: Mapped[float] = mapped_column(Float, default=0.0)
    # Normalised words of the prompt and caption, space-separated: the features steering works on.
    terms: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[float] = mapped_column(Float)


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (Index("ix_follows_followee", "followee_id"),)

    follower_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    followee_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class Block(Base):
    __tablename__ = "blocks"
    __table_args__ = (Index("ix_blocks_blocked", "blocked_id"),)

    blocker_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    blocked_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class Like(Base):
    __tablename__ = "likes"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    post_seq: Mapped[int] = mapped_column(ForeignKey("posts.seq", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_post", "post_seq", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_seq: Mapped[int] = mapped_column(ForeignKey("posts.seq", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


class View(Base):
    """That a viewer watched a post, and whether to the end; feeds demote what was already seen."""

    __tablename__ = "views"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    post_seq: Mapped[int] = mapped_column(ForeignKey("posts.seq", ondelete="CASCADE"), primary_key=True)
    completed: Mapped[bool] = mapped_column(default=False)
    less: Mapped[bool] = mapped_column(default=False)  # "see less like this"
    seen_at: Mapped[float] = mapped_column(Float)


class WatchTime(Base):
    """Seconds of feed watched per viewer and UTC day, for the daily time limit."""

    __tablename__ = "watch_time"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


class FeedPrefs(Base):
    """A viewer's feed settings: their steering phrase (and its parsed weights), what they asked to see
    less of, a daily time limit and whether the feed is personalised at all."""

    __tablename__ = "feed_prefs"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    steering: Mapped[str] = mapped_column(Text, default="")
    steering_weights: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    less_terms: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    less_creators: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    daily_limit_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    personalized: Mapped[bool] = mapped_column(default=True)


def conversation_key(a: str, b: str) -> str:
    """`Message.pair_key` of the conversation between two users: their ids sorted and joined."""
    return "|".join(sorted((a, b)))


class Message(Base):
    """A direct message: text, a shared post, or both."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_pair", "pair_key", "id"), Index("ix_messages_recipient", "recipient_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The two user ids sorted and joined: one index serves a whole conversation.
    pair_key: Mapped[str] = mapped_column(String(90))
    sender_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text, default="")
    post_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    read_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Report(Base):
    """A report of a post, comment or user, waiting in (or resolved from) the moderators' queue."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    target_kind: Mapped[str] = mapped_column(String(20))  # post | comment | user
    target_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | removed | dismissed
    created_at: Mapped[float] = mapped_column(Float)
    resolved_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)


# --- Provenance and safety: fingerprints of generated clips, and takedown requests -------------------------


class ClipPrint(Base):
    """The fingerprint of a clip this instance generated, for reverse search and takedowns of copies."""

    __tablename__ = "clip_prints"

    video_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    video_seq: Mapped[int] = mapped_column(Integer, index=True)  # the id the invisible marks carry
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)  # Fingerprint.to_bytes()
    created_at: Mapped[float] = mapped_column(Float)


class Takedown(Base):
    """A public request to remove a post as non-consensual intimate or unlawful content."""

    __tablename__ = "takedowns"
    __table_args__ = (Index("ix_takedowns_status", "status", "due_at"), Index("ix_takedowns_post", "post_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The reporter's only handle on the request: unguessable, shown once, looked up on the status page.
    ticket: Mapped[str] = mapped_column(String(40), unique=True)
    post_id: Mapped[str] = mapped_column(String(40))
    video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    category: Mapped[str] = mapped_column(String(20))  # ncii | unlawful
    details: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | removed | dismissed
    created_at: Mapped[float] = mapped_column(Float)
    due_at: Mapped[float] = mapped_column(Float)  # the review deadline (48 hours after the request)
    resolved_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    removed_count: Mapped[int] = mapped_column(Integer, default=0)  # clips deleted, matching copies included
    # The creator's side, kept on the case's first request: their one answer, shown to moderators beside the
    # request, and when they last looked at the case (what is newer is their unread notice).
    creator_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    creator_answered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    creator_seen_at: Mapped[float | None] = mapped_column(Float, nullable=True)


# --- Moderation: the operator's lists and the log of every decision ----------------------------------------

MODERATION_ACTIONS = ("refuse", "flag")


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


# --- Characters: likenesses, who may use them, rules, appearances, notices, enrollment and consent ------------

CHARACTER_KINDS = ("person", "toy")
# From narrowest to widest; each level also lets in everyone the narrower ones do (see service.may_use).
CHARACTER_LEVELS = ("only_me", "approved", "mutuals", "everyone")


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
    permission: Mapped[str] = mapped_column(String(20), default="only_me")  # one of CHARACTER_LEVELS
    # A toy's identity (head_colour, hat, eyes, pitch, timbre); None for a person.
    toy: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    still_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    voice_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    deleted_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # A person character brought from another instance: liveness cannot travel, so it stays 'only me' until
    # its owner enrolls here (which clears this).
    needs_enrollment: Mapped[bool] = mapped_column(default=False, server_default=false())


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



# --- Library transfers: a user's whole library leaving as one archive, or arriving from another instance ------


class LibraryTransfer(Base):
    """An export of one user's library to an archive, or an import of one: a background job with progress."""

    __tablename__ = "library_transfers"
    __table_args__ = (Index("ix_library_transfers_user", "user_id", "direction", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))  # export | import
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | in_progress | completed | failed
    progress: Mapped[int] = mapped_column(Integer, default=0)
    # export: the archive made; import: the archive uploaded (removed once imported or refused).
    archive_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    archive_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # export: {"instance": ...}; import: {"posts": "drafts" | "posted"}
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What was written: counts per kind, and what was kept only as a reference.
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    # Written as the job goes; a job in progress whose heartbeat stopped lost its server and is failed.
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    completed_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # when an export's archive is removed


# --- Wellbeing: teen controls and parental links, check-ins, and protection from bullying ---------------------

DM_POLICIES = ("everyone", "following", "mutuals", "nobody")  # from widest to narrowest


class SafetyPrefs(Base):
    """What a user decided for themselves: who may message them, which comments on their posts are hidden,
    and whether they are asked how Duetto makes them feel. No row means the defaults."""

    __tablename__ = "safety_prefs"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    dm_policy: Mapped[str] = mapped_column(String(20), default="everyone")  # one of DM_POLICIES
    # Messages someone the user does not follow may send before the user answers.
    stranger_dm_limit: Mapped[int] = mapped_column(Integer, default=3)
    # Words and phrases as typed; a comment on the user's posts containing one is seen only by its author.
    comment_filter: Mapped[list[str]] = mapped_column(JSON, default=list)
    hide_unfollowed_comments: Mapped[bool] = mapped_column(default=False)
    checkins: Mapped[bool] = mapped_column(default=True)
    # When a check-in was last offered (answered or waved away): the next waits a week.
    checkin_offered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # A break the user took after a low check-in: the feed rests until then, unless they come back early.
    break_until: Mapped[float | None] = mapped_column(Float, nullable=True)


class TeenControls(Base):
    """The limits on a teen account that only a linked parent can loosen. No row means the teen defaults."""

    __tablename__ = "teen_controls"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    daily_limit_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Quiet hours, as whole hours of the day in `timezone`; the feed rests from start until end.
    quiet_start: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quiet_end: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
    personalized: Mapped[bool] = mapped_column(default=False)
    dm_policy: Mapped[str] = mapped_column(String(20), default="following")
    character_level: Mapped[str] = mapped_column(String(20), default="mutuals")  # the widest allowed
    # Whether the teen's posts may appear in the For You feed of people they do not follow.
    discoverable: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str | None] = mapped_column(String(40), nullable=True)


class ParentLink(Base):
    """A parent and a teen account joined with both agreeing: the parent invites, the teen accepts."""

    __tablename__ = "parent_links"
    __table_args__ = (Index("ix_parent_links_parent", "parent_id"),)

    # A teen has at most one parent link, asked for or accepted.
    teen_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="invited")  # invited | active
    created_at: Mapped[float] = mapped_column(Float)
    accepted_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class AccountNotice(Base):
    """A line for one user about their account: a parent link asked for, accepted or ended."""

    __tablename__ = "account_notices"
    __table_args__ = (Index("ix_account_notices_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)


class CheckIn(Base):
    """One answer to "How does Duetto make you feel lately?" (1–5), or to the six-month question (1–3).
    Private: only its author's pages read single rows; operators get aggregates of many."""

    __tablename__ = "checkins"
    __table_args__ = (Index("ix_checkins_user", "user_id", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # mood | six_months
    score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float)


class Restriction(Base):
    """One user restricted another: the restricted one's comments on their posts are seen only by themselves."""

    __tablename__ = "restrictions"

    restricter_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    restricted_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)


# --- Stories: storyboards of several shots, each a video job, stitched into one video ------------------------


class Storyboard(Base):
    """An ordered list of shots made into one video. Its state is read from its shots' videos and its stitched
    video (see `stories.service.story_status`), so nothing here can fall out of step with the jobs."""

    __tablename__ = "storyboards"
    __table_args__ = (Index("ix_storyboards_user", "user_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200))
    size: Mapped[str] = mapped_column(String(20))
    # Whether its owner asked for it to be made: until then shots are only edited, and no job runs.
    making: Mapped[bool] = mapped_column(default=False)
    # What every shot's job is asked with besides its prompt: steps, and a seed (shot k takes seed + k).
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The latest stitched video (kind "story"); it lists the takes it joined in its params.
    video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)


class StoryShot(Base):
    """One shot of a storyboard: what it shows, how long it adds, and its current take (a video of kind
    "shot"; a regenerated shot gets a new take and the old one stays in the lineage)."""

    __tablename__ = "story_shots"
    __table_args__ = (Index("ix_story_shots_story", "storyboard_id", "position"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    storyboard_id: Mapped[str] = mapped_column(ForeignKey("storyboards.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float)  # what the shot adds to the story
    characters: Mapped[list[str]] = mapped_column(JSON, default=list)
    image_key: Mapped[str | None] = mapped_column(String(300), nullable=True)  # an optional start image
    video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
