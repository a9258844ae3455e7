"""The studio server's one validated settings object, read from DUETTO_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the server, its workers and the CLI need to agree on.

    Defaults give the embedded set: a SQLite file and media on local disk under `data_dir`, and one
    in-process worker. Setting `database_url`, `queue="celery"` with `redis_url`, and `s3_bucket`
    gives the scale-out set.
    """

    model_config = SettingsConfigDict(env_prefix="DUETTO_", extra="forbid")

    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    default_model: str = "toybox-v2"
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite in data_dir")

    queue: Literal["inprocess", "celery"] = "inprocess"
    # The embedded worker: a spawned child process (default; generation never stalls the API) or a
    # thread in the server process (lighter; what tests that swap the engine use).
    embedded_worker: Literal["process", "thread"] = "process"
    redis_url: str = "redis://127.0.0.1:6379/0"
    celery_queue: str = "duetto-videos"
    device: str = "cpu"
    # Threads torch may use in a worker; the embedded set leaves a core for the API when this is set.
    torch_threads: int | None = Field(default=None, ge=1)

    storage: Literal["local", "s3"] = "local"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_prefix: str = ""

    # A job whose heartbeat is older than this is taken to have lost its worker.
    heartbeat_timeout_s: float = Field(default=60.0, gt=0)
    reaper_interval_s: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=2, ge=1)
    poll_after_ms: int = Field(default=1000, ge=0)
    retention_days: float = Field(default=30.0, gt=0)

    daily_quota: float = Field(default=400.0, ge=0, description="credits per user per UTC day")
    # One credit is one second of video at this many pixels per frame; bigger frames cost more.
    credit_pixels: int = Field(default=128 * 128, gt=0)
    rate_limit: str = "600/minute"
    # Where rate-limit counters live; default: in memory (embedded) or the Redis broker (celery).
    rate_limit_storage: str | None = None
    auto_migrate: bool = True
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, gt=0)
    max_prompt_chars: int = Field(default=32000, gt=0)

    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_attempts: int = Field(default=3, ge=1)
    # Webhooks go to public addresses only, unless this allows loopback, private and link-local ones too
    # (a single-user server whose receiver runs beside it; never on an instance with untrusted users).
    webhook_allow_private: bool = False

    # The social web app (server-rendered pages beside the API).
    web_secret_key: str | None = Field(default=None, description="signs CSRF tokens; default: a key kept in data_dir")
    # None: cookies are marked Secure whenever the request came over HTTPS (or a proxy said so).
    web_cookie_secure: bool | None = None
    web_session_days: float = Field(default=30.0, gt=0)
    # Sign-in attempts per client address, and sign-ups per client address.
    web_signin_rate: str = "20/minute"
    # Wrong passwords for one handle from one address; past it that address gets 429 for that handle. Keyed
    # on the address too, so nobody can lock a handle's owner out by failing on purpose from elsewhere.
    web_signin_failures: str = "10/15minutes"
    web_signup_rate: str = "30/hour"
    # Takedown requests per client address: each one hides a post until a moderator decides.
    web_takedown_rate: str = "10/hour"
    # Library exports and imports: how long an export's archive stays downloadable, how many exports one user
    # may start a day, and the largest archive an import takes (and what it may unpack to).
    export_ttl_hours: float = Field(default=168.0, gt=0)
    exports_per_day: int = Field(default=5, ge=1)
    max_import_bytes: int = Field(default=4 * 1024**3, gt=0)
    max_import_unpacked_bytes: int = Field(default=16 * 1024**3, gt=0)
    admin_handles: str = Field(default="", description="comma-separated handles of the moderators")
    instance_name: str | None = Field(default=None, description="name in download watermarks; default: the host")

    @model_validator(mode="after")
    def _check_scale_out(self) -> Settings:
        if self.storage == "s3" and not self.s3_bucket:
            raise ValueError("DUETTO_STORAGE=s3 needs DUETTO_S3_BUCKET")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'duetto.db').resolve()}"

    @property
    def resolved_rate_limit_storage(self) -> str:
        if self.rate_limit_storage:
            return self.rate_limit_storage
        return self.redis_url if self.queue == "celery" else "memory://"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
