"""Fixtures for the app's provenance features: the web app fixtures, plus an API key for a web account."""

from __future__ import annotations

import time

from sqlalchemy import select

from duetto.app.db.models import User, Video
from duetto.app.users.service import create_api_key
from tests.web.conftest import Web, clip_assets, handle, models_dir, web  # noqa: F401 - fixtures re-exported


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
