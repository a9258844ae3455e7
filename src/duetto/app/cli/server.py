"""`duetto serve` and `duetto worker`: the studio server, and the scale-out set's Celery GPU workers."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import typer

from duetto.app.cli.common import DataDir, ModelsDir, settings


def serve(
    host: str = typer.Option("127.0.0.1", envvar="DUETTO_HOST", help="Address to listen on."),
    port: int = typer.Option(8000, envvar="DUETTO_PORT", help="Port to listen on."),
    data_dir: Path | None = DataDir,
    models_dir: Path | None = ModelsDir,
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Run the studio server: the /v1/videos API plus, by default, an in-process worker."""
    import uvicorn

    from duetto.app.main import create_app

    config = settings(data_dir=data_dir, models_dir=models_dir)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)


def worker(
    gpus: str | None = typer.Option(
        None, help="Comma-separated GPU indices: one worker process per GPU (e.g. 0,1). Default: one CPU worker."
    ),
    gpu: int | None = typer.Option(None, hidden=True, help="Run as the worker for this one GPU."),
    log_level: str = typer.Option("INFO", help="Celery log level."),
) -> None:
    """Run Celery GPU workers (the scale-out set): they take jobs from Redis and run the engine."""
    config = settings(queue="celery")
    if gpus and gpu is None:
        _run_per_gpu([g.strip() for g in gpus.split(",") if g.strip()], log_level)
        return
    if gpu is not None:
        # Set before torch ever loads in this process, so it sees exactly its one GPU as cuda:0.
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
        config = settings(queue="celery", device="cuda")
    from duetto.app.jobs.celery_app import make_celery

    name = f"duetto-{'gpu' + str(gpu) if gpu is not None else 'cpu'}-{os.getpid()}@%h"
    # The solo pool runs jobs in this very process: no fork, so torch is never initialised in a forked parent.
    make_celery(config).worker_main(
        ["worker", "--pool=solo", "--concurrency=1", f"--queues={config.celery_queue}",
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
