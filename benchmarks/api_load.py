"""Load on the embedded studio server: N concurrent clients poll GET /v1/videos/{id} while a generation runs.

Starts `duetto serve` (embedded default: SQLite, local files, in-process worker) as its own process on
loopback, submits one long generation, and has every client poll it as the openai SDK does (honouring
the openai-poll-after-ms header). Prints the latency table; exits 1 if p99 > --p99-ms or any request failed.

    python benchmarks/api_load.py                 # 200 clients for 20 s
    python benchmarks/api_load.py --clients 50 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from duetto.app.core.config import Settings
from duetto.app.core.db import make_engine, make_sessionmaker, session_scope, upgrade_database
from duetto.app.users.service import create_api_key, create_user


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_models(models_dir: Path | None, scratch: Path) -> Path:
    if models_dir is not None:
        return models_dir
    shipped = Path(__file__).resolve().parents[1] / "models"
    if (shipped / "toybox-v2" / "model_index.json").is_file():
        return shipped
    from duetto.engine.testing import make_tiny_model

    make_tiny_model(scratch / "models" / "toybox-v2")
    return scratch / "models"


async def poll(session: aiohttp.ClientSession, url: str, stop_at: float, latencies: list[float],
               errors: list[str]) -> None:
    while time.monotonic() < stop_at:
        start = time.perf_counter()
        try:
            async with session.get(url) as response:
                await response.read()
                latencies.append(time.perf_counter() - start)
                if response.status != 200:
                    errors.append(f"HTTP {response.status}")
                wait_ms = int(response.headers.get("openai-poll-after-ms", "1000"))
        except (aiohttp.ClientError, TimeoutError) as error:
            errors.append(type(error).__name__)
            wait_ms = 1000
        await asyncio.sleep(wait_ms / 1000)


async def run_load(base: str, key: str, video_id: str, clients: int, duration: float) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    # aiohttp rather than httpx here: the load generator shares the machine's cores with the server, and
    # it costs several times less CPU per request.
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base_url=base, headers={"Authorization": f"Bearer {key}"}, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=10)) as session:
        stop_at = time.monotonic() + duration
        tasks = []
        for _ in range(clients):
            tasks.append(asyncio.create_task(poll(session, f"/v1/videos/{video_id}", stop_at, latencies, errors)))
            await asyncio.sleep(1.0 / clients)  # spread the first polls over a second, as real clients arrive
        await asyncio.gather(*tasks)
    return latencies, errors


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a process has used (Linux /proc), to tell server cost from machine load."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of polling")
    parser.add_argument("--models-dir", type=Path, default=None)
    parser.add_argument("--steps", type=int, default=1000, help="denoising steps of the background generation")
    parser.add_argument("--p99-ms", type=float, default=100.0)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="duetto-load-"))
    settings = Settings(data_dir=scratch / "data", models_dir=prepare_models(args.models_dir, scratch),
                        rate_limit="1000000/minute", torch_threads=1)
    engine = make_engine(settings)
    upgrade_database(engine)
    with session_scope(make_sessionmaker(engine)) as session:
        key = create_api_key(session=session, user=create_user(session=session, name="load")).secret
    engine.dispose()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DUETTO_DATA_DIR": str(settings.data_dir), "DUETTO_MODELS_DIR": str(settings.models_dir),
           "DUETTO_RATE_LIMIT": settings.rate_limit, "DUETTO_TORCH_THREADS": "1"}
    server = subprocess.Popen([sys.executable, "-m", "duetto.app.cli", "serve", "--port", str(port),
                               "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("server did not start", file=sys.stderr)
                return 2
            time.sleep(0.2)
        auth = {"Authorization": f"Bearer {key}"}
        info = httpx.get(base + "/v1/models", headers=auth, timeout=60).json()["data"][0]["id"]
        video = httpx.post(base + "/v1/videos", headers=auth, timeout=60, json={
            "prompt": "a red ball bounces", "model": info, "seconds": "4", "steps": args.steps}).json()
        video_id = video["id"]
        # Load starts once the generation is really running (model loaded, denoising).
        # (The first job imports and loads the engine, which can stall the server for a moment.)
        while httpx.get(f"{base}/v1/videos/{video_id}", headers=auth, timeout=60).json()["progress"] <= 5:
            time.sleep(0.2)
        before = httpx.get(f"{base}/v1/videos/{video_id}", headers=auth, timeout=60).json()
        cpu_before, load_before = cpu_seconds(server.pid), os.getloadavg()[0]
        latencies, errors = asyncio.run(run_load(base, key, video_id, args.clients, args.duration))
        cpu_after, load_after = cpu_seconds(server.pid), os.getloadavg()[0]
        after = httpx.get(f"{base}/v1/videos/{video_id}", headers=auth, timeout=60).json()
    finally:
        server.terminate()
        server.wait(20)

    ms = sorted(x * 1000 for x in latencies)
    p99 = percentile(ms, 99)
    ok = not errors and p99 <= args.p99_ms and after["status"] == "in_progress"
    print(f"embedded server, {os.cpu_count()} CPU cores; {args.clients} clients polling for {args.duration:g} s")
    print(f"generation: status {before['status']} {before['progress']}% -> {after['status']} {after['progress']}%")
    print(f"machine load average {load_before:.1f} -> {load_after:.1f} (other work on the machine adds latency)")
    if cpu_before is not None and cpu_after is not None and ms:
        used = cpu_after - cpu_before
        print(f"API process CPU: {used:.1f} s in {args.duration:g} s, {used / len(ms) * 1000:.2f} ms per request")
    print()
    print("| clients | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| {args.clients} | {len(ms)} | {len(errors)} | {len(ms) / args.duration:.0f} | {percentile(ms, 50):.1f} "
          f"| {percentile(ms, 90):.1f} | {p99:.1f} | {ms[-1]:.1f} |")
    print()
    print(f"{'PASS' if ok else 'FAIL'}: p99 {p99:.1f} ms (limit {args.p99_ms:g} ms), {len(errors)} errors"
          + ("" if after["status"] == "in_progress" else "; the generation ended before the load did (raise --steps)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
