"""Web accounts: creating one, signing in with Argon2 password hashes, browser sessions, profiles and avatars.
Signing up and deleting an account cross other domains: see `flows.accounts`."""

from __future__ import annotations

import hashlib
import io
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duetto.app import moderation
from duetto.app.core.errors import Conflict, InvalidRequest, Unauthorized
from duetto.app.db.models import Account, User, WebSession
from duetto.app.infra.storage import Storage
from duetto.app.infra.uploads import require_image
from duetto.app.moderation import reports
from duetto.app.users.handles import check_handle, normalize_handle
from duetto.app.users.service import create_user

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
AVATAR_PIXELS = 256

_hasher = PasswordHasher()
# Verifying against this when no account matches keeps sign-in timing the same for unknown handles.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    account: Account
    token: str  # the cookie value; only its hash is stored


def check_password(password: str, *, handle: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequest(f"Password must be at least {MIN_PASSWORD} characters.", param="password")
    if password.lower() == handle:
        raise InvalidRequest("Password must not be your handle.", param="password")


@dataclass(frozen=True)
class NewAccount:
    """A sign-up that passed its checks, with the moderation decisions to file once the account exists."""

    handle: str
    display_name: str
    password: str
    decisions: list[moderation.Decision]


def check_new_account(*, session: Session, handle: str, password: str, display_name: str = "") -> NewAccount:
    """The checks of a sign-up: the handle's shape, the password, the names, and that no account or user
    has the handle (`flows.accounts.sign_up` adds the characters' names)."""
    handle = check_handle(handle)
    check_password(password, handle=handle)
    display_name = display_name.strip()[:60] or handle
    # A handle or name is shown beside everything the person posts: it is checked like a caption, so
    # "@taylorswift" cannot pass for the singer.
    decisions = _check_names(session=session, handle=handle, display_name=display_name, user_id=None)
    if (session.scalar(select(Account.user_id).where(Account.handle == handle))
            or session.scalar(select(User.id).where(User.name == handle))):
        raise handle_taken(handle)
    return NewAccount(handle=handle, display_name=display_name, password=password, decisions=decisions)


def handle_taken(handle: str) -> Conflict:
    return Conflict(f"The handle @{handle} is taken; pick another.", code="handle_taken")


def create_account(*, session: Session, new: NewAccount) -> Account:
    """The user and its web account (committed); names a `flag` category let through go to the report queue."""
    user = create_user(session=session, name=new.handle)
    account = Account(user_id=user.id, handle=new.handle, display_name=new.display_name, bio="",
                      password_hash=_hasher.hash(new.password), created_at=time.time())
    session.add(account)
    session.commit()
    _file_flagged(session=session, decisions=new.decisions, user_id=user.id)
    return account


def set_moderator(*, session: Session, account: Account, moderator: bool = True) -> Account:
    """Give (or take away) the moderator role: the report queue, takedowns and the lists at /mod (committed)."""
    account.is_moderator = moderator
    session.add(account)
    session.commit()
    return account


def _check_names(*, session: Session, display_name: str, user_id: str | None,
                 handle: str | None = None) -> list[moderation.Decision]:
    decisions = []
    if handle is not None:
        decisions.append(moderation.require_allowed(session=session, text=handle, surface="handle", user_id=user_id,
                                                    param="handle"))
    if display_name != handle:
        decisions.append(moderation.require_allowed(session=session, text=display_name, surface="display_name",
                                                    user_id=user_id, param="display_name"))
    return decisions


def _file_flagged(*, session: Session, decisions: list[moderation.Decision], user_id: str) -> None:
    for decision in decisions:
        if reports.file_flagged(session=session, decision=decision, kind="user", target_id=user_id):
            return  # one report per account is enough for a person to look


def verify_password(account: Account | None, password: str) -> bool:
    try:
        return _hasher.verify(account.password_hash if account else _DUMMY_HASH, password) and account is not None
    except (VerificationError, InvalidHashError):
        return False


def sign_in(*, session: Session, handle: str, password: str, days: float) -> SignedIn:
    """Check a handle and password and open a browser session (committed)."""
    account = session.scalar(select(Account).where(Account.handle == normalize_handle(handle)))
    if not verify_password(account, password):
        raise Unauthorized("Wrong handle or password.", code="bad_credentials")
    assert account is not None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return SignedIn(account=account, token=start_session(session=session, user_id=account.user_id, days=days))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(*, session: Session, user_id: str, days: float) -> str:
    token = secrets.token_urlsafe(32)
    now = time.time()
    session.add(WebSession(token_hash=_token_hash(token), user_id=user_id, created_at=now,
                           expires_at=now + days * 86400))
    session.commit()
    return token


def account_for_session(*, session: Session, token: str) -> Account | None:
    """The account a session cookie belongs to, or None when it is unknown or expired."""
    return session.scalar(
        select(Account)
        .join(WebSession, WebSession.user_id == Account.user_id)
        .where(WebSession.token_hash == _token_hash(token), WebSession.expires_at > time.time())
    )


def end_session(*, session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))
    session.commit()


def get_account(*, session: Session, handle: str) -> Account | None:
    return session.scalar(select(Account).where(Account.handle == normalize_handle(handle)))


def get_user(*, session: Session, account: Account) -> User:
    user = session.get(User, account.user_id)
    assert user is not None  # accounts cascade away with their user
    return user


def _avatar_webp(data: bytes) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        image = ImageOps.fit(image, (AVATAR_PIXELS, AVATAR_PIXELS))
        out = io.BytesIO()
        image.save(out, "WEBP", quality=85)
        return out.getvalue()


def avatar_prefix(user_id: str) -> str:
    """Where a user's avatars are stored."""
    return f"avatars/{user_id}/"


def update_profile(*, session: Session, storage: Storage, account: Account, display_name: str, bio: str,
                   avatar: bytes | None = None) -> Account:
    display_name = display_name.strip()
    if not display_name:
        raise InvalidRequest("Display name must not be empty.", param="display_name")
    if len(display_name) > 60:
        raise InvalidRequest("Display name must be at most 60 characters.", param="display_name")
    if len(bio) > 500:
        raise InvalidRequest("Bio must be at most 500 characters.", param="bio")
    decisions = []
    if display_name != account.display_name:
        decisions += _check_names(session=session, display_name=display_name, user_id=account.user_id)
    if bio.strip() and bio.strip() != account.bio:
        decisions.append(moderation.require_allowed(session=session, text=bio, surface="bio", user_id=account.user_id,
                                                    param="bio"))
    account.display_name = display_name
    account.bio = bio.strip()
    if avatar:
        require_image(avatar, param="avatar")  # a real PNG, JPEG or WebP, and not a decompression bomb
        try:
            webp = _avatar_webp(avatar)
        except (OSError, ValueError):
            raise InvalidRequest("Avatar image could not be read; try another file.", param="avatar") from None
        old = account.avatar_key
        # A new name per upload, so browsers never show a cached old picture.
        account.avatar_key = f"{avatar_prefix(account.user_id)}{secrets.token_hex(6)}.webp"
        storage.put_bytes(account.avatar_key, webp, "image/webp")
        if old:
            storage.delete_prefix(old)
    session.add(account)
    session.commit()
    _file_flagged(session=session, decisions=decisions, user_id=account.user_id)
    return account
