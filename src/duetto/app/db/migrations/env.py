"""Alembic's entry point: migrates the engine the caller hands over (see core.db.upgrade_database)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import duetto.app.db.models  # noqa: F401 - registers the characters tables on Base.metadata
from duetto.app.db.models import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
