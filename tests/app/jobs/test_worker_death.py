"""Killing workers and servers mid-job: the job is retried once and completes; lost again, it fails with a
clear error; a server restarted after a crash starts, and finishes what the crash left running."""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from duetto.app.core.db import make_engine, make_sessionmaker, session_scope
from duetto.app.db.models import Video
from duetto.app.main import create_app
from tests.app.servers import (
    ProcessServer,
    ThreadedServer,
    add_user,
    embedded_settings,
    free_port,
    scale_out_settings,
    serve_on,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.slow
# Enough denoising steps that a job is still running when the test kills its worker.
LONG = {"steps": 40}
# Deadlines are generous: on a machine whose cores are busy elsewhere, loading the model and denoising
# take many times longer than on an idle one, and a deadline is only there to end a hung test.
DEADLINE_S = 600


def row(settings, video_id: str) -> Video:  # noqa: ANN001
    engine = make_engine(settings)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            found = session.scalar(select(Video).where(Video.id == video_id))
            session.expunge(found)
            return found
    finally:
        engine.dispose()


def create(url: str, key: str, prompt: str, **params: object) -> str:
    response = httpx.post(f"{url}/v1/videos", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                          json={"prompt": prompt, "size": "64x64", "seconds": "1", **LONG, **params})
    assert response.status_code == 200, response.text
    return response.json()["id"]


def running(settings, video_id: str, attempt: int) -> bool:  # noqa: ANN001
    video = row(settings, video_id)
    return video.status == "in_progress" and video.attempts == attempt and video.progress > 5


def finished(settings, video_id: str) -> Video | None:  # noqa: ANN001
    video = row(settings, video_id)
    return video if video.status in ("completed", "failed") else None


def worker_pid(server_pid: int) -> int | None:
    """The embedded worker process of a `duetto serve` process (not multiprocessing's resource tracker)."""
    # /proc lists children per thread, and a restarted worker is the child of the monitor thread.
    for children in Path(f"/proc/{server_pid}/task").glob("*/children"):
        for child in children.read_text().split():
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return int(child)
            except FileNotFoundError:  # exited while we looked
                continue
    return None


def test_embedded_worker_and_server_killed_mid_job(models_dir: Path, tmp_path: Path,
                                                   processes: list[ProcessServer]) -> None:
    settings = embedded_settings(tmp_path, models_dir, embedded_worker="process")
    _, key = add_user(settings)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"

    server = serve_on(port, settings, log, processes)
    retried = create(url, key, "a ball")
    wait_until(lambda: running(settings, retried, 1), timeout=DEADLINE_S, what="the first job to be denoising")
    first_worker = worker_pid(server.proc.pid)
    assert first_worker is not None
    os.kill(first_worker, signal.SIGKILL)

    # The server starts a new worker process, and the reaper hands it the orphaned job: its second and
    # last attempt, which completes.
    video = wait_until(lambda: finished(settings, retried), timeout=DEADLINE_S, what="the retried job")
    assert (video.status, video.attempts) == ("completed", 2), video.error_message
    assert worker_pid(server.proc.pid) not in (None, first_worker)

    # Now the whole server dies mid-job; its worker must die with it, or the job would stay in_progress.
    lost = create(url, key, "a box")
    wait_until(lambda: running(settings, lost, 1), timeout=DEADLINE_S, what="the second job to be denoising")
    server.kill()
    # With one attempt allowed, the restarted server fails the orphan with a clear error.
    serve_on(port, settings, log, processes, DUETTO_MAX_ATTEMPTS="1")

    def reaped() -> dict | None:
        body = httpx.get(f"{url}/v1/videos/{lost}", headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
        return body if body["status"] != "in_progress" else None

    # Once its heartbeat is older than the timeout, the reaper gives up on it.
    body = wait_until(reaped, timeout=DEADLINE_S, what="the orphaned job to be reaped")
    assert body["status"] == "failed" and body["error"]["code"] == "worker_lost"
    assert "stopped responding" in body["error"]["message"]


def test_a_server_restarted_after_a_crash_starts_and_finishes_the_orphaned_job(
        models_dir: Path, tmp_path: Path, processes: list[ProcessServer]) -> None:
    """The start-up sweep requeues a job whose heartbeat went stale while the server was down; the queue it
    hands the job to must already be running (it was not, and `duetto serve` exited with code 3)."""
    settings = embedded_settings(tmp_path, models_dir, embedded_worker="process")
    _, key = add_user(settings)
    port = free_port()
    log = tmp_path / "server.log"

    server = serve_on(port, settings, log, processes)
    orphan = create(f"http://127.0.0.1:{port}", key, "a ball")
    wait_until(lambda: running(settings, orphan, 1), timeout=DEADLINE_S, what="the job to be denoising")
    server.kill()  # kill -9: no shutdown runs, the row stays in_progress; the worker exits with its parent

    def stale() -> bool:
        video = row(settings, orphan)
        assert video.status == "in_progress", "the job was finished by a worker that should be dead"
        return video.heartbeat_at < time.time() - settings.heartbeat_timeout_s - 1

    wait_until(stale, timeout=DEADLINE_S, what="the orphaned job's heartbeat to go stale")

    # The restart must come up (wait_http fails at once if the process exits) and run the job again.
    restarted = serve_on(port, settings, log, processes)
    video = wait_until(lambda: finished(settings, orphan), timeout=DEADLINE_S, what="the orphaned job to finish")
    assert restarted.proc.poll() is None
    assert (video.status, video.attempts) in {("completed", 2), ("failed", 2)}, video.error_message
    if video.status == "failed":  # its worker was lost again: the last attempt ends it, with the reason
        assert video.error_code == "worker_lost", video.error_message


@pytest.mark.services
def test_celery_worker_killed_mid_job(models_dir: Path, tmp_path: Path, postgres_url: str, s3_endpoint: str,
                                      aws_env: None, processes: list[ProcessServer]) -> None:
    settings = scale_out_settings(tmp_path, models_dir, postgres_url, s3_endpoint,
                                  celery_queue=f"duetto-kill-{secrets.token_hex(3)}")
    _, key = add_user(settings)
    with ThreadedServer(create_app(settings)) as server:
        worker = start_worker(settings, tmp_path / "worker1.log")
        processes.append(worker)
        video_id = create(server.url, key, "a ball")
        wait_until(lambda: running(settings, video_id, 1), timeout=DEADLINE_S, what="the job to be denoising")
        worker.kill()
        processes.append(start_worker(settings, tmp_path / "worker2.log"))
        video = wait_until(lambda: finished(settings, video_id), timeout=DEADLINE_S, what="the retried job")
        assert (video.status, video.attempts) == ("completed", 2), video.error_message


def shot_rows(settings, story_id: str) -> list[Video]:  # noqa: ANN001
    """Every take made for the story's shots, in the order they were asked for."""
    engine = make_engine(settings)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            found = [v for v in session.scalars(select(Video).where(Video.kind == "shot").order_by(Video.seq))
                     if (v.params or {}).get("story_id") == story_id]
            session.expunge_all()
            return found
    finally:
        engine.dispose()


@pytest.mark.services
def test_celery_worker_killed_during_a_storys_second_shot(models_dir: Path, tmp_path: Path, postgres_url: str,
                                                          s3_endpoint: str, aws_env: None,
                                                          processes: list[ProcessServer]) -> None:
    """The story resumes at its unfinished shot: shot 2 is retried, shots 1 and 3 are made once."""
    settings = scale_out_settings(tmp_path, models_dir, postgres_url, s3_endpoint,
                                  celery_queue=f"duetto-story-{secrets.token_hex(3)}")
    _, key = add_user(settings)
    auth = {"Authorization": f"Bearer {key}"}
    with ThreadedServer(create_app(settings)) as server:
        worker = start_worker(settings, tmp_path / "worker1.log")
        processes.append(worker)
        shots = [{"prompt": p, "seconds": 1} for p in ("a ball falls", "the ball bounces", "the ball rolls away")]
        response = httpx.post(f"{server.url}/v1/storyboards", headers=auth, timeout=60,
                              json={"size": "64x64", "shots": shots, **LONG})
        assert response.status_code == 200, response.text
        story_id = response.json()["id"]

        def second_running() -> bool:
            takes = shot_rows(settings, story_id)
            return len(takes) == 2 and running(settings, takes[1].id, 1)

        wait_until(second_running, timeout=DEADLINE_S, what="shot 2 to be denoising")
        worker.kill()
        processes.append(start_worker(settings, tmp_path / "worker2.log"))

        def story_ready() -> dict | None:
            story = httpx.get(f"{server.url}/v1/storyboards/{story_id}", headers=auth, timeout=60).json()
            assert story["status"] != "failed", story
            return story if story["status"] == "ready" else None

        story = wait_until(story_ready, timeout=DEADLINE_S, interval=0.5, what="the story to complete")
    takes = shot_rows(settings, story_id)
    assert [t.params["shot_id"] for t in takes] == [s["id"] for s in story["shots"]]  # one take per shot
    assert [t.attempts for t in takes] == [1, 2, 1]  # shot 2 retried once; shots 1 and 3 made once
    assert [t.status for t in takes] == ["completed"] * 3
    assert story["video"]["status"] == "completed"
