"""The pages' Jinja environment, built once per app by `install_web` with every filter and global the
templates use, so that no module changes it as a side effect of being imported."""

from __future__ import annotations

import hashlib
import time
from importlib import resources

from fastapi import Request
from fastapi.templating import Jinja2Templates

from duetto.app.characters import notices
from duetto.app.provenance import takedown


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(resources.files("duetto.app.web") / "templates"))
    templates.env.filters["ago"] = ago
    templates.env.filters["tint"] = tint
    templates.env.filters["utc_time"] = utc_time
    templates.env.globals["character_notices"] = character_notices
    templates.env.globals["review_notices"] = review_notices
    templates.env.globals["overdue_takedowns"] = overdue_takedowns
    return templates


def ago(timestamp: float) -> str:
    seconds = max(0, int(time.time() - timestamp))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def tint(handle: str) -> int:
    # A stable colour per handle for letter avatars (a CSS class, since the pages allow no inline styles).
    return int(hashlib.sha256(handle.encode()).hexdigest()[:4], 16) % 8


def utc_time(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(timestamp))


def character_notices(request: Request) -> int:
    """Unread character notices of the signed-in viewer, for the badge in the navigation."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None or viewer.account is None:
        return 0
    with request.app.state.services.sessions() as session:
        return notices.unread_count(session=session, user_id=viewer.account.user_id)


def review_notices(request: Request) -> list[takedown.CreatorCase]:
    """The signed-in viewer's unread takedown notices about their own posts, for the banner on every page."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None or viewer.account is None:
        return []
    with request.app.state.services.sessions() as session:
        return takedown.unread_notices(session=session, user_id=viewer.account.user_id)


def overdue_takedowns(request: Request) -> int:
    """For moderators: held posts past their 48 hours, counted beside Reports in the navigation."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None or not viewer.is_admin:
        return 0
    with request.app.state.services.sessions() as session:
        return takedown.overdue_count(session=session)
