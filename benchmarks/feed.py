"""For You at scale: 100k posts by 10k users in SQLite, each viewer's page timed.

Builds the database through the app's own migrations (users, accounts, finished videos, posts with
Toybox prompts, follows, likes and views), then times, for a sample of viewers (a quarter of them with a
steering phrase), the For You service call and the whole `/` page rendered through the app with that
viewer's session cookie. Prints the table; exits 1 if the page's p95 is over --p95-ms.

    python benchmarks/feed.py                     # 100k posts, 10k users, 300 viewers
    python benchmarks/feed.py --posts 20000 --users 2000 --viewers 100
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import insert, text

from duetto.app.core.config import Settings
from duetto.app.core.db import make_engine, make_sessionmaker, session_scope, upgrade_database
from duetto.app.db.models import Account, Follow, Like, Post, User, Video, View
from duetto.app.feed import service as feed
from duetto.app.main import create_app
from duetto.app.social.hot import hot_score
from duetto.app.social.terms import terms_of
from duetto.app.users.accounts import start_session
from duetto.app.web.deps import SESSION_COOKIE

STEERING = ["more calm videos, no rain", "only night", "less wind and hum", "I want loud stuff but no glass",
            "more talking toys"]
BATCH = 5000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def insert_rows(connection, table, rows: list[dict]) -> None:  # noqa: ANN001 - a SQLAlchemy connection
    for start in range(0, len(rows), BATCH):
        connection.execute(insert(table), rows[start:start + BATCH])


def build(settings: Settings, *, users: int, posts: int, seed: int) -> list[str]:
    """Fill the database; returns all user ids."""
    from duetto.world import caption, random_scene

    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    engine = make_engine(settings)
    upgrade_database(engine)
    captions = [caption(random_scene(rng)) for _ in range(3000)]
    terms = [" ".join(terms_of(c)) for c in captions]
    now = time.time()
    # One real Argon2 hash shared by every account: hashing 10k passwords would only time Argon2.
    from argon2 import PasswordHasher

    password_hash = PasswordHasher().hash("benchmark password")
    user_ids = [f"user_{i:08x}" for i in range(users)]
    # Creators: a few prolific, most occasional (Zipf-like), as in any social app.
    weights = 1.0 / np.arange(1, users + 1) ** 0.8
    authors = rng.choice(users, size=posts, p=weights / weights.sum())
    with engine.begin() as connection:
        insert_rows(connection, User.__table__, [
            {"id": uid, "name": f"maker{i}", "daily_quota": None, "webhook_secret": "whsec_x", "created_at": now}
            for i, uid in enumerate(user_ids)])
        insert_rows(connection, Account.__table__, [
            {"user_id": uid, "handle": f"maker{i}", "display_name": f"Maker {i}", "bio": "", "avatar_key": None,
             "password_hash": password_hash, "created_at": now} for i, uid in enumerate(user_ids)])
        video_rows, post_rows = [], []
        for i in range(posts):
            k = int(rng.integers(len(captions)))
            created = now - float(rng.uniform(0, 30 * 86400))
            likes = int(rng.zipf(2.0)) - 1 if rng.random() < 0.7 else 0
            likes = min(likes, 5000)
            remixes = int(rng.random() < 0.05) * int(rng.integers(1, 6))
            completions = int(likes * rng.uniform(0.5, 3))
            vid = f"video_{i:010x}"
            video_rows.append({"id": vid, "user_id": user_ids[authors[i]], "kind": "create", "model": "toybox-v2",
                               "status": "completed", "progress": 100, "prompt": captions[k], "size": "64x64",
                               "seconds": "2", "generate_seconds": 2.0, "params": {}, "cost": 0.5, "attempts": 1,
                               "created_at": created, "completed_at": created})
            post_rows.append({"id": f"post_{i:010x}", "user_id": user_ids[authors[i]], "video_id": vid,
                              "caption": "", "like_count": likes, "comment_count": 0, "remix_count": remixes,
                              "view_count": completions, "completion_count": completions, "terms": terms[k],
                              "hot": hot_score(likes=likes, completions=completions, remixes=remixes,
                                                       comments=0, created_at=created),
                              "created_at": created})
        insert_rows(connection, Video.__table__, video_rows)
        insert_rows(connection, Post.__table__, post_rows)
        follows = set()
        for index in range(users):
            for other in rng.choice(users, size=int(rng.integers(5, 80)), p=weights / weights.sum()):
                if other != index:
                    follows.add((user_ids[index], user_ids[other]))
        insert_rows(connection, Follow.__table__, [{"follower_id": a, "followee_id": b, "created_at": now}
                                                   for a, b in follows])
        likes = {(user_ids[int(rng.integers(users))], int(rng.integers(1, posts + 1))) for _ in range(posts * 3)}
        insert_rows(connection, Like.__table__, [{"user_id": u, "post_seq": s, "created_at": now} for u, s in likes])
        views = {(user_ids[int(rng.integers(users))], int(rng.integers(1, posts + 1))) for _ in range(posts * 5)}
        insert_rows(connection, View.__table__, [{"user_id": u, "post_seq": s, "completed": pick.random() < 0.5,
                                                  "less": False, "seen_at": now} for u, s in views])
        connection.execute(text("ANALYZE"))
    engine.dispose()
    return user_ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--viewers", type=int, default=300, help="viewers sampled for timing")
    parser.add_argument("--p95-ms", type=float, default=150.0, help="fail if the page's p95 is above this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the database here (default: a temp dir)")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="duetto-feed-"))
    data_dir = args.data_dir or scratch / "data"
    settings = Settings(data_dir=data_dir, models_dir=scratch / "models", embedded_worker="thread")
    started = time.perf_counter()
    user_ids = build(settings, users=args.users, posts=args.posts, seed=args.seed)
    built = time.perf_counter() - started
    size_mb = (data_dir / "duetto.db").stat().st_size / 1e6

    pick = random.Random(args.seed)
    viewers = pick.sample(user_ids, min(args.viewers, len(user_ids)))
    steered = set(viewers[: len(viewers) // 4])
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    tokens = {}
    with session_scope(sessions) as session:
        for index, viewer in enumerate(viewers):
            if viewer in steered:
                feed.set_steering(session=session, user_id=viewer, phrase=STEERING[index % len(STEERING)])
            tokens[viewer] = start_session(session=session, user_id=viewer, days=1)

    service_ms: dict[str, list[float]] = {"plain": [], "steered": []}
    with sessions() as session:
        feed.for_you(session=session, viewer_id=viewers[0], limit=6)  # warm the caches once
        for viewer in viewers:
            start = time.perf_counter()
            feed.for_you(session=session, viewer_id=viewer, limit=6)
            service_ms["steered" if viewer in steered else "plain"].append((time.perf_counter() - start) * 1000)
    engine.dispose()

    page_ms: list[float] = []
    following_ms: list[float] = []
    with TestClient(create_app(settings)) as client:
        client.cookies.set(SESSION_COOKIE, tokens[viewers[0]])
        client.get("/")
        for viewer in viewers:
            client.cookies.set(SESSION_COOKIE, tokens[viewer])
            start = time.perf_counter()
            response = client.get("/")
            page_ms.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200 or 'class="reel"' not in response.text:
                print(f"viewer {viewer}: bad page ({response.status_code})", file=sys.stderr)
                return 1
        for viewer in viewers[:100]:
            client.cookies.set(SESSION_COOKIE, tokens[viewer])
            start = time.perf_counter()
            client.get("/?tab=following")
            following_ms.append((time.perf_counter() - start) * 1000)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"SQLite, {args.posts:,} posts by {args.users:,} users ({size_mb:.0f} MB, built in {built:.0f} s); "
          f"{os.cpu_count()} CPU cores, load average {load:.1f}")
    print()
    print("| what | requests | p50 ms | p95 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    rows = [("For You ranking, unsteered (service)", service_ms["plain"]),
            ("For You ranking, steered (service)", service_ms["steered"]),
            ("For You page `/` (HTTP, rendered)", page_ms),
            ("Following page `/?tab=following` (HTTP)", following_ms)]
    for name, values in rows:
        print(f"| {name} | {len(values)} | {statistics.median(values):.1f} | {percentile(values, 95):.1f} | "
              f"{percentile(values, 99):.1f} | {max(values):.1f} |")
    p95 = percentile(page_ms, 95)
    print()
    print(f"{'PASS' if p95 <= args.p95_ms else 'FAIL'}: For You page p95 {p95:.1f} ms (limit {args.p95_ms:g} ms)")
    return 0 if p95 <= args.p95_ms else 1


if __name__ == "__main__":
    sys.exit(main())
