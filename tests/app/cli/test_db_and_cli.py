"""Migrations on SQLite and PostgreSQL, the studio CLI, S3 storage and the Redis-backed rate limit."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest
from alembic import command
from sqlalchemy import create_engine, inspect
from typer.testing import CliRunner

from duetto.app.cli import studio_app
from duetto.app.core.config import Settings
from duetto.app.core.db import alembic_config, make_engine, make_sessionmaker, session_scope, upgrade_database
from duetto.app.core.errors import LimitExceeded
from duetto.app.db.models import Base
from duetto.app.infra.limits import RateLimiter
from duetto.app.infra.storage import S3Storage
from duetto.app.users.service import authenticate
from tests.app.servers import REDIS_URL

TABLES = {"users", "api_keys", "videos", "idempotency_keys", "alembic_version"}


def check_migrations(url: str) -> None:
    engine = create_engine(url)
    try:
        upgrade_database(engine)
        assert set(inspect(engine).get_table_names()) >= TABLES
        # The migrations describe exactly the models: autogenerate finds nothing left to do.
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        command.downgrade(alembic_config(engine), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_database(engine)
    finally:
        engine.dispose()


def test_migrations_on_sqlite(tmp_path: Path) -> None:
    check_migrations(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.services
def test_migrations_on_postgresql(postgres_url: str) -> None:
    check_migrations(postgres_url)


def test_cli_creates_users_and_keys_that_authenticate(tmp_path: Path) -> None:
    runner = CliRunner()
    app = studio_app()
    data = ["--data-dir", str(tmp_path)]
    made = runner.invoke(app, ["users", "create", "ada", "--daily-quota", "10", *data])
    assert made.exit_code == 0, made.output
    first_key = made.stdout.strip().splitlines()[-1]
    again = runner.invoke(app, ["users", "create", "ada", *data])
    assert again.exit_code == 1 and "already exists" in again.output
    key = runner.invoke(app, ["keys", "create", "ada", *data])
    assert key.exit_code == 0, key.output
    missing = runner.invoke(app, ["keys", "create", "nobody", *data])
    assert missing.exit_code == 1 and "duetto users create nobody" in missing.output
    sessions = make_sessionmaker(make_engine(Settings(data_dir=tmp_path)))
    with session_scope(sessions) as session:
        for secret in (first_key, key.stdout.strip()):
            user = authenticate(session=session, secret=secret)
            assert (user.name, user.daily_quota) == ("ada", 10.0) and user.webhook_secret.startswith("whsec_")


def test_cli_lists_and_revokes_keys_and_a_revoked_key_is_refused_on_the_next_request(
        models_dir: Path, tmp_path: Path) -> None:
    from duetto.app.main import create_app
    from tests.app.servers import ThreadedServer, embedded_settings

    settings = embedded_settings(tmp_path, models_dir)
    runner = CliRunner()
    app = studio_app()
    data = ["--data-dir", str(settings.data_dir)]
    first = runner.invoke(app, ["users", "create", "ada", *data]).stdout.strip().splitlines()[-1]
    second = runner.invoke(app, ["keys", "create", "ada", *data]).stdout.strip()
    with ThreadedServer(create_app(settings)) as server:
        def status(secret: str) -> int:
            return httpx.get(f"{server.url}/v1/videos", headers={"Authorization": f"Bearer {secret}"}).status_code

        assert status(first) == status(second) == 200  # both seen, as a cache would have kept them
        listed = runner.invoke(app, ["keys", "list", "ada", *data])
        assert listed.exit_code == 0, listed.output
        assert first[:8] in listed.stdout and second[:8] in listed.stdout and first not in listed.stdout
        key_id = next(line.split()[0] for line in listed.stdout.splitlines() if first[:8] in line)
        revoked = runner.invoke(app, ["keys", "revoke", key_id, *data])
        assert revoked.exit_code == 0 and f"revoked {key_id}" in revoked.output
        assert status(first) == 401 and status(second) == 200  # the very next request, in the running server
        relisted = runner.invoke(app, ["keys", "list", "ada", *data]).stdout.splitlines()
        assert not next(line for line in relisted if first[:8] in line).endswith("-")  # shows when
    unknown = runner.invoke(app, ["keys", "revoke", "key_nothing", *data])
    assert unknown.exit_code == 1 and "duetto keys list" in unknown.output
    assert runner.invoke(app, ["keys", "list", "nobody", *data]).exit_code == 1


def test_bad_settings_are_refused_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="DUETTO_S3_BUCKET"):
        Settings(storage="s3")
    with pytest.raises(ValueError, match="600/minute"):
        RateLimiter("often")


@pytest.mark.services
def test_s3_storage_round_trip(s3_endpoint: str, aws_env: None) -> None:
    store = S3Storage("duetto-unit", endpoint_url=s3_endpoint, prefix=secrets.token_hex(4))
    store.ensure_bucket()
    store.put_bytes("videos/v1/video.mp4", b"abc" * 1000, "video/mp4")
    store.put_bytes("videos/v1/thumbnail.webp", b"xyz", "image/webp")
    assert store.exists("videos/v1/video.mp4") and store.size("videos/v1/video.mp4") == 3000
    assert b"".join(store.iter_bytes("videos/v1/video.mp4")) == b"abc" * 1000
    store.delete_prefix("videos/v1")
    assert not store.exists("videos/v1/video.mp4") and not store.exists("videos/v1/thumbnail.webp")


@pytest.mark.services
def test_rate_limit_is_shared_through_redis(services_available: None) -> None:
    user = f"user-{secrets.token_hex(4)}"
    assert REDIS_URL
    # Two API processes each hold their own limiter; Redis makes them count together.
    first, second = RateLimiter("3/minute", storage_uri=REDIS_URL), RateLimiter("3/minute", storage_uri=REDIS_URL)
    first.hit(user)
    second.hit(user)
    first.hit(user)
    with pytest.raises(LimitExceeded):
        second.hit(user)
