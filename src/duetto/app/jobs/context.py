"""Building a worker's JobContext from Settings (the same for the embedded worker and Celery workers)."""

from __future__ import annotations

from duetto.app.core.config import Settings
from duetto.app.core.db import make_engine, make_sessionmaker
from duetto.app.infra.storage import make_storage
from duetto.app.jobs.generator import EngineGenerator, render_clip
from duetto.app.jobs.runner import JobContext


def build_context(settings: Settings) -> JobContext:
    return JobContext(
        settings=settings,
        sessions=make_sessionmaker(make_engine(settings)),
        storage=make_storage(settings),
        generate=EngineGenerator(device=settings.device, torch_threads=settings.torch_threads),
        render=render_clip,
        models_dir=settings.models_dir,
    )
