"""Per-user limits: a daily generation quota weighted by length and frame size, and a request rate limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta

import limits as limits_lib
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duetto.app.core.config import Settings
from duetto.app.core.errors import LimitExceeded
from duetto.app.db.models import User, Video


def generation_cost(*, seconds: float, size: str, settings: Settings) -> float:
    """Credits a generation costs: one per second of video at `credit_pixels` per frame, scaled by area."""
    width, height = (int(v) for v in size.split("x"))
    return round(seconds * width * height / settings.credit_pixels, 4)


def _day_window(now: float) -> tuple[float, float]:
    start = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def used_today(*, session: Session, user: User, now: float) -> float:
    start, _ = _day_window(now)
    # Failed generations are refunded: the user did not get a video.
    total = session.scalar(
        select(func.coalesce(func.sum(Video.cost), 0.0)).where(
            Video.user_id == user.id, Video.created_at >= start, Video.status != "failed"
        )
    )
    return float(total or 0.0)


def check_quota(*, session: Session, user: User, cost: float, settings: Settings, now: float | None = None) -> None:
    now = time.time() if now is None else now
    quota = settings.daily_quota if user.daily_quota is None else user.daily_quota
    used = used_today(session=session, user=user, now=now)
    if used + cost > quota + 1e-9:
        _, reset = _day_window(now)
        raise LimitExceeded(
            f"Daily generation quota exceeded: this request costs {cost:g} credits and {max(quota - used, 0):g} "
            f"of {quota:g} remain today; try again after the UTC day resets, or ask for a larger quota.",
            retry_after=int(reset - now) + 1,
            code="quota_exceeded",
        )


class RateLimiter:
    """A per-user request limit: a moving window shared through Redis when several API processes serve,
    or a cheap in-process sliding log for the embedded server."""

    def __init__(self, rate: str, *, storage_uri: str = "memory://") -> None:
        try:
            self.item = limits_lib.parse(rate)
        except ValueError:
            raise ValueError(f"DUETTO_RATE_LIMIT {rate!r} is not a rate like '600/minute'.") from None
        self.local = storage_uri.startswith("memory")
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        if not self.local:
            self.limiter = limits_lib.strategies.MovingWindowRateLimiter(
                limits_lib.storage.storage_from_string(storage_uri)
            )

    def _refuse(self, retry_after: float) -> LimitExceeded:
        return LimitExceeded(
            f"Too many requests: the limit is {self.item}; slow down and retry after the Retry-After delay.",
            retry_after=int(retry_after) + 1,
        )

    def hit(self, user_id: str) -> None:
        """Count one request for `user_id` (any key), or LimitExceeded when its window is full."""
        self._take(user_id, count=True)

    def check(self, key: str) -> None:
        """LimitExceeded when `key`'s window is full, without counting this request (to count only some
        outcomes, such as failed sign-ins, with `hit` afterwards)."""
        self._take(key, count=False)

    def _take(self, key: str, *, count: bool) -> None:
        if not self.local:
            allowed = self.limiter.hit(self.item, key) if count else self.limiter.test(self.item, key)
            if not allowed:
                reset_at, _ = self.limiter.get_window_stats(self.item, key)
                raise self._refuse(reset_at - time.time())
            return
        # limits' memory storage starts a timer thread per hit; a deque per key is far cheaper.
        now = time.monotonic()
        window = self.item.get_expiry()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= self.item.amount:
                raise self._refuse(hits[0] + window - now)
            if count:
                hits.append(now)
