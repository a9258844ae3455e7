"""The link between a parent and a teen: asked for by the parent, accepted (or not) by the teen, ended by
either; what a linked parent may do (set the teen's controls) and see (a weekly summary of time spent and
the controls — never messages, drafts or check-ins)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duetto.app.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from duetto.app.db.models import Account, AccountNotice, ParentLink, TeenControls, WatchTime
from duetto.app.users.ages import birth_year, is_minor
from duetto.app.wellbeing import teens

SUMMARY_DAYS = 7


def _account(session: Session, user_id: str) -> Account:
    account = session.get(Account, user_id)
    if account is None:
        raise NotFound("No such account.")
    return account


def notify(*, session: Session, user_id: str, text: str) -> None:
    session.add(AccountNotice(user_id=user_id, text=text, created_at=time.time()))


def notices(*, session: Session, user_id: str, limit: int = 20) -> list[AccountNotice]:
    return list(session.scalars(select(AccountNotice).where(AccountNotice.user_id == user_id)
                                .order_by(AccountNotice.id.desc()).limit(limit)))


def invite(*, session: Session, parent_id: str, teen_handle: str) -> ParentLink:
    """The parent's side of a link: an invitation the teen sees and may accept (committed)."""
    handle = teen_handle.strip().lstrip("@").lower()
    teen = session.scalar(select(Account).where(Account.handle == handle)) if handle else None
    if teen is None:
        raise NotFound("Type the handle of your teen's account, e.g. @sam.", param="handle")
    if teen.user_id == parent_id:
        raise InvalidRequest("That is your own account; type your teen's handle.", param="handle")
    year = birth_year(session=session, user_id=parent_id)
    if year is None or is_minor(year):
        raise Forbidden("Only an adult account can be a parent; add your birth year under Characters first.",
                        param="handle", code="parent_not_adult")
    if not teens.is_teen(session=session, user_id=teen.user_id):
        raise InvalidRequest(f"@{teen.handle} is not a teen account; only teen accounts link to a parent.",
                             param="handle", code="not_a_teen")
    existing = session.get(ParentLink, teen.user_id)
    if existing is not None:
        if existing.parent_id == parent_id:
            return existing
        raise Conflict(f"@{teen.handle} is already linked to a parent, or has an invitation waiting.",
                       param="handle", code="already_linked")
    parent = _account(session, parent_id)
    link = ParentLink(teen_id=teen.user_id, parent_id=parent_id, status="invited", created_at=time.time())
    session.add(link)
    notify(session=session, user_id=teen.user_id,
           text=f"@{parent.handle} asked to link as your parent. Accept or decline under Settings → Family.")
    session.commit()
    return link


def _link_for_teen(session: Session, teen_id: str) -> ParentLink:
    link = session.get(ParentLink, teen_id)
    if link is None:
        raise NotFound("There is no parent link or invitation on this account.")
    return link


def accept(*, session: Session, teen_id: str) -> ParentLink:
    link = _link_for_teen(session, teen_id)
    if link.status != "active":
        link.status, link.accepted_at = "active", time.time()
        notify(session=session, user_id=link.parent_id,
               text=f"@{_account(session, teen_id).handle} accepted your parent link.")
        session.commit()
    return link


def end(*, session: Session, user_id: str, teen_id: str) -> None:
    """Decline an invitation or end a link; either side may, and the other is told. The teen's controls stay
    as the parent left them (a teen alone still cannot loosen them)."""
    link = _link_for_teen(session, teen_id)
    if user_id not in (link.teen_id, link.parent_id):
        raise NotFound("There is no parent link or invitation on this account.")
    other = link.parent_id if user_id == link.teen_id else link.teen_id
    me = _account(session, user_id)
    declined = link.status == "invited" and user_id == link.teen_id
    verb = "declined your parent link" if declined else "ended the parent link"
    session.execute(delete(ParentLink).where(ParentLink.teen_id == teen_id))
    notify(session=session, user_id=other, text=f"@{me.handle} {verb}.")
    session.commit()


def parent_of(*, session: Session, teen_id: str) -> ParentLink | None:
    return session.get(ParentLink, teen_id)


def links_of_parent(*, session: Session, parent_id: str) -> list[ParentLink]:
    return list(session.scalars(select(ParentLink).where(ParentLink.parent_id == parent_id)
                                .order_by(ParentLink.created_at)))


def require_parent(*, session: Session, parent_id: str, teen_id: str) -> ParentLink:
    """The active link between them, or NotFound: to anyone else the teen's controls do not exist."""
    link = session.get(ParentLink, teen_id)
    if link is None or link.parent_id != parent_id or link.status != "active":
        raise NotFound("You are not linked to this account as its parent.")
    return link


def set_controls(*, session: Session, parent_id: str, teen_id: str, change: teens.ControlsChange) -> TeenControls:
    """The linked parent changes the teen's controls (not committed: the caller narrows what they no longer
    allow, such as characters, in the same transaction)."""
    require_parent(session=session, parent_id=parent_id, teen_id=teen_id)
    if not teens.is_teen(session=session, user_id=teen_id):
        raise Conflict("This account is no longer a teen account; its owner sets everything now.")
    row = teens.write_controls(session=session, teen_id=teen_id, change=change, by=parent_id)
    notify(session=session, user_id=teen_id,
           text=f"@{_account(session, parent_id).handle} changed your limits; see Settings → Family.")
    return row


@dataclass(frozen=True)
class WeeklySummary:
    """What a linked parent sees of a teen: minutes watched per day for the last week, and the controls."""

    teen: Account
    days: list[tuple[str, int]]  # (YYYY-MM-DD, whole minutes), oldest first
    controls: TeenControls

    @property
    def total_minutes(self) -> int:
        return sum(minutes for _, minutes in self.days)


def weekly_summary(*, session: Session, parent_id: str, teen_id: str, now: float | None = None) -> WeeklySummary:
    require_parent(session=session, parent_id=parent_id, teen_id=teen_id)
    today = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC).date()
    days = [(today - dt.timedelta(days=back)).isoformat() for back in range(SUMMARY_DAYS - 1, -1, -1)]
    seconds = dict(session.execute(select(WatchTime.day, WatchTime.seconds).where(
        WatchTime.user_id == teen_id, WatchTime.day.in_(days))).all())
    controls = teens.controls(session=session, user_id=teen_id) or teens.defaults(teen_id)
    return WeeklySummary(teen=_account(session, teen_id), days=[(d, int(seconds.get(d, 0.0) // 60)) for d in days],
                         controls=controls)
