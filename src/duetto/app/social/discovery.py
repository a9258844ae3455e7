"""Finding people: search by handle or name, and suggestions (people followed by the people you follow).

Neither ever shows a teen to anyone but another teen: adults, visitors and accounts with no declared age
cannot find teens this way. Blocks hide both ways, as everywhere."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from duetto.app.db.models import Account, Follow
from duetto.app.social import graph
from duetto.app.wellbeing import teens

MAX_QUERY = 60


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _hidden(session: Session, viewer_id: str | None) -> tuple[set[str], bool]:
    """(accounts never listed to the viewer, whether teens are listed)."""
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id) if viewer_id else set()
    return hidden, teens.is_teen(session=session, user_id=viewer_id)


def search(*, session: Session, viewer_id: str | None, query: str, limit: int = 30) -> list[Account]:
    """Accounts whose handle starts with, or whose display name contains, the query (case-insensitive)."""
    text = " ".join(query.split()).lstrip("@")[:MAX_QUERY].lower()
    if not text:
        return []
    hidden, teen_viewer = _hidden(session, viewer_id)
    statement = select(Account).where(or_(Account.handle.like(f"{_like(text)}%", escape="\\"),
                                          func.lower(Account.display_name).like(f"%{_like(text)}%", escape="\\")))
    if not teen_viewer:
        statement = statement.where(Account.user_id.not_in(teens.teen_ids_query()))
    if hidden:
        statement = statement.where(Account.user_id.not_in(hidden))
    # Exact handle first, then shorter handles (closer matches), then alphabetical.
    statement = statement.order_by((Account.handle != text), func.length(Account.handle), Account.handle)
    return list(session.scalars(statement.limit(limit)))


def suggestions(*, session: Session, viewer_id: str, limit: int = 8) -> list[Account]:
    """People followed by those the viewer follows, most shared first, whom the viewer does not follow yet."""
    hidden, teen_viewer = _hidden(session, viewer_id)
    mine = select(Follow.followee_id).where(Follow.follower_id == viewer_id)
    shared = func.count().label("shared")
    statement = (select(Account, shared).join(Follow, Follow.followee_id == Account.user_id)
                 .where(Follow.follower_id.in_(mine), Account.user_id.not_in(mine), Account.user_id != viewer_id)
                 .group_by(Account.user_id).order_by(shared.desc(), Account.handle))
    if not teen_viewer:
        statement = statement.where(Account.user_id.not_in(teens.teen_ids_query()))
    if hidden:
        statement = statement.where(Account.user_id.not_in(hidden))
    return [account for account, _ in session.execute(statement.limit(limit))]
