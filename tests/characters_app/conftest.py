"""Fixtures for the characters feature: the web app fixtures, quick accounts, characters, and jobs run by the
real job function with a stand-in generator that records what the engine would have been asked."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from duetto.app.characters import ages
from duetto.app.characters import service as characters
from duetto.app.db.models import Account, Block, Character, Follow, User, Video
from duetto.app.flows.videos import request_video
from duetto.app.jobs.runner import JobContext, run_video_job
from duetto.app.main import create_app
from duetto.app.users import accounts
from duetto.app.videos.generation import GenerationRequest
from duetto.app.videos.service import NewVideo
from tests.app.conftest import embedded_settings
from tests.web.conftest import PASSWORD, Browser, Web, clip_assets, models_dir  # noqa: F401 - fixtures

TOY = {"head_colour": "yellow", "hat": "purple", "eyes": "sleepy", "pitch": "high", "timbre": "soft"}

_PASSWORD_HASH: list[str] = []


def password_hash() -> str:
    # Argon2 on purpose costs time; the many accounts of these tests share one hash of the test password.
    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(accounts._hasher.hash(PASSWORD))
    return _PASSWORD_HASH[0]


@dataclass
class Site(Web):
    """The web app plus quick ways to make people, relations, characters and videos."""

    made: list[GenerationRequest] = field(default_factory=list)

    def person(self, prefix: str = "p", *, birth_year: int | None = 1990) -> Account:
        handle = f"{prefix}{secrets.token_hex(4)}"
        with self.session() as session:
            user = User(id=f"user_{secrets.token_hex(12)}", name=handle, webhook_secret="whsec_x",
                        created_at=time.time())
            session.add(user)
            session.flush()  # no ORM relationship orders the two inserts, so the user goes first
            account = Account(user_id=user.id, handle=handle, display_name=handle.title(), bio="",
                              password_hash=password_hash(), created_at=time.time())
            session.add(account)
            session.flush()
            if birth_year is not None:
                ages.declare_birth_year(session=session, user_id=user.id, year=birth_year)
            session.commit()
            return account

    def user(self, account: Account) -> User:
        with self.session() as session:
            user = session.get(User, account.user_id)
            session.expunge(user)
            return user

    def follow(self, a: Account, b: Account) -> None:
        with self.session() as session:
            session.add(Follow(follower_id=a.user_id, followee_id=b.user_id, created_at=time.time()))

    def mutual(self, a: Account, b: Account) -> None:
        self.follow(a, b)
        self.follow(b, a)

    def block(self, blocker: Account, blocked: Account) -> None:
        with self.session() as session:
            session.add(Block(blocker_id=blocker.user_id, blocked_id=blocked.user_id, created_at=time.time()))

    def toy(self, owner: Account, name: str | None = None, *, permission: str = "only_me",
            look: dict | None = None) -> Character:
        with self.session() as session:
            character = characters.create_toy_character(
                session=session, user_id=owner.user_id, name=name or f"toy{secrets.token_hex(3)}", look=look or TOY,
                storage=self.services.storage, permission=permission)
            session.expunge(character)
            return character

    def character(self, character_id: str) -> Character:
        with self.session() as session:
            character = session.get(Character, character_id)
            session.expunge(character)
            return character

    def request(self, account: Account, prompt: str, *, kind: str = "create", source: Video | None = None,
                character_ids: list[str] | None = None, image: tuple[bytes, str] | None = None) -> Video:
        """A video request through the one use case the API and the create page call."""
        services = self.services
        with self.session() as session:
            user = session.get(User, account.user_id)
            new = NewVideo(kind=kind, prompt=prompt, seconds=None if source else "1", size=None if source else "64x64",
                           source=source, characters=character_ids or [], image=image, params={"steps": 1})
            # Not enqueued: the tests run each job themselves (`run`), with a stand-in generator.
            video = request_video(session=session, settings=services.settings, catalog=services.catalog,
                                  storage=services.storage, enqueue=lambda _video_id: None, user=user, new=new)
            session.expunge(video)
            return video

    def run(self, video_id: str) -> Video:
        """Run the queued job with the real job function and the stand-in generator."""
        from duetto.app.jobs.generator import render_clip

        services = self.services
        ctx = JobContext(settings=services.settings, sessions=services.sessions, storage=services.storage,
                         generate=stand_in(self.made), render=render_clip, models_dir=services.settings.models_dir)
        run_video_job(video_id, ctx)
        with self.session() as session:
            video = session.scalar(select(Video).where(Video.id == video_id))
            session.expunge(video)
            return video

    def browser_for(self, account: Account) -> Browser:
        browser = self.browser()
        browser.sign_in(account.handle)
        return browser


def stand_in(made: list[GenerationRequest]):  # noqa: ANN201 - a Generator
    """A generator that records what the engine would have been asked and answers with a small Toybox clip."""
    from duetto.world import random_scene
    from duetto.world.render import (
        render,  # the function: once imported, duetto.world.render names its module
    )

    clip = render(random_scene(np.random.default_rng(1)), width=64, height=64, fps=8.0, seconds=1.0).clip

    def generate(request: GenerationRequest, progress) -> object:  # noqa: ANN001
        made.append(request)
        progress(1, 1)
        return clip

    return generate


def _site(root: Path, models: Path, *, engine: bool = False) -> Iterator[Site]:
    settings = embedded_settings(root, models, web_signup_rate="1000/hour", web_signin_rate="1000/minute")
    made: list[GenerationRequest] = []
    # Jobs that pages and the API enqueue run on the app's worker thread: with the stand-in unless a test
    # needs the tiny model itself (no torch work is then left running when a test ends).
    app = create_app(settings) if engine else create_app(settings, generate=stand_in(made))
    with TestClient(app) as client:
        yield Site(client=client, app=app, made=made)


@pytest.fixture
def site(tmp_path: Path, models_dir: Path) -> Iterator[Site]:  # noqa: F811 - models_dir is the imported fixture
    yield from _site(tmp_path, models_dir)


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Site]:  # noqa: F811
    """One app for many cases that each make their own people (the permission matrix)."""
    yield from _site(tmp_path_factory.mktemp("chars"), models_dir)


@pytest.fixture
def engine_site(tmp_path: Path, models_dir: Path) -> Iterator[Site]:  # noqa: F811
    """The app with the real engine (the tiny model) making the videos its queue runs."""
    yield from _site(tmp_path, models_dir, engine=True)
