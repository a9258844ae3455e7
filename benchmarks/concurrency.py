"""Counters under concurrency: many like/unlike toggles and view beacons on one post at once, against
`duetto serve` with the embedded default (SQLite, local files), then the counters against the rows.

Starts the server as its own process on loopback, makes the accounts and one post in its database, and
fires every request at once (each user toggles and reports several times, so one user's requests race
each other as a double-click or several tabs do). Prints the table; exits 1 if any request answered 5xx or
a counter differs from its rows.

    python benchmarks/concurrency.py                       # 50 toggles, 200 view beacons
    python benchmarks/concurrency.py --likers 10 --toggles 5 --viewers 40 --beacons 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import func, select

from duetto.app.core.config import Settings
from duetto.app.core.db import make_engine, make_sessionmaker, session_scope, upgrade_database
from duetto.app.core.security import new_id
from duetto.app.db.models import Like, Post, Video, View
from duetto.app.flows import accounts as account_flows
from duetto.app.social import posts
from duetto.app.users import accounts

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(settings: Settings, people: int) -> tuple[str, list[str]]:
    """(post id, one session cookie per person): an author's post and `people` signed-in viewers."""
    engine = make_engine(settings)
    upgrade_database(engine)
    sessions = make_sessionmaker(engine)
    with session_scope(sessions) as session:
        author = account_flows.sign_up(session=session, handle="author", password="benchmark password")
        video_id, now = new_id("video"), time.time()
        session.add(Video(id=video_id, user_id=author.user_id, kind="create", model="toybox-v2", status="completed",
                          progress=100, prompt="a red ball bounces. Audio: boings.", size="64x64", seconds="1",
                          generate_seconds=1.0, params={}, cost=0.0, attempts=1, created_at=now, completed_at=now))
        session.commit()
        post_id = posts.publish(session=session, user_id=author.user_id, video_id=video_id, caption="").id
        tokens = []
        for index in range(people):
            person = account_flows.sign_up(session=session, handle=f"viewer{index:03d}", password="benchmark password")
            tokens.append(accounts.start_session(session=session, user_id=person.user_id, days=1))
    engine.dispose()
    return post_id, tokens


async def browser(url: str, token: str) -> httpx.AsyncClient:
    """A signed-in client holding its page's CSRF token, as the player's script sends it."""
    cookies = {"duetto_session": token}
    async with httpx.AsyncClient(base_url=url, cookies=cookies, timeout=120) as page_client:
        page = await page_client.get("/")
    # A fresh client: the page's connection may be closed by the server's keep-alive timeout meanwhile.
    headers = {"x-csrf-token": CSRF.search(page.text).group(1), "accept": "application/json"}
    return httpx.AsyncClient(base_url=url, cookies=cookies, headers=headers, timeout=120)


async def fire(requests: list) -> tuple[Counter[int], float]:  # noqa: ANN001 - coroutines
    started = time.perf_counter()
    responses = await asyncio.gather(*requests, return_exceptions=True)
    elapsed = time.perf_counter() - started
    statuses: Counter[int] = Counter()
    for response in responses:
        if isinstance(response, httpx.Response):
            statuses[response.status_code] += 1
        else:  # no answer at all: counted as failed, and said why
            statuses[0] += 1
            print(f"request failed: {type(response).__name__}: {response}", file=sys.stderr)
    return statuses, elapsed


def counts(settings: Settings, post_id: str) -> dict[str, int]:
    engine = make_engine(settings)
    with session_scope(make_sessionmaker(engine)) as session:
        post = session.scalar(select(Post).where(Post.id == post_id))
        found = {
            "like_count": post.like_count,
            "like rows": session.scalar(select(func.count()).select_from(Like).where(Like.post_seq == post.seq)),
            "view_count": post.view_count,
            "view rows": session.scalar(select(func.count()).select_from(View).where(View.post_seq == post.seq)),
            "completion_count": post.completion_count,
            "completed rows": session.scalar(select(func.count()).select_from(View)
                                             .where(View.post_seq == post.seq, View.completed.is_(True))),
        }
    engine.dispose()
    return found


async def run(url: str, post_id: str, tokens: list[str], args: argparse.Namespace) -> list[tuple]:
    likers = [await browser(url, token) for token in tokens[: args.likers]]
    viewers = [await browser(url, token) for token in tokens[: args.viewers]]
    try:
        toggles = [client.post(f"/p/{post_id}/like") for client in likers for _ in range(args.toggles)]
        like_statuses, like_s = await fire(toggles)
        beacons = [client.post(f"/p/{post_id}/view", json={"completed": index % 2 == 1, "seconds": 3})
                   for client in viewers for index in range(args.beacons)]
        view_statuses, view_s = await fire(beacons)
    finally:
        for client in {id(c): c for c in likers + viewers}.values():
            await client.aclose()
    return [("like/unlike toggles", len(toggles), like_statuses, like_s),
            ("view beacons", len(beacons), view_statuses, view_s)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--likers", type=int, default=10, help="people toggling the like")
    parser.add_argument("--toggles", type=int, default=5, help="toggles per person, all at once")
    parser.add_argument("--viewers", type=int, default=40, help="people reporting views")
    parser.add_argument("--beacons", type=int, default=5, help="view reports per person, all at once")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="duetto-concurrency-") as scratch:
        settings = Settings(data_dir=Path(scratch) / "data", models_dir=Path(scratch) / "models")
        post_id, tokens = seed(settings, max(args.likers, args.viewers))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "DUETTO_DATA_DIR": str(settings.data_dir), "DUETTO_MODELS_DIR": str(settings.models_dir)}
        log = open(Path(scratch) / "server.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen([sys.executable, "-m", "duetto.app.cli", "serve", "--port", str(port),
                                   "--log-level", "warning"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    print((Path(scratch) / "server.log").read_text()[-2000:])
                    return 1
                time.sleep(0.2)
            rows = asyncio.run(run(url, post_id, tokens, args))
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(20)
            log.close()
        found = counts(settings, post_id)

    # Each liker toggled `toggles` times: an odd number leaves them liking the post.
    expected_likes = args.likers if args.toggles % 2 else 0
    print(f"{'requests':<22}{'sent':>6}{'2xx':>6}{'4xx':>6}{'5xx':>6}{'failed':>8}{'seconds':>9}")
    server_errors = 0
    for name, sent, statuses, seconds in rows:
        ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
        client_errors = sum(n for s, n in statuses.items() if 400 <= s < 500)
        five = sum(n for s, n in statuses.items() if s >= 500)
        server_errors += five + statuses.get(0, 0)
        print(f"{name:<22}{sent:>6}{ok:>6}{client_errors:>6}{five:>6}{statuses.get(0, 0):>8}{seconds:>9.2f}")
    print()
    print(f"{'counter':<18}{'stored':>8}{'rows':>8}{'expected':>10}")
    checks = [("likes", found["like_count"], found["like rows"], expected_likes),
              ("views", found["view_count"], found["view rows"], args.viewers),
              ("completions", found["completion_count"], found["completed rows"], args.viewers)]
    for name, stored, counted, expected in checks:
        print(f"{name:<18}{stored:>8}{counted:>8}{expected:>10}")
    drift = any(stored != counted or counted != expected for _, stored, counted, expected in checks)
    return 1 if server_errors or drift else 0


if __name__ == "__main__":
    sys.exit(main())
