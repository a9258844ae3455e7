"""Issue 18's acceptance round trip between two real `duetto serve` processes, each on its own data: a library
seeded into instance A is exported by its owner through A's API (polled, downloaded), imported through B's API
by a newcomer there (posts=posted, polled), and read back through B's API and database. On the embedded default
(SQLite + local media), and on PostgreSQL + S3 where the services run (each instance its own database and its
own bucket)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duetto.app.core.config import Settings
from duetto.app.core.db import make_engine, make_sessionmaker, session_scope
from duetto.app.db.models import Character, CharacterRule, ConsentRecord, Post, Video
from duetto.app.infra.storage import make_storage
from duetto.app.main import create_app
from duetto.media import probe_mp4
from tests.app.library.library import Library, seed_library
from tests.app.servers import (
    AWS_ENV,
    DATABASE_URL,
    ProcessServer,
    add_user,
    embedded_settings,
    free_port,
    postgres_database,
    scale_out_settings,
    serve_on,
    wait_until,
)
from tests.app.sites import Site, api_key_for, stand_in

pytestmark = pytest.mark.slow
# Only there to end a hung test: on busy cores each clip's signed download takes many seconds to make.
DEADLINE_S = 1200


@dataclass
class Instance:
    """One instance's settings, and the environment its `duetto serve` process needs beside them."""

    settings: Settings
    env: dict[str, str]
    url: str = ""

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture(params=["embedded", pytest.param("scale-out", marks=pytest.mark.services)])
def instances(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    """Instance A (a.example) and instance B (b.example), sharing nothing but the models folder."""
    names = {"a": "a.example", "b": "b.example"}
    if request.param == "scale-out":
        request.getfixturevalue("services_available")  # skips, with the reason, where the services do not run
    models_dir = request.getfixturevalue("models_dir")
    if request.param == "embedded":
        yield tuple(Instance(embedded_settings(tmp_path / n, models_dir, instance_name=label), {})  # type: ignore[misc]
                    for n, label in names.items())
        return
    s3_url = request.getfixturevalue("s3_endpoint")
    request.getfixturevalue("aws_env")  # the seeding below talks to S3 from this process
    assert DATABASE_URL
    with postgres_database(DATABASE_URL) as a_db, postgres_database(DATABASE_URL) as b_db:
        yield tuple(  # type: ignore[misc]
            Instance(scale_out_settings(tmp_path / n, models_dir, db, s3_url, instance_name=label,
                                        s3_bucket=f"duetto-library-{n}-{secrets.token_hex(3)}"), dict(AWS_ENV))
            for (n, label), db in zip(names.items(), (a_db, b_db), strict=True))


def seed(settings: Settings, clip_assets: dict[str, bytes]) -> tuple[Library, str]:
    """The library written into A's database and storage by the in-process helpers (before A's server runs),
    and an API key for its owner."""
    app = create_app(settings, generate=stand_in([]))
    with TestClient(app) as client:
        site = Site(client=client, app=app)
        lib = seed_library(site, clip_assets)
        return lib, api_key_for(site, lib.owner.user_id)


def finished(url: str, headers: dict[str, str]) -> dict[str, Any] | None:
    body = httpx.get(url, headers=headers, timeout=60).json()
    return body if body["status"] in ("completed", "failed") else None


def start_export(a: Instance, key: str) -> str:
    created = httpx.post(f"{a.url}/v1/exports", headers=a.auth(key), timeout=60)
    assert created.status_code == 200, created.text
    export_id = created.json()["id"]
    assert created.json()["object"] == "library.export"
    return export_id


def test_library_round_trip_between_two_servers(instances: tuple[Instance, Instance], clip_assets: dict[str, bytes],
                                                tmp_path: Path, processes: list[ProcessServer]) -> None:
    a, b = instances
    lib, owner_key = seed(a.settings, clip_assets)
    newcomer_id, newcomer_key = add_user(b.settings, "newcomer")

    # A: the owner exports their library through the API. B starts while A works on it.
    a_port, b_port = free_port(), free_port()
    a.url, b.url = f"http://127.0.0.1:{a_port}", f"http://127.0.0.1:{b_port}"
    serve_on(a_port, a.settings, tmp_path / "a.log", processes, **a.env)
    export_id = start_export(a, owner_key)
    serve_on(b_port, b.settings, tmp_path / "b.log", processes, **b.env)
    exported = wait_until(lambda: finished(f"{a.url}/v1/exports/{export_id}", a.auth(owner_key)),
                          timeout=DEADLINE_S, interval=1, what="the export")
    assert exported["status"] == "completed", exported["error"]
    assert exported["progress"] == 100 and exported["report"]["videos"] == len(lib.prompts)
    archive = tmp_path / "library.zip"
    with httpx.stream("GET", f"{a.url}/v1/exports/{export_id}/content", headers=a.auth(owner_key),
                      timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
        with archive.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
    assert archive.stat().st_size == exported["bytes"] == int(response.headers["content-length"])

    # B: a newcomer imports it through the API, posts staying posted.
    with archive.open("rb") as upload:
        created = httpx.post(f"{b.url}/v1/imports", headers=b.auth(newcomer_key), timeout=300,
                             files={"archive": ("library.zip", upload, "application/zip")}, data={"posts": "posted"})
    assert created.status_code == 200, created.text
    imported = wait_until(lambda: finished(f"{b.url}/v1/imports/{created.json()['id']}", b.auth(newcomer_key)),
                          timeout=DEADLINE_S, interval=1, what="the import")
    assert imported["status"] == "completed", imported["error"]
    report = imported["report"]
    assert (report["videos"], report["posts"], report["drafts"]) == (len(lib.prompts), 2, len(lib.prompts) - 2)
    assert report["from_instance"] == "a.example" and report["characters"] == 2
    assert report["characters_only_me"] == [lib.person.name] and report["approvals_kept_as_reference"] == 1

    # B's API: the same items on new ids, the remix chain re-linked between them.
    listed = httpx.get(f"{b.url}/v1/videos", params={"limit": 100}, headers=b.auth(newcomer_key), timeout=60).json()
    videos = listed["data"]
    assert sorted(v["prompt"] for v in videos) == sorted(lib.prompts.values())
    assert not {v["id"] for v in videos} & set(lib.prompts)
    assert {v["status"] for v in videos} == {"completed"}
    by_prompt = {v["prompt"]: v for v in videos}
    chain = [by_prompt[lib.prompts[video_id]] for video_id in lib.chain]
    assert chain[0]["remixed_from_video_id"] is None
    assert chain[1]["remixed_from_video_id"] == chain[0]["id"]
    assert chain[2]["remixed_from_video_id"] == chain[1]["id"]
    assert by_prompt[lib.prompts[lib.remix_of_friend]]["remixed_from_video_id"] is None  # not theirs to copy
    # The media came along: B serves a clip's thumbnail as stored, and makes its own signed download.
    thumbnail = httpx.get(f"{b.url}/v1/videos/{chain[1]['id']}/content", params={"variant": "thumbnail"},
                          headers=b.auth(newcomer_key), timeout=60)
    assert thumbnail.status_code == 200 and thumbnail.content[8:12] == b"WEBP"
    download = httpx.get(f"{b.url}/v1/videos/{chain[1]['id']}/content", headers=b.auth(newcomer_key), timeout=300)
    assert download.status_code == 200, download.text
    (tmp_path / "download.mp4").write_bytes(download.content)
    assert probe_mp4(tmp_path / "download.mp4")["video"]["codec"] == "h264"

    # B's API: the characters, the toy with its sharing, the person back to 'only me'.
    characters = httpx.get(f"{b.url}/v1/videos/characters", headers=b.auth(newcomer_key), timeout=60).json()["data"]
    mine = {c["kind"]: c for c in characters if c["owned"]}
    assert len(mine) == 2 and len(characters) == 2
    assert mine["toy"]["permission"] == "mutuals" and mine["toy"]["toy"] == lib.toy.toy
    assert mine["toy"]["name"] == lib.toy.name
    assert mine["person"]["permission"] == "only_me"

    # B's database and storage: nothing but the newcomer's rows, with their links and origins.
    engine = make_engine(b.settings)
    storage = make_storage(b.settings)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            rows = session.scalars(select(Video)).all()
            assert {v.user_id for v in rows} == {newcomer_id}  # the friend's video is not invented here
            by_origin = {v.params["imported_from"]["video_id"]: v for v in rows}
            assert {k: v.prompt for k, v in by_origin.items()} == lib.prompts
            assert {v.params["imported_from"]["instance"] for v in rows} == {"a.example"}
            reference = by_origin[lib.remix_of_friend].params["parent_reference"]
            assert reference["creator"] == f"{lib.friend.handle}@a.example"
            posts = {p.video_id: p for p in session.scalars(select(Post))}
            assert set(posts) == {by_origin[v].id for v in lib.posts.values()}
            assert posts[by_origin[lib.chain[1]].id].parent_post_id == posts[by_origin[lib.chain[0]].id].id
            for video in rows:
                assert storage.exists(f"videos/{video.id}/video.mp4")
            toy = session.get(Character, mine["toy"]["id"])
            assert session.scalars(select(CharacterRule.text).where(CharacterRule.character_id == toy.id)).all() == [
                "no politics"]
            person = session.get(Character, mine["person"]["id"])
            assert person.needs_enrollment and storage.exists(person.still_key)
            ledger = session.scalars(select(ConsentRecord.result).where(ConsentRecord.user_id == newcomer_id)
                                     .order_by(ConsentRecord.id)).all()
            assert ledger == ["imported:passed", "imported:failed"]
            assert session.scalar(select(func.count()).select_from(Character)) == 2
    finally:
        engine.dispose()
