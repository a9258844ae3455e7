"""Fixtures for the social web app: a real app on a fresh SQLite database with the tiny model, a form-aware
client (CSRF tokens read from the pages, like a browser), and seeded users, videos and posts."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from duetto.app.core.db import session_scope
from duetto.app.core.security import new_id
from duetto.app.db.models import Account, Video
from duetto.app.flows import accounts as account_flows
from duetto.app.main import create_app
from duetto.app.social import posts
from duetto.app.videos.service import asset_key
from tests.app.conftest import embedded_settings

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from duetto.engine.testing import make_tiny_model

    root = tmp_path_factory.mktemp("models")
    make_tiny_model(root / "toybox-v1")
    return root


@pytest.fixture(scope="session")
def clip_assets() -> dict[str, bytes]:
    """Real files (MP4 with sound, thumbnail, spritesheet) of one Toybox clip, for seeded finished videos."""
    from duetto.app.jobs.generator import render_clip
    from duetto.world import random_scene
    from duetto.world.render import (
        render,  # the function: once imported, duetto.world.render names its module
    )

    scene = random_scene(np.random.default_rng(7))
    result = render(scene, width=64, height=64, fps=8.0, seconds=1.0)
    return render_clip(result.clip)


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
            session.add(Video(id=video_id, user_id=user_id, kind="remix" if remix_of else "create", model="toybox-v1",
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


@pytest.fixture
def web(tmp_path: Path, models_dir: Path) -> Iterator[Web]:
    settings = embedded_settings(tmp_path, models_dir, admin_handles="mia_mod", web_signup_rate="1000/hour")
    app = create_app(settings)
    with TestClient(app) as client:
        yield Web(client=client, app=app)


def handle() -> str:
    return "u" + secrets.token_hex(4)
