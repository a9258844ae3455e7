"""Character names (written @name in prompts) and display names: their shape, the reserved words, public
figures, and names already taken by a character or by someone else's handle."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from duetto.app.core.errors import Conflict, InvalidRequest
from duetto.app.db.models import (
    Account,
    Character,
)
from duetto.app.moderation import public_figure_match
from duetto.app.users.handles import HANDLE_RE, RESERVED_HANDLES


def public_figure(*, session: Session, text: str) -> str | None:
    # The operator's list of public figures lives with moderation, editable there.
    return public_figure_match(session=session, text=text)


def check_name(*, session: Session, name: str, owner_id: str) -> str:
    """A free, allowed character name (lowercase, without @), or a one-line refusal."""
    clean = name.strip().lstrip("@").lower()
    if not HANDLE_RE.match(clean):
        raise InvalidRequest("A character name must be 3–30 characters: letters, digits or _, starting with a "
                             "letter (it is written @name in prompts).", param="name")
    if clean in RESERVED_HANDLES:
        raise InvalidRequest(f"@{clean} is reserved; pick another name.", param="name")
    figure = public_figure(session=session, text=clean.replace("_", " "))
    if figure:
        raise InvalidRequest(f"@{clean} names a public figure ({figure}); characters cannot be public figures.",
                             param="name")
    if session.scalar(select(Character.id).where(Character.name == clean)):
        raise Conflict(f"The character name @{clean} is taken; pick another.", code="name_taken")
    # A character may share a handle only with its owner: @bob in a prompt must never mean someone else.
    holder = session.scalar(select(Account.user_id).where(Account.handle == clean))
    if holder is not None and holder != owner_id:
        raise Conflict(f"@{clean} is someone's handle; pick another name.", code="name_taken")
    return clean


def check_display_name(*, session: Session, display_name: str, fallback: str) -> str:
    shown = " ".join(display_name.split())[:60] or fallback
    figure = public_figure(session=session, text=shown)
    if figure:
        raise InvalidRequest(f"'{shown}' names a public figure ({figure}); characters cannot be public figures.",
                             param="display_name")
    return shown
