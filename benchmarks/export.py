"""Exporting a library of 1 000 clips against one of 10: time, peak memory and archive size (issue 18).

Seeds one user's library on a temporary data folder (SQLite + local media) through the app's own migrations:
rows for N finished clips (every fifth posted, every tenth a remix of the clip before it), each with real media
files: the bytes of one rendered 64x64 Toybox clip with sound, its thumbnail and its spritesheet. Each export
then runs in a fresh process, as the server's background job runs it (`transfers.start_export` +
`run_transfer`: `write_archive` streams the archive to a temporary file, which goes into storage), and its
peak resident memory is read from the kernel (ru_maxrss of that child), so neither this process nor an earlier
run counts. The seconds are the job's, from start to archive stored, without the child's start-up;
its CPU seconds (every thread of the process) say what it costs whatever else the machine is doing.

A first export makes each clip's signed download (enlarged, badge, invisible marks, C2PA) as a download would,
and keeps it; that is part of the cost measured by default (`--downloads made`). `--downloads kept` measures an
export whose downloads were already made (one real signed download copied to every clip): only the streaming.

Prints the table; exits 1 if the largest library's peak memory is more than --max-ratio times the smallest's.

    python benchmarks/export.py                                # 10 and 1000 clips, downloads made
    python benchmarks/export.py --clips 10 100                 # quicker; the ratio is then 100 against 10
    python benchmarks/export.py --downloads kept               # downloads already made: streaming only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSTANCE = "bench.example"
USER_ID = "user_benchmark0000000000"


def settings_for(data_dir: Path):  # noqa: ANN201 - Settings (imported late: the child times its own imports)
    from duetto.app.core.config import Settings

    return Settings(data_dir=data_dir, models_dir=data_dir / "models", embedded_worker="thread")


def rendered_clip() -> dict[str, bytes]:
    """Real files of one clip, rendered as a job renders them (the test suite's `clip_assets`)."""
    import numpy as np

    from duetto.app.jobs.generator import render_clip
    from duetto.world import random_scene
    from duetto.world.render import render

    return render_clip(render(random_scene(np.random.default_rng(7)), width=64, height=64, fps=8.0,
                              seconds=1.0).clip)


def seed(data_dir: Path, clips: int, assets: dict[str, bytes], downloads: str) -> None:
    """A user with `clips` finished clips, their rows inserted in bulk and their files written to storage."""
    from sqlalchemy import insert, select

    from duetto.app.core.db import make_engine, make_sessionmaker, session_scope, upgrade_database
    from duetto.app.db.models import Account, Post, User, Video
    from duetto.app.infra.storage import make_storage
    from duetto.app.provenance.exports import download_key, export_mp4
    from duetto.app.provenance.marking import watermark_key
    from duetto.app.social.hot import hot_score
    from duetto.app.videos.files import asset_key
    from duetto.provenance import ensure_signing_identity

    settings = settings_for(data_dir)
    engine = make_engine(settings)
    upgrade_database(engine)
    # The instance's keys exist before any export, as on a server that has run (not part of the export).
    watermark_key(settings)
    ensure_signing_identity(data_dir / "provenance", organisation=INSTANCE)
    now = time.time()
    video_ids = [f"video_bench{i:08d}" for i in range(clips)]
    videos, posts = [], []
    for i, video_id in enumerate(video_ids):
        remix_of = video_ids[i - 1] if i % 10 == 9 else None
        created = now - (clips - i) * 60.0
        prompt = f"ball number {i} bounces on a drum. Audio: a thud on each bounce"
        videos.append({"id": video_id, "user_id": USER_ID, "kind": "remix" if remix_of else "create",
                       "model": "toybox-v2", "status": "completed", "progress": 100, "prompt": prompt,
                       "size": "64x64", "seconds": "1", "generate_seconds": 1.0, "params": {"seed": i, "steps": 8},
                       "remixed_from_video_id": remix_of, "source_video_id": remix_of, "cost": 0.0, "attempts": 1,
                       "created_at": created, "completed_at": created})
        if i % 5 == 0:
            posts.append({"id": f"post_bench{i:08d}", "user_id": USER_ID, "video_id": video_id,
                          "caption": f"clip {i}", "like_count": 0, "comment_count": 0, "remix_count": 0,
                          "view_count": 0, "completion_count": 0, "terms": "ball drum thud",
                          "hot": hot_score(likes=0, completions=0, remixes=0, comments=0, created_at=created),
                          "created_at": created})
    with engine.begin() as connection:
        connection.execute(insert(User.__table__), [{"id": USER_ID, "name": "bencher", "daily_quota": None,
                                                     "webhook_secret": "whsec_x", "created_at": now}])
        connection.execute(insert(Account.__table__), [{
            "user_id": USER_ID, "handle": "bencher", "display_name": "Bencher", "bio": "", "avatar_key": None,
            "password_hash": "x", "created_at": now}])
        for start in range(0, clips, 500):
            connection.execute(insert(Video.__table__), videos[start:start + 500])
        if posts:
            connection.execute(insert(Post.__table__), posts)
    storage = make_storage(settings)
    for video_id in video_ids:
        for variant, data in assets.items():
            storage.put_bytes(asset_key(video_id, variant), data, "application/octet-stream")
    if downloads == "kept":
        # One real signed download, made as an export makes it, kept for every clip.
        with session_scope(make_sessionmaker(engine)) as session:
            first = session.scalar(select(Video).where(Video.id == video_ids[0]))
            data = export_mp4(session=session, storage=storage, settings=settings, video=first, instance=INSTANCE)
        for video_id in video_ids[1:]:
            storage.put_bytes(download_key(video_id), data, "video/mp4")
    engine.dispose()


def child(data_dir: Path, result: Path) -> None:
    """One export as the server's background job runs it; writes its seconds and outcome to `result`."""
    from duetto.app.core.db import make_engine, make_sessionmaker, session_scope
    from duetto.app.db.models import LibraryTransfer
    from duetto.app.flows.library import transfers
    from duetto.app.infra.storage import make_storage

    settings = settings_for(data_dir)
    sessions = make_sessionmaker(make_engine(settings))
    storage = make_storage(settings)
    with session_scope(sessions) as session:
        transfer_id = transfers.start_export(session=session, settings=settings, user_id=USER_ID,
                                             instance=INSTANCE).id
    started, cpu = time.perf_counter(), time.process_time()
    transfers.run_transfer(sessions=sessions, storage=storage, settings=settings, transfer_id=transfer_id)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    with session_scope(sessions) as session:
        done = session.get(LibraryTransfer, transfer_id)
        result.write_text(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "status": done.status, "error": done.error_message,
                                      "report": done.report, "bytes": done.archive_bytes}))


