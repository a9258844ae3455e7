"""Signing up and deleting an account: the account's own steps, with the characters' names (which share the
handles' namespace) and with everything the person made in the other domains."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duetto.app.characters import service as characters
from duetto.app.core.errors import Unauthorized
from duetto.app.db.models import Account, LibraryTransfer, User, Video
from duetto.app.infra.storage import Storage
from duetto.app.social import posts
from duetto.app.users import accounts, ages
from duetto.app.videos import service as videos
from duetto.app.videos.files import purge_files


def sign_up(*, session: Session, handle: str, password: str, display_name: str = "",
            birth_year: int | None = None) -> Account:
    """A new user with a web account (committed), with their birth year when given (web sign-up asks for it)."""
    # 1. The handle's shape, the password, the names (moderated like a caption), no account or user with it,
    #    and a believable birth year.
    new = accounts.check_new_account(session=session, handle=handle, password=password, display_name=display_name)
    if birth_year is not None:
        ages.check_birth_year(birth_year)
    # 2. A character's @name counts as taken too: in a prompt, @name must mean one thing only.
    if characters.by_name(session=session, name=new.handle) is not None:
        raise accounts.handle_taken(new.handle)
    # 3. The user and its account, then the year (set once, like every declaration of it).
    account = accounts.create_account(session=session, new=new)
    if birth_year is not None:
        ages.declare_birth_year(session=session, user_id=account.user_id, year=birth_year)
    return account


def delete_account(*, session: Session, storage: Storage, account: Account, password: str) -> None:
    """Remove the user, their videos and files, posts, comments, likes, follows, messages and sessions.

    Counters on other people's posts are recomputed afterwards, so likes and remixes by the deleted user
    stop counting.
    """
    # 1. The password, asked again.
    if not accounts.verify_password(account, password):
        raise Unauthorized("Wrong password; your account was not deleted.", code="bad_credentials")
    user = accounts.get_user(session=session, account=account)
    touched = posts.posts_touched_by(session=session, user_id=user.id)
    # 2. Their videos: running jobs are cancelled, and every video's files go, deleted ones' included.
    live = list(session.scalars(select(Video.id).where(Video.user_id == user.id, Video.deleted_at.is_(None))))
    for video_id in live:
        videos.delete_video(session=session, storage=storage, user=user, video_id=video_id)
    for video_id in session.scalars(select(Video.id).where(Video.user_id == user.id)):
        purge_files(storage, video_id)
    # 3. Their avatar, and their characters' files and enrollment recordings.
    storage.delete_prefix(accounts.avatar_prefix(user.id))
    characters.purge_user(session=session, storage=storage, user_id=user.id)
    # 3b. Their library archives (an export not yet expired, an import's upload): the rows go with the user row
    #     below, and the expiry sweep finds archives only through their rows, so none would ever be removed.
    for transfer_id in session.scalars(select(LibraryTransfer.id).where(LibraryTransfer.user_id == user.id)):
        storage.delete_prefix(f"library/{transfer_id}")
    # 4. Everything else hangs off the user row by ON DELETE CASCADE.
    session.execute(delete(User).where(User.id == user.id))
    session.commit()
    # 5. The counters of other people's posts they had touched.
    posts.recount_posts(session=session, seqs=touched)
