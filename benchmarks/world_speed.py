"""How many Toybox clips one core renders per second (128×128, 24 fps, 4 s, 16 kHz by default).

Prints a table: render only, render + shard encoding, and `write_dataset` with one worker, each the
median of several runs. "per CPU-s" divides by the process's CPU time, which is the per-core rate even
when other programs share the machine; "per wall-s" is what a clock on the wall sees.

    python benchmarks/world_speed.py [--clips 40] [--runs 5] [--size 128x128]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

from duetto.world.cli import parse_size
from duetto.world.dataset import encode_frames, write_dataset
from duetto.world.render import render
from duetto.world.sample import random_scene


def _timed(fn) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", default="128x128")
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--sample-rate", type=int, default=16000)
    args = parser.parse_args()
    width, height = parse_size(args.size)
    opts = {
        "width": width,
        "height": height,
        "fps": args.fps,
        "seconds": args.seconds,
        "sample_rate": args.sample_rate,
    }
    scenes = [random_scene(np.random.default_rng(i)) for i in range(args.clips)]
    render(scenes[0], **opts)  # warm caches (impact templates, filters)

    def render_only():
        for i, s in enumerate(scenes):
            render(s, seed=i, **opts)

    def render_encode():
        for i, s in enumerate(scenes):
            r = render(s, seed=i, **opts)
            encode_frames(r.clip.frames)
            r.clip.audio.astype(np.float16)

    def dataset():
        with tempfile.TemporaryDirectory() as folder:
            write_dataset(folder, args.clips, shard_size=args.clips, workers=1, **opts)

    print(
        f"Toybox at {width}x{height}, {args.fps:g} fps, {args.seconds:g} s, {args.sample_rate} Hz; "
        f"{args.clips} clips x {args.runs} runs (median)"
    )
    print(f"{'stage':<28}{'clips per CPU-s':>18}{'clips per wall-s':>18}")
    for name, fn in (
        ("render", render_only),
        ("render + encode", render_encode),
        ("write_dataset (1 worker)", dataset),
    ):
        runs = [_timed(fn) for _ in range(args.runs)]
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        print(f"{name:<28}{args.clips / cpu:>18.1f}{args.clips / wall:>18.1f}")


if __name__ == "__main__":
    main()
