"""The app as the web and domain tests drive it: a real app on a fresh SQLite database with the tiny model, a
form-aware client (CSRF tokens read from the pages, like a browser), seeded people, videos, posts and
characters, jobs run by the real job function, and enrollment takes."""

from __future__ import annotations

import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from duetto.app.characters import service as characters
from duetto.app.core.db import session_scope
from duetto.app.core.security import new_id
from duetto.app.db.models import Account, Block, Character, Follow, User, Video
from duetto.app.flows import accounts as account_flows
from duetto.app.flows.videos import request_video
from duetto.app.jobs.runner import JobContext, run_video_job
from duetto.app.social import posts
from duetto.app.users import accounts, ages
from duetto.app.users.service import create_api_key
from duetto.app.videos.generation import GenerationRequest
from duetto.app.videos.service import NewVideo, asset_key
from tests.app.characters import media

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
# Debian's Chromium, driven by Playwright through its executable path (no browser download).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


PASSWORD = "correct horse battery"


_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class Web:
    """A running app and ways to act on it."""

    client: TestClient
    app: object

    @property
    def services(self):  # noqa: ANN201 - the app's Services
        return self.app.state.services

    def session(self):  # noqa: ANN201 - a committing session context
        return session_scope(self.services.sessions)

    def browser(self) -> Browser:
        """A separate cookie jar on the same app: another person's browser."""
        client = TestClient(self.app, base_url="http://testserver")
        return Browser(client)

    def account(self, handle: str, *, display_name: str = "") -> Account:
        with self.session() as session:
            return account_flows.sign_up(session=session, handle=handle, password=PASSWORD, display_name=display_name)

    def video(self, user_id: str, prompt: str, *, assets: dict[str, bytes], status: str = "completed",
              remix_of: str | None = None) -> str:
        """A finished (or other-status) video with real files, as a job would have left it."""
        video_id = new_id("video")
        now = time.time()
        with self.session() as session:
            session.add(Video(id=video_id, user_id=user_id, kind="remix" if remix_of else "create", model="toybox-v2",
                              status=status, progress=100 if status == "completed" else 0, prompt=prompt,
                              size="64x64", seconds="1", generate_seconds=1.0, params={},
                              remixed_from_video_id=remix_of, source_video_id=remix_of, cost=0.0, attempts=1,
                              created_at=now, completed_at=now if status == "completed" else None))
        if status == "completed":
            for variant, data in assets.items():
                self.services.storage.put_bytes(asset_key(video_id, variant), data, "application/octet-stream")
        return video_id

    def post(self, user_id: str, prompt: str, caption: str = "", *, assets: dict[str, bytes],
             remix_of_video: str | None = None) -> tuple[str, str]:
        """(post id, video id) of a posted finished video."""
        video_id = self.video(user_id, prompt, assets=assets, remix_of=remix_of_video)
        with self.session() as session:
            post = posts.publish(session=session, user_id=user_id, video_id=video_id, caption=caption)
        return post.id, video_id

    def post_video(self, post_id: str) -> str:
        from duetto.app.db.models import Post

        with self.session() as session:
            return session.scalar(select(Post.video_id).where(Post.id == post_id))


class Browser:
    """A TestClient that behaves like a browser with forms: it reads the CSRF token from the last page."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kwargs: object):  # noqa: ANN201 - an httpx response
        response = self.client.get(url, **kwargs)
        found = _CSRF.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        if found:
            self.token = found.group(1)
        return response

    def submit(self, url: str, data: dict[str, str] | None = None, *, page: str | None = None,
               files: dict | None = None, **kwargs: object):  # noqa: ANN201
        """POST a form as the page at `page` (default: the form's own URL, or the last page) would."""
        if page is not None or not self.token:
            self.get(page or url)
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, files=files,
                                follow_redirects=False, **kwargs)

    def sign_in(self, handle: str, password: str = PASSWORD) -> None:
        response = self.submit("/signin", {"handle": handle, "password": password}, page="/signin")
        assert response.status_code == 303, response.text
        self.get("/")


def handle() -> str:
    return "u" + secrets.token_hex(4)


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


def api_key_for(site: Web, user_id: str) -> str:
    with site.session() as session:
        user = session.scalar(select(User).where(User.id == user_id))
        return create_api_key(session=session, user=user).secret


def generate(site: Web, key: str, prompt: str, *, size: str = "64x64", seconds: str = "2", seed: int = 3) -> Video:
    """A video made by the server's real job function through the API, once it has completed."""
    auth = {"Authorization": f"Bearer {key}"}
    response = site.client.post("/v1/videos", headers=auth,
                               json={"prompt": prompt, "size": size, "seconds": seconds, "steps": 2, "seed": seed})
    assert response.status_code == 200, response.text
    video_id = response.json()["id"]
    deadline = time.time() + 120
    while time.time() < deadline:
        status = site.client.get(f"/v1/videos/{video_id}", headers=auth).json()["status"]
        if status in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert status == "completed"
    with site.session() as session:
        video = session.scalar(select(Video).where(Video.id == video_id))
        session.expunge(video)
    return video


ESPEAK_MISSING = "espeak-ng is not installed (apt-get install espeak-ng); the enrollment tests speak with it"


class Takes:
    """Rendered takes and their WebM recordings, each made once however many tests ask for it."""

    def __init__(self) -> None:
        self._cache: dict[media.Take, tuple[media.Rendered, bytes]] = {}

    def get(self, take: media.Take) -> tuple[media.Rendered, bytes]:
        if take not in self._cache:
            rendered = media.render(take)
            self._cache[take] = (rendered, media.webm_bytes(rendered))
        return self._cache[take]
