"""The fixtures of every studio test, in one place: a tiny real model and the shipped one, apps on fresh databases
(web, characters, with the real engine or a stand-in), a migrated database alone, synthetic enrollment takes, and the
scale-out services (PostgreSQL, Redis, a Celery worker, an S3 server) when `scripts/services.sh` ran."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from duetto.app.core.db import make_sessionmaker, upgrade_database
from duetto.app.main import create_app
from duetto.app.videos.generation import GenerationRequest
from tests.app.characters import media
from tests.app.servers import (
    AWS_ENV,
    DATABASE_URL,
    REDIS_URL,
    SERVICES_REASON,
    ProcessServer,
    embedded_settings,
    free_port,
    postgres_database,
    wait_until,
)
from tests.app.sites import ESPEAK_MISSING, Site, Takes, Web, stand_in


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the tiny random-weight model under the default name, and a broken one."""
    from duetto.engine.testing import make_tiny_model

    root = tmp_path_factory.mktemp("models")
    make_tiny_model(root / "toybox-v2")
    broken = root / "broken-v0"
    broken.mkdir()
    # A catalog entry whose weights are missing: requests validate, generation fails.
    (broken / "model_index.json").write_text((root / "toybox-v2" / "model_index.json").read_text())
    return root


@pytest.fixture
def processes() -> Iterator[list[ProcessServer]]:
    """Every ProcessServer a test appends here is stopped when the test ends, passed or failed."""
    started: list[ProcessServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def services_available() -> None:
    if not (DATABASE_URL and REDIS_URL):
        pytest.skip(SERVICES_REASON)


@pytest.fixture(scope="session")
def postgres_url(services_available: None) -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    assert DATABASE_URL
    with postgres_database(DATABASE_URL) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint(services_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's standalone S3-compatible server as its own process."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url + "/moto-api/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=120, interval=0.2, what="moto S3 server")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in AWS_ENV}
    os.environ.update(AWS_ENV)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


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


@pytest.fixture
def web(tmp_path: Path, models_dir: Path) -> Iterator[Web]:
    settings = embedded_settings(tmp_path, models_dir, admin_handles="mia_mod", web_signup_rate="1000/hour")
    app = create_app(settings)
    with TestClient(app) as client:
        yield Web(client=client, app=app)


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


@pytest.fixture(scope="session")
def shipped_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the shipped model itself (`models/toybox-v2`, linked, not copied)."""
    shipped = Path(__file__).resolve().parents[2] / "models" / "toybox-v2"
    root = tmp_path_factory.mktemp("shipped-models")
    (root / "toybox-v2").symlink_to(shipped, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def shipped_engine(shipped_models_dir: Path):  # noqa: ANN201 - an EngineGenerator
    """One engine for every test on the shipped model, so that its weights load once per test session."""
    from duetto.app.jobs.generator import EngineGenerator

    return EngineGenerator(torch_threads=1)


@pytest.fixture(scope="module")
def shipped_site(tmp_path_factory: pytest.TempPathFactory, shipped_models_dir: Path, shipped_engine) -> Iterator[Site]:  # noqa: ANN001
    """The app making its videos with the shipped model (one app per test module; each test makes its people)."""
    settings = embedded_settings(tmp_path_factory.mktemp("shipped"), shipped_models_dir,
                                 web_signup_rate="1000/hour", web_signin_rate="1000/minute")
    app = create_app(settings, generate=shipped_engine)
    with TestClient(app) as client:
        yield Site(client=client, app=app)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A session on a database brought up by the migrations (SQLite; PostgreSQL when services run)."""
    from sqlalchemy import create_engine

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'moderation.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    if request.param == "postgresql":
        # The session-wide database is shared; start from a clean schema each time.
        from alembic import command

        from duetto.app.core.db import alembic_config

        command.downgrade(alembic_config(engine), "base")
    upgrade_database(engine)
    session = make_sessionmaker(engine)()
    try:
        yield session
    finally:
        session.close()
        engine.dispose()


@pytest.fixture(scope="session")
def espeak() -> str:
    program = media.espeak()
    if program is None:
        pytest.skip(ESPEAK_MISSING)
    return program


@pytest.fixture(scope="session")
def can_render(espeak: str) -> None:
    """Takes need the voice and the face: espeak-ng and scikit-image's sample photograph."""
    pytest.importorskip("skimage", reason="scikit-image (the test extra) provides the test face")


@pytest.fixture(scope="session")
def takes(can_render: None) -> Takes:
    return Takes()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Debian's Chromium under Playwright, one per test module; skips where it is not installed."""
    from playwright import sync_api as playwright_api

    from tests.app.sites import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
