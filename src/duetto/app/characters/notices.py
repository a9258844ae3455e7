"""Notices to owners and makers: someone used a character, an owner revoked or removed something."""

from __future__ import annotations

import time

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from duetto.app.db.models import (
    Character,
    CharacterNotification,
)


def notify(*, session: Session, user_id: str, kind: str, character: Character, actor_id: str | None = None,
            video_id: str | None = None, text: str) -> None:
    session.add(CharacterNotification(user_id=user_id, kind=kind, character_id=character.id, actor_id=actor_id,
                                      video_id=video_id, text=text, created_at=time.time()))


def unread_count(*, session: Session, user_id: str) -> int:
    return session.scalar(select(func.count()).select_from(CharacterNotification).where(
        CharacterNotification.user_id == user_id, CharacterNotification.read_at.is_(None))) or 0


def notifications(*, session: Session, user_id: str, limit: int = 50) -> list[CharacterNotification]:
    return list(session.scalars(select(CharacterNotification).where(CharacterNotification.user_id == user_id)
                                .order_by(CharacterNotification.id.desc()).limit(limit)))


def mark_read(*, session: Session, user_id: str) -> None:
    session.execute(update(CharacterNotification).where(CharacterNotification.user_id == user_id,
                                                        CharacterNotification.read_at.is_(None))
                    .values(read_at=time.time()))
    session.commit()
