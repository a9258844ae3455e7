"""The studio server's app factory: wires settings, database, storage, queue and reaper into FastAPI."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from duetto.app.api import openapi
from duetto.app.api.deps import Services
from duetto.app.api.errors import install_error_handlers
from duetto.app.api.routes import characters as characters_api
from duetto.app.api.routes import library as library_api
from duetto.app.api.routes import models as models_routes
from duetto.app.api.routes import provenance as provenance_api
from duetto.app.api.routes import storyboards as storyboards_api
from duetto.app.api.routes import videos as videos_routes
from duetto.app.api.upload_limit import UploadLimitMiddleware
from duetto.app.core.config import Settings
from duetto.app.core.db import make_engine, make_sessionmaker, upgrade_database
from duetto.app.infra.limits import RateLimiter
from duetto.app.infra.storage import Storage, make_storage
from duetto.app.jobs.library import LibraryJobs
from duetto.app.jobs.queue import JobQueue
from duetto.app.jobs.reaper import Reaper
from duetto.app.jobs.runner import Generator, JobContext, Renderer, run_video_job, send_webhook
from duetto.app.provenance.marking import watermark_key
from duetto.app.videos.catalog import ModelCatalog
from duetto.app.web import install_web

log = logging.getLogger(__name__)


def _make_queue(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    storage: Storage,
    generate: Generator | None,
    render: Renderer | None,
) -> JobQueue:
    if settings.queue == "celery":
        from duetto.app.jobs.celery_app import CeleryQueue

        return CeleryQueue(settings)
    if settings.embedded_worker == "process" and generate is None and render is None:
        from duetto.app.jobs.process_worker import ProcessQueue

        return ProcessQueue(settings, sessions=sessions)
    from duetto.app.jobs.generator import EngineGenerator, render_clip
    from duetto.app.jobs.inprocess import InProcessQueue

    ctx = JobContext(
        settings=settings,
        sessions=sessions,
        storage=storage,
        generate=generate or EngineGenerator(device=settings.device, torch_threads=settings.torch_threads),
        render=render or render_clip,
        models_dir=settings.models_dir,
    )
    queue = InProcessQueue(lambda video_id: run_video_job(video_id, ctx), sessions=sessions)
    ctx.enqueue = queue.enqueue  # a story's next job joins the line behind the others
    return queue


def create_app(
    settings: Settings | None = None, *, generate: Generator | None = None, render: Renderer | None = None
) -> FastAPI:
    """The FastAPI app. `generate`/`render` replace the engine in a worker thread (tests of the queue)."""
    settings = settings or Settings()
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            upgrade_database(engine)
        watermark_key(settings)  # made on first start, before any worker could race to make it
        storage = make_storage(settings)
        queue = _make_queue(settings, sessions=sessions, storage=storage, generate=generate, render=render)
        library = LibraryJobs(sessions=sessions, storage=storage, settings=settings)
        app.state.services = Services(
            settings=settings,
            sessions=sessions,
            storage=storage,
            catalog=ModelCatalog(settings.models_dir, default=settings.default_model),
            rate_limiter=RateLimiter(settings.rate_limit, storage_uri=settings.resolved_rate_limit_storage),
            queue=queue,
            library=library,
        )
        reaper = Reaper(
            sessions=sessions,
            settings=settings,
            enqueue=queue.enqueue,
            notify_failed=lambda video_id: send_webhook(sessions, settings, video_id),
            storage=storage,
            catalog=app.state.services.catalog,
        )
        # The queue starts first: the sweep below requeues jobs orphaned while the server was down, and
        # handing one to a queue that is not started yet failed the whole start-up.
        queue.start()
        reaper.sweep()
        reaper.start()
        library.start()
        log.info("duetto server ready (queue=%s, storage=%s)", settings.queue, settings.storage)
        try:
            yield
        finally:
            library.stop()
            reaper.stop()
            queue.stop()
            engine.dispose()

    app = FastAPI(title="Duetto studio", version="0.1.0", lifespan=lifespan)
    app.add_middleware(UploadLimitMiddleware, max_bytes=settings.max_upload_bytes,
                       by_path={path: settings.max_import_bytes for path in ("/v1/imports", "/settings/library/import")})
    install_error_handlers(app)
    openapi.install(app)
    # Before the videos routes, whose /v1/videos/{video_id} would otherwise take /v1/videos/characters.
    app.include_router(characters_api.router)
    app.include_router(videos_routes.router)
    app.include_router(models_routes.router)
    app.include_router(provenance_api.router)
    app.include_router(library_api.router)
    app.include_router(storyboards_api.router)
    install_web(app, settings)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
