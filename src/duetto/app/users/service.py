"""Creating users and API keys, and finding the user behind a key."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.errors import Conflict, NotFound, Unauthorized
from duetto.app.core.security import hash_api_key, new_api_key, new_id, new_webhook_secret
from duetto.app.db.models import ApiKey, User


@dataclass(frozen=True)
class NewKey:
    """A freshly made key: `secret` is shown once and never stored."""

    id: str
    user_id: str
    secret: str


def create_user(*, session: Session, name: str, daily_quota: float | None = None) -> User:
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise Conflict(f"A user named {name!r} already exists; pick another name.")
    user = User(
        id=new_id("user"), name=name, daily_quota=daily_quota, webhook_secret=new_webhook_secret(), created_at=time.time()
    )
    session.add(user)
    session.flush()
    return user


def get_user_by_name(*, session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"No user named {name!r}; create one with `duetto users create {name}`.")
    return user


def create_api_key(*, session: Session, user: User) -> NewKey:
    secret = new_api_key()
    key = ApiKey(
        id=new_id("key"), user_id=user.id, key_hash=hash_api_key(secret), prefix=secret[:8], created_at=time.time()
    )
    session.add(key)
    session.flush()
    return NewKey(id=key.id, user_id=user.id, secret=secret)


def list_api_keys(*, session: Session, user_id: str) -> list[ApiKey]:
    """A user's keys, revoked ones included, oldest first (only their prefixes are known; never the keys)."""
    return list(session.scalars(select(ApiKey).where(ApiKey.user_id == user_id)
                                .order_by(ApiKey.created_at.asc(), ApiKey.id.asc())))


def revoke_api_key(*, session: Session, key_id: str, user_id: str | None = None) -> ApiKey:
    """Revoke a key (of `user_id`, when given): it is refused from the next request on. Revoking a revoked key
    changes nothing; the record stays, so the list shows when it was revoked."""
    query = select(ApiKey).where(ApiKey.id == key_id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    key = session.scalar(query)
    if key is None:
        raise NotFound(f"No API key with id {key_id!r}; `duetto keys list <user>` shows the ids.", param="key_id")
    if key.revoked_at is None:
        key.revoked_at = time.time()
        session.flush()
    return key


def authenticate(*, session: Session, secret: str) -> User:
    """The user owning an unrevoked key, or Unauthorized."""
    row = session.execute(
        select(User)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == hash_api_key(secret), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None:
        raise Unauthorized("Incorrect API key provided; create one with `duetto keys create <user>`.")
    return row
