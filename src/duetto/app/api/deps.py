"""Request dependencies: the app's services, a database session per request, the authenticated user."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.core.config import Settings
from duetto.app.core.errors import Unauthorized
from duetto.app.db.models import User
from duetto.app.infra.limits import RateLimiter
from duetto.app.infra.storage import Storage
from duetto.app.jobs.library import LibraryJobs
from duetto.app.jobs.queue import JobQueue
from duetto.app.users.service import authenticate
from duetto.app.videos.catalog import ModelCatalog


class PollCache:
    """The last answer to GET /v1/videos/{id} per (user, video) for a fraction of a second.

    Clients poll a running job about once a second; many pollers of one video then cost one database
    read per `ttl_s`, and an answer is never older than that.
    """

    def __init__(self, ttl_s: float = 0.25, max_entries: int = 50_000) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._entries: dict[tuple[str, str], tuple[float, bytes, bool]] = {}

    def get(self, user_id: str, video_id: str) -> tuple[bytes, bool] | None:
        entry = self._entries.get((user_id, video_id))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def put(self, user_id: str, video_id: str, body: bytes, active: bool) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[(user_id, video_id)] = (time.monotonic() + self.ttl_s, body, active)

    def forget(self, video_id: str) -> None:
        for key in [k for k in self._entries if k[1] == video_id]:
            del self._entries[key]


@dataclass
class Services:
    """Everything a route may need, built once per app (kept on `app.state.services`)."""

    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage
    catalog: ModelCatalog
    rate_limiter: RateLimiter
    queue: JobQueue
    library: LibraryJobs
    poll_cache: PollCache = field(default_factory=PollCache)


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_session(services: ServicesDep) -> AsyncIterator[Session]:
    # Opening and closing a session does no I/O until it is used, so this runs on the event loop.
    session = services.sessions()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_current_user(request: Request, services: ServicesDep) -> User:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "No API key provided; send it as 'Authorization: Bearer <key>' (create one with `duetto keys create`)."
        )
    # One indexed lookup by key hash on every request, cheap enough for the event loop and never cached: a
    # revoked key, or the key of a deleted account, is refused from the very next request in every process.
    with services.sessions() as session:
        user = authenticate(session=session, secret=token.strip())
    services.rate_limiter.hit(user.id)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
