"""Fixtures for moderation: the web app fixtures (a real app on a fresh SQLite database), a migrated database
on its own, and an API key for a web account."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from duetto.app.core.db import make_sessionmaker, upgrade_database
from tests.app.conftest import postgres_url, services_available  # noqa: F401 - fixtures re-exported
from tests.provenance_app.conftest import api_key_for  # noqa: F401 - re-exported for the tests
from tests.web.conftest import Web, clip_assets, handle, models_dir, web  # noqa: F401 - fixtures re-exported


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

