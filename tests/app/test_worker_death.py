"""Killing workers mid-job: the job is retried once and completes; lost again, it fails with a clear error."""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from duetto.app.core.db import make_engine, make_sessionmaker, session_scope
from duetto.app.db.models import Video
from duetto.app.main import create_app
from tests.app.conftest import (
    ProcessServer,
    ThreadedServer,
    add_user,
    embedded_settings,
    free_port,
    scale_out_settings,
    settings_env,
    start_worker,
    wait_http,
    wait_until,
)

pytestmark = pytest.mark.slow
# Enough denoising steps that a job is still running when the test kills its worker.
LONG = {"steps": 40}


def row(settings, video_id: str) -> Video:  # noqa: ANN001
    engine = make_engine(settings)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            found = session.scalar(select(Video).where(Video.id == video_id))
            session.expunge(found)
            return found
    finally:
        engine.dispose()


def create(url: str, key: str, prompt: str) -> str:
    response = httpx.post(f"{url}/v1/videos", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                          json={"prompt": prompt, "size": "64x64", "seconds": "1", **LONG})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def running(settings, video_id: str, attempt: int) -> bool:  # noqa: ANN001
    video = row(settings, video_id)
    return video.status == "in_progress" and video.attempts == attempt and video.progress > 5


def worker_pid(server_pid: int) -> int | None:
    """The embedded worker process of a `duetto serve` process (not multiprocessing's resource tracker)."""
    # /proc lists children per thread, and a restarted worker is the child of the monitor thread.
    for children in Path(f"/proc/{server_pid}/task").glob("*/children"):
        for child in children.read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    return None


def test_embedded_worker_and_server_killed_mid_job(models_dir: Path, tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path, models_dir, embedded_worker="process")
    _, key = add_user(settings)
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def serve(**env: str) -> ProcessServer:
        server = ProcessServer(["serve", "--port", str(port), "--log-level", "warning"],
                               {**settings_env(settings), **env}, tmp_path / "server.log").start()
        wait_http(url)
        return server

    server = serve()
    retried = create(url, key, "a ball")
    wait_until(lambda: running(settings, retried, 1), timeout=120, what="the first job to be denoising")
    first_worker = worker_pid(server.proc.pid)
    os.kill(first_worker, signal.SIGKILL)

    # The server starts a new worker process, and the reaper hands it the orphaned job: its second and
    # last attempt, which completes.
    wait_until(lambda: row(settings, retried).status in ("completed", "failed"), timeout=180,
               what="the retried job")
    video = row(settings, retried)
    assert (video.status, video.attempts) == ("completed", 2), video.error_message
    assert worker_pid(server.proc.pid) not in (None, first_worker)

    # Now the whole server dies mid-job; its worker must die with it, or the job would stay in_progress.
    lost = create(url, key, "a box")
    wait_until(lambda: running(settings, lost, 1), timeout=120, what="the second job to be denoising")
    server.kill()
    # With one attempt allowed, the next start fails the orphan with a clear error.
    restarted = serve(DUETTO_MAX_ATTEMPTS="1")
    try:
        def finished() -> dict | None:
            body = httpx.get(f"{url}/v1/videos/{lost}", headers={"Authorization": f"Bearer {key}"}).json()
            return body if body["status"] != "in_progress" else None

        # Once its heartbeat is older than the timeout, the reaper gives up on it.
        body = wait_until(finished, timeout=60, what="the orphaned job to be reaped")
        assert body["status"] == "failed" and body["error"]["code"] == "worker_lost"
        assert "stopped responding" in body["error"]["message"]
    finally:
        restarted.stop()


@pytest.mark.services
def test_celery_worker_killed_mid_job(models_dir: Path, tmp_path: Path, postgres_url: str, s3_endpoint: str,
                                      aws_env: None) -> None:
    settings = scale_out_settings(tmp_path, models_dir, postgres_url, s3_endpoint,
                                  celery_queue=f"duetto-kill-{secrets.token_hex(3)}")
    _, key = add_user(settings)
    with ThreadedServer(create_app(settings)) as server:
        worker = start_worker(settings, tmp_path / "worker1.log")
        video_id = create(server.url, key, "a ball")
        wait_until(lambda: running(settings, video_id, 1), timeout=120, what="the job to be denoising")
        worker.kill()
        replacement = start_worker(settings, tmp_path / "worker2.log")
        try:
            wait_until(lambda: row(settings, video_id).status in ("completed", "failed"), timeout=180,
                       what="the retried job")
            video = row(settings, video_id)
            assert (video.status, video.attempts) == ("completed", 2), video.error_message
        finally:
            replacement.stop()
