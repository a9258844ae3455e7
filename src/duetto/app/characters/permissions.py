"""Who may use a character (`may_use`): its owner always; nobody blocked with the owner either way; nobody
the owner revoked; otherwise it depends on the level, each level letting in everyone the narrower ones do:
`only_me` (the owner), `approved` (people the owner approved), `mutuals` (and people the owner follows who
follow back), `everyone`. The check runs when a video is requested, when a video is remixed (for the
characters it already shows) and again when its job starts."""

from __future__ import annotations

import time

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duetto.app.characters.appearances import delete_drafts
from duetto.app.characters.notices import notify
from duetto.app.core.errors import Forbidden, InvalidRequest, NotFound
from duetto.app.db.models import (
    CHARACTER_LEVELS,
    Account,
    Character,
    CharacterApproval,
)
from duetto.app.infra.storage import Storage
from duetto.app.social import graph
from duetto.app.users.ages import birth_year, is_minor
from duetto.app.wellbeing import teens

LEVEL_LABELS = {
    "only_me": "Only me",
    "approved": "People I approve",
    "mutuals": "Mutuals (and people I approve)",
    "everyone": "Everyone",
}


class NotPermitted(Forbidden):
    """The character exists but this person may not use it (or a rule or protection refuses the prompt)."""

    code = "character_not_permitted"


def usable_by(*, session: Session, viewer_id: str, limit: int = 60) -> list[Character]:
    """Others' characters the viewer may use: those approved for them, then the newest open ones.

    A page lists these, so the relations are read once for all candidates rather than per character. The
    viewer's approval rows split the candidates in SQL: approved ones come first, and a revoked one is
    never read, so each candidate's status is known without asking again.
    """
    mine = select(CharacterApproval.character_id).where(CharacterApproval.user_id == viewer_id)
    live = (Character.owner_id != viewer_id, Character.deleted_at.is_(None), Character.permission != "only_me")
    approved = list(session.scalars(select(Character).where(*live, Character.id.in_(
        mine.where(CharacterApproval.status == "approved"))).order_by(Character.created_at.desc()).limit(limit)))
    open_ = list(session.scalars(select(Character).where(*live, Character.permission.in_(("mutuals", "everyone")),
                                                         Character.id.not_in(mine))
                                 .order_by(Character.created_at.desc()).limit(limit * 4)))
    if not approved and not open_:
        return []
    hidden = graph.blocked_ids(session=session, viewer_id=viewer_id)
    mutuals = graph.mutual_ids(session=session, user_id=viewer_id)
    candidates = [(c, "approved") for c in approved] + [(c, None) for c in open_]
    return [c for c, status in candidates
            if _allowed(c, viewer_id, blocked=c.owner_id in hidden, status=status,
                        mutual=c.owner_id in mutuals)][:limit]


def _approval(*, session: Session, character_id: str, user_id: str) -> str | None:
    return session.scalar(select(CharacterApproval.status).where(
        CharacterApproval.character_id == character_id, CharacterApproval.user_id == user_id))


def _allowed(character: Character, user_id: str, *, blocked: bool, status: str | None, mutual: bool) -> bool:
    """The permission rule itself, given how the user stands with the owner (see the module docstring)."""
    if character.deleted_at is not None:
        return False
    if user_id == character.owner_id:
        return True
    if blocked or status == "revoked" or character.permission == "only_me":
        return False
    if status == "approved" or character.permission == "everyone":
        return True
    return character.permission == "mutuals" and mutual


def may_use(*, session: Session, character: Character, user_id: str | None) -> bool:
    """Whether `user_id` may put `character` in a video now."""
    if user_id is None:
        return False
    if user_id == character.owner_id:
        return character.deleted_at is None
    relation = graph.relation(session=session, viewer_id=character.owner_id, other_id=user_id)
    return _allowed(character, user_id, blocked=relation.blocked, status=_approval(session=session, character_id=character.id, user_id=user_id),
                    mutual=relation.mutual)