def run_export(data_dir: Path) -> dict:
    """Export in a fresh process; its result with the child's peak RSS (MiB)."""
    result = data_dir.parent / "result.json"
    process = subprocess.Popen([sys.executable, __file__, "--child", str(data_dir), str(result)],
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    errors = process.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"the export process failed:\n{errors}")
    outcome = json.loads(result.read_text())
    if outcome["status"] != "completed":
        sys.exit(f"the export failed: {outcome['error']}\n{errors}")
    return {**outcome, "peak_mib": usage.ru_maxrss / 1024}  # Linux reports KiB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, nargs="+", default=[10, 1000], help="library sizes to export")
    parser.add_argument("--downloads", choices=("made", "kept"), default="made",
                        help="made: the export makes each signed download (a first export); kept: already made")
    parser.add_argument("--max-ratio", type=float, default=1.5,
                        help="fail if the largest library's peak memory is above this times the smallest's")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0

    started = time.perf_counter()
    assets = rendered_clip()
    rows = []
    for clips in sorted(set(args.clips)):
        scratch = Path(tempfile.mkdtemp(prefix=f"duetto-export-{clips}-"))
        try:
            seeded = time.perf_counter()
            seed(scratch / "data", clips, assets, args.downloads)
            seed_s = time.perf_counter() - seeded
            outcome = run_export(scratch / "data")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if outcome["report"].get("videos") != clips:
            sys.exit(f"the {clips}-clip export holds {outcome['report'].get('videos')} clips")
        rows.append({"clips": clips, "seed_s": seed_s, **outcome})
        print(f"{clips} clips: {outcome['seconds']:.1f} s, peak {outcome['peak_mib']:.0f} MiB", file=sys.stderr)

    load = os.getloadavg()[0]
    print(f"Library export (`run_transfer`, as `POST /v1/exports` runs it), SQLite + local media, one clip "
          f"{sum(len(v) for v in assets.values()) / 1024:.0f} KiB of media; downloads {args.downloads}; "
          f"{os.cpu_count()} CPU cores, load average {load:.1f}; {time.perf_counter() - started:.0f} s in all")
    print()
    print("| clips | seconds | s per clip | CPU s per clip | peak memory (MiB) | archive (MiB) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['clips']} | {row['seconds']:.1f} | {row['seconds'] / row['clips']:.3f} | "
              f"{row['cpu_seconds'] / row['clips']:.3f} | {row['peak_mib']:.0f} | {row['bytes'] / 2**20:.1f} |")
    smallest, largest = rows[0], rows[-1]
    ratio = largest["peak_mib"] / smallest["peak_mib"]
    print()
    verdict = "PASS" if ratio <= args.max_ratio else "FAIL"
    print(f"{verdict}: peak memory of {largest['clips']} clips / {smallest['clips']} clips = {ratio:.2f} "
          f"(limit {args.max_ratio:g}); {largest['peak_mib'] - smallest['peak_mib']:+.0f} MiB for "
          f"{largest['clips'] - smallest['clips']} more clips")
    return 0 if ratio <= args.max_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
