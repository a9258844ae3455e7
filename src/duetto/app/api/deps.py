"""Request dependencies: the app's services, a database session per request, the authenticated user."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.core.config import Settings
from duetto.app.core.errors import Unauthorized
from duetto.app.db.models import User
from duetto.app.jobs.queue import JobQueue
from duetto.app.limits import RateLimiter
from duetto.app.storage import Storage
from duetto.app.users.service import authenticate
from duetto.app.videos.catalog import ModelCatalog


@dataclass
class Services:
    """Everything a route may need, built once per app (kept on `app.state.services`)."""

    settings: Settings
    sessions: sessionmaker[Session]
    storage: Storage
    catalog: ModelCatalog
    rate_limiter: RateLimiter
    queue: JobQueue


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    session = services.sessions()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(request: Request, services: ServicesDep, session: SessionDep) -> User:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "No API key provided; send it as 'Authorization: Bearer <key>' (create one with `duetto keys create`)."
        )
    user = authenticate(session=session, secret=token.strip())
    services.rate_limiter.hit(user.id)
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