def check_level(*, session: Session, owner_id: str, level: str) -> None:
    if level not in CHARACTER_LEVELS:
        raise InvalidRequest(f"Permission must be one of: {', '.join(CHARACTER_LEVELS)}.", param="permission")
    if level == "everyone":
        year = birth_year(session=session, user_id=owner_id)
        if year is None:
            raise InvalidRequest("Opening a character to everyone needs your birth year; add it first.",
                                 param="permission", code="birth_year_required")
        if is_minor(year):
            raise Forbidden("People under 18 cannot open a character to everyone; choose mutuals or approved "
                            "people.", param="permission", code="minor_everyone")
    controls = teens.controls(session=session, user_id=owner_id)
    if controls is not None and not teens.level_allowed(controls, level):
        raise Forbidden(f"Your characters can be at most '{controls.character_level}' for now; your linked parent "
                        "can change that under Settings → Family.", param="permission", code="teen_character_level")


def narrow_to(*, session: Session, owner_id: str, level: str) -> int:
    """Bring every character of the owner wider than `level` down to it (not committed); how many changed."""
    wider = CHARACTER_LEVELS[CHARACTER_LEVELS.index(level) + 1:]
    changed = list(session.scalars(select(Character).where(
        Character.owner_id == owner_id, Character.deleted_at.is_(None), Character.permission.in_(wider))))
    for character in changed:
        character.permission = level
    return len(changed)


def set_permission(*, session: Session, character: Character, level: str) -> None:
    check_level(session=session, owner_id=character.owner_id, level=level)
    if character.needs_enrollment and level != "only_me":
        # Liveness cannot be imported: a likeness brought from another instance is proven here first.
        raise Forbidden(f"@{character.name} came from another instance; enroll on this one (Characters → Enroll) "
                        "before letting anyone else use it.", param="permission", code="enrollment_required")
    character.permission = level
    session.commit()


def _user_by_handle(*, session: Session, handle: str) -> Account:
    account = session.scalar(select(Account).where(Account.handle == handle.strip().lstrip("@").lower()))
    if account is None:
        raise NotFound(f"There is no one called @{handle.strip().lstrip('@')}; check the handle.", param="handle")
    return account


def _set_approval(*, session: Session, character_id: str, user_id: str, status: str) -> None:
    row = session.get(CharacterApproval, (character_id, user_id))
    if row is None:
        session.add(CharacterApproval(character_id=character_id, user_id=user_id, status=status,
                                      created_at=time.time()))
    else:
        row.status, row.created_at = status, time.time()


def approve(*, session: Session, character: Character, handle: str) -> Account:
    """Let the person with `handle` use the character (at the 'approved' level and wider); committed."""
    account = _user_by_handle(session=session, handle=handle)
    if account.user_id == character.owner_id:
        raise InvalidRequest("You can always use your own character.", param="handle")
    _set_approval(session=session, character_id=character.id, user_id=account.user_id, status="approved")
    session.commit()
    return account


def approvals(*, session: Session, character_id: str) -> list[tuple[Account, str]]:
    rows = session.execute(select(Account, CharacterApproval.status)
                           .join(CharacterApproval, CharacterApproval.user_id == Account.user_id)
                           .where(CharacterApproval.character_id == character_id)
                           .order_by(CharacterApproval.created_at.desc())).all()
    return [(account, status) for account, status in rows]


def revoke(*, session: Session, storage: Storage, character: Character, handle: str) -> int:
    """Keep one person out of the character at every level, and delete their drafts that show it.

    Their posts stay up, listed on the owner's page, where the owner may delete them. Returns how many
    drafts were deleted.
    """
    account = _user_by_handle(session=session, handle=handle)
    if account.user_id == character.owner_id:
        raise InvalidRequest("You cannot revoke yourself.", param="handle")
    _set_approval(session=session, character_id=character.id, user_id=account.user_id, status="revoked")
    session.commit()
    removed = delete_drafts(session=session, storage=storage, character=character, maker_ids={account.user_id})
    notify(session=session, user_id=account.user_id, kind="revoked", character=character, actor_id=character.owner_id,
            text=f"@{character.name}'s owner no longer lets you use @{character.name}"
                 + (f"; {removed} of your drafts with it were deleted." if removed else "."))
    session.commit()
    return removed


def revoke_everyone(*, session: Session, storage: Storage, character: Character) -> int:
    """Back to 'only me': approvals are dropped, and everyone else's drafts that show it are deleted."""
    character.permission = "only_me"
    session.execute(delete(CharacterApproval).where(CharacterApproval.character_id == character.id,
                                                    CharacterApproval.status == "approved"))
    session.commit()
    return delete_drafts(session=session, storage=storage, character=character, maker_ids=None)
