"""Migration 0009 on a database that already has people in it (SQLite and PostgreSQL): nothing is lost, the
existing teen gets the teen defaults, and going back down keeps every older row."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, func, inspect, select, text

from duetto.app.core.db import alembic_config, make_sessionmaker
from duetto.app.db.models import Comment, Follow
from duetto.app.wellbeing import safety, teens

NEW_TABLES = {"safety_prefs", "teen_controls", "parent_links", "account_notices", "checkins", "restrictions"}


def _fill(connection) -> None:  # noqa: ANN001 - a SQLAlchemy connection on the 0008 schema
    now = time.time()
    teen_year = dt.datetime.now(dt.UTC).year - 14
    for user_id, handle, year in (("user_teen", "teen", teen_year), ("user_adult", "adult", 1980)):
        connection.execute(text("INSERT INTO users (id, name, webhook_secret, created_at) VALUES (:i, :n, 'w', :t)"),
                           {"i": user_id, "n": handle, "t": now})
        connection.execute(text("INSERT INTO accounts (user_id, handle, display_name, bio, password_hash, created_at,"
                                " is_moderator) VALUES (:i, :h, :h, '', 'x', :t, false)"),
                           {"i": user_id, "h": handle, "t": now})
        connection.execute(text("INSERT INTO birth_years (user_id, year, declared_at) VALUES (:i, :y, :t)"),
                           {"i": user_id, "y": year, "t": now})
    connection.execute(text("INSERT INTO follows (follower_id, followee_id, created_at) VALUES "
                            "('user_teen', 'user_adult', :t)"), {"t": now})
    connection.execute(text("INSERT INTO messages (pair_key, sender_id, recipient_id, body, created_at) VALUES "
                            "('user_adult|user_teen', 'user_adult', 'user_teen', 'hello', :t)"), {"t": now})


def _upgrade_with_data(url: str) -> None:
    engine = create_engine(url)
    config = alembic_config(engine)
    try:
        command.downgrade(config, "base")
        command.upgrade(config, "0008")
        with engine.begin() as connection:
            _fill(connection)
        command.upgrade(config, "head")
        assert NEW_TABLES <= set(inspect(engine).get_table_names())
        with make_sessionmaker(engine)() as session:
            assert session.scalar(select(func.count()).select_from(Follow)) == 1
            controls = teens.controls(session=session, user_id="user_teen")
            assert controls is not None and controls.dm_policy == "following" and not controls.personalized
            assert teens.controls(session=session, user_id="user_adult") is None
            saved = safety.save_prefs(session=session, user_id="user_adult", dm_policy="mutuals",
                                      stranger_dm_limit=1, comment_filter=["rude"], hide_unfollowed_comments=True)
            assert saved.comment_filter == ["rude"]
            assert session.scalar(select(func.count()).select_from(Comment)) == 0
        command.downgrade(config, "0008")
        assert not NEW_TABLES & set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert connection.execute(text("SELECT body FROM messages")).scalar() == "hello"
            assert connection.execute(text("SELECT count(*) FROM birth_years")).scalar() == 2
        command.upgrade(config, "head")
    finally:
        engine.dispose()


def test_upgrading_a_database_with_people_in_it_on_sqlite(tmp_path: Path) -> None:
    _upgrade_with_data(f"sqlite:///{tmp_path / 'old.db'}")


@pytest.mark.services
def test_upgrading_a_database_with_people_in_it_on_postgresql(postgres_url: str) -> None:
    _upgrade_with_data(postgres_url)
