"""Servers for the studio's tests: settings on a temporary data folder, the server on a thread or in its own
process group (stopped, workers included, even when a test fails), users with keys, and the scale-out set."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from duetto.app.core.config import Settings
from duetto.app.core.db import make_engine, make_sessionmaker, session_scope, upgrade_database
from duetto.app.users.service import create_api_key, create_user

DATABASE_URL = os.environ.get("DUETTO_TEST_DATABASE_URL")


REDIS_URL = os.environ.get("DUETTO_TEST_REDIS_URL")


SERVICES_REASON = "PostgreSQL/Redis not started: run `eval \"$(scripts/services.sh)\"` (as .ci/run does)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def settings_env(settings: Settings) -> dict[str, str]:
    """The DUETTO_* variables that recreate `settings` in another process."""
    env = {}
    for name, value in settings.model_dump(exclude_none=True).items():
        env[f"DUETTO_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def add_user(settings: Settings, name: str | None = None, *, daily_quota: float | None = None) -> tuple[str, str]:
    """(user id, API key) of a new user in the settings' database."""
    engine = make_engine(settings)
    upgrade_database(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        user = create_user(session=session, name=name or f"user-{secrets.token_hex(4)}", daily_quota=daily_quota)
        key = create_api_key(session=session, user=user)
    engine.dispose()
    return user.id, key.secret


class ThreadedServer:
    """uvicorn serving an app on a loopback port from a background thread."""

    def __init__(self, app, port: int | None = None) -> None:  # noqa: ANN001
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=2)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=60, what="server start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)


class ProcessServer:
    """`duetto serve` (or `duetto worker`) as a child process, so a test can kill it.

    It runs in a process group of its own, so stopping it also stops whatever it started (the embedded
    worker, Celery's children) even when the server itself was killed.
    """

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> ProcessServer:
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "duetto.app.cli", *self.args],
            env=env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def wait_http(self, url: str, timeout: float = 300) -> None:
        """Wait until the server answers; fail at once, with its exit code, if it exits instead."""

        def up() -> bool:
            code = self.proc.poll()  # type: ignore[union-attr]
            assert code is None, f"`duetto {' '.join(self.args)}` exited with code {code}; see {self.log}"
            try:
                return httpx.get(url + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=timeout, interval=0.2, what=f"{url} to answer")

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.proc.pid, signum)  # type: ignore[union-attr]
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the server alone (as a crash would): its worker must notice by itself."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def stop(self) -> None:
        """Stop the server gracefully if it can, then anything left in its process group."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._signal_group(signal.SIGKILL)


def serve_on(port: int, settings: Settings, log: Path, processes: list[ProcessServer], **env: str) -> ProcessServer:
    """A `duetto serve` process answering on `port`, stopped (with its worker) when the test ends."""
    server = ProcessServer(["serve", "--port", str(port), "--log-level", "warning"],
                           {**settings_env(settings), **env}, log).start()
    processes.append(server)
    server.wait_http(f"http://127.0.0.1:{port}")
    return server


def wait_http(url: str, timeout: float = 90) -> None:
    def up() -> bool:
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=timeout, interval=0.2, what=f"{url} to answer")


@dataclass
class Stack:
    """A running server: its URL, its settings, and a way to make users on it."""

    name: str
    url: str
    settings: Settings
    extra: dict = field(default_factory=dict)

    def user(self, **kwargs: object) -> tuple[str, str]:
        return add_user(self.settings, **kwargs)  # type: ignore[arg-type]


def embedded_settings(tmp: Path, models_dir: Path, **overrides: object) -> Settings:
    # A worker thread shares this process's already-imported engine; `duetto serve` itself defaults to a
    # worker process, which the worker-death tests use.
    values = dict(data_dir=tmp / "data", models_dir=models_dir, heartbeat_timeout_s=5.0, reaper_interval_s=0.5,
                  poll_after_ms=200, torch_threads=1, embedded_worker="thread", rate_limit="100000/minute")
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """The URL of a fresh PostgreSQL database on the server of `base_url`, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(base_url)
    name = f"duetto_t_{secrets.token_hex(4)}"
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


AWS_ENV = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def scale_out_settings(tmp: Path, models_dir: Path, database_url: str, s3_url: str, **overrides: object) -> Settings:
    assert REDIS_URL
    values = dict(
        data_dir=tmp / "data", models_dir=models_dir, database_url=database_url, queue="celery", redis_url=REDIS_URL,
        celery_queue=f"duetto-test-{secrets.token_hex(4)}", storage="s3", s3_bucket="duetto-test",
        s3_endpoint_url=s3_url, s3_prefix=secrets.token_hex(4), heartbeat_timeout_s=5.0, reaper_interval_s=0.5,
        poll_after_ms=200, torch_threads=1, rate_limit="100000/minute",
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def start_worker(settings: Settings, log: Path) -> ProcessServer:
    worker = ProcessServer(["worker", "--log-level", "WARNING"], {**settings_env(settings), **AWS_ENV}, log).start()
    return worker
