"""`duetto serve`, `duetto worker`, `duetto users create` and `duetto keys create|list|revoke`: the studio's
commands (`duetto moderation` lives beside the moderation code)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from duetto.app.core.config import Settings

console = Console(stderr=True)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as error:  # pydantic's message lists each bad DUETTO_* value
        console.print(f"[red]Invalid settings:[/red] {error}")
        raise typer.Exit(code=2) from None


def _sessions(settings: Settings):  # noqa: ANN202 - a sessionmaker
    from duetto.app.core.db import make_engine, make_sessionmaker, upgrade_database

    engine = make_engine(settings)
    if settings.auto_migrate:
        upgrade_database(engine)
    return make_sessionmaker(engine)


DataDir = typer.Option(None, "--data-dir", help="Where the SQLite file and media live (DUETTO_DATA_DIR).")
ModelsDir = typer.Option(None, "--models-dir", help="Folder of model folders (DUETTO_MODELS_DIR).")


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    data_dir: Path | None = DataDir,
    models_dir: Path | None = ModelsDir,
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Run the studio server: the /v1/videos API plus, by default, an in-process worker."""
    import uvicorn

    from duetto.app.main import create_app

    settings = _settings(data_dir=data_dir, models_dir=models_dir)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)


def worker(
    gpus: str | None = typer.Option(
        None, help="Comma-separated GPU indices: one worker process per GPU (e.g. 0,1). Default: one CPU worker."
    ),
    gpu: int | None = typer.Option(None, hidden=True, help="Run as the worker for this one GPU."),
    log_level: str = typer.Option("INFO", help="Celery log level."),
) -> None:
    """Run Celery GPU workers (the scale-out set): they take jobs from Redis and run the engine."""
    settings = _settings(queue="celery")
    if gpus and gpu is None:
        _run_per_gpu([g.strip() for g in gpus.split(",") if g.strip()], log_level)
        return
    if gpu is not None:
        # Set before torch ever loads in this process, so it sees exactly its one GPU as cuda:0.
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
        settings = _settings(queue="celery", device="cuda")
    from duetto.app.jobs.celery_app import make_celery

    name = f"duetto-{'gpu' + str(gpu) if gpu is not None else 'cpu'}-{os.getpid()}@%h"
    # The solo pool runs jobs in this very process: no fork, so torch is never initialised in a forked parent.
    make_celery(settings).worker_main(
        ["worker", "--pool=solo", "--concurrency=1", f"--queues={settings.celery_queue}",
         f"--loglevel={log_level}", f"--hostname={name}", "--without-gossip", "--without-mingle"]
    )


def _run_per_gpu(gpus: list[str], log_level: str) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-m", "duetto.app.cli", "worker", "--gpu", g, "--log-level", log_level])
        for g in gpus
    ]
    try:
        codes = [p.wait() for p in procs]
    except KeyboardInterrupt:
        for p in procs:
            p.terminate()
        codes = [p.wait() for p in procs]
    raise typer.Exit(code=max(codes, default=0))


users_app = typer.Typer(help="Manage users of the studio server.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    name: str = typer.Argument(..., help="A unique user name."),
    daily_quota: float | None = typer.Option(None, help="Credits per UTC day (default: DUETTO_DAILY_QUOTA)."),
    with_key: bool = typer.Option(True, help="Also create an API key and print it."),
    data_dir: Path | None = DataDir,
) -> None:
    """Create a user; prints its webhook signing secret and (by default) a first API key."""
    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.users.service import create_api_key, create_user

    sessions = _sessions(_settings(data_dir=data_dir))
    try:
        with session_scope(sessions) as session:
            user = create_user(session=session, name=name, daily_quota=daily_quota)
            key = create_api_key(session=session, user=user) if with_key else None
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    console.print(f"user {user.name} ({user.id})")
    console.print(f"webhook secret: {user.webhook_secret}")
    if key:
        console.print("API key (shown once; keep it):")
        typer.echo(key.secret)


@keys_app.command("create")
def keys_create(
    user: str = typer.Argument(..., help="The user name the key is for."),
    data_dir: Path | None = DataDir,
) -> None:
    """Create an API key for a user and print it (it is shown only this once)."""
    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.users.service import create_api_key, get_user_by_name

    sessions = _sessions(_settings(data_dir=data_dir))
    try:
        with session_scope(sessions) as session:
            key = create_api_key(session=session, user=get_user_by_name(session=session, name=user))
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    typer.echo(key.secret)


@keys_app.command("list")
def keys_list(
    user: str = typer.Argument(..., help="The user name whose keys to list."),
    data_dir: Path | None = DataDir,
) -> None:
    """List a user's API keys: id, the key's first characters, when it was made and whether it is revoked."""
    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.users.service import get_user_by_name, list_api_keys

    sessions = _sessions(_settings(data_dir=data_dir))
    try:
        with session_scope(sessions) as session:
            keys = list_api_keys(session=session, user_id=get_user_by_name(session=session, name=user).id)
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    # Plain columns, never cut to the terminal's width: the id is what `duetto keys revoke` needs.
    typer.echo(f"{'id':<29}  {'key starts':<11}  {'created (UTC)':<19}  revoked (UTC)")
    for key in keys:
        revoked = _utc(key.revoked_at) if key.revoked_at else "-"
        typer.echo(f"{key.id:<29}  {key.prefix + '...':<11}  {_utc(key.created_at):<19}  {revoked}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (key_…), as `duetto keys list` shows it."),
    data_dir: Path | None = DataDir,
) -> None:
    """Revoke an API key: every server refuses it from its next request on."""
    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.users.service import revoke_api_key

    sessions = _sessions(_settings(data_dir=data_dir))
    try:
        with session_scope(sessions) as session:
            key = revoke_api_key(session=session, key_id=key_id)
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    console.print(f"revoked {key.id} ({key.prefix}...) at {_utc(key.revoked_at)} UTC")


def _utc(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp or 0))


def studio_app() -> typer.Typer:
    """The studio's commands on their own (what `duetto` adds to its own app)."""
    app = typer.Typer(help="The Duetto studio server.", no_args_is_help=True, pretty_exceptions_enable=False)
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    from duetto.app.moderation.cli import moderation_app  # imported here: it builds on this module

    app.add_typer(moderation_app, name="moderation")
    return app


if __name__ == "__main__":
    studio_app()()
