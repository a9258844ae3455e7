"""Which seeds of `make demo`'s prompt show what the prompt asks for, scored by the benchmark's evaluator.

`make demo` uses one chosen seed (docs/toybox-v2.md, "The demo clip"); after every training run the choice is
made again with this table, so it is a measured choice and the card can say how often the model gets the demo
right at all. Each seed's clip is made as `make demo` makes it (the `duetto generate` command, MP4 and all),
then scored. Per seed: whether the ball is found, the shape and size seen, the motion seen, the visual
impacts, how many of them have a sound within ±1 frame, and the false sounds.

    python benchmarks/demo_seeds.py [--model models/toybox-v2] [--seeds 12]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def makefile_value(name: str) -> str:
    done = subprocess.run(["make", "-s", f"print-{name}"], cwd=REPO, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(REPO / "models" / "toybox-v2"))
    parser.add_argument("--seeds", type=int, default=12)
    args = parser.parse_args()

    import numpy as np

    from duetto.bench.evaluate import evaluate
    from duetto.world import parse_caption

    prompt = makefile_value("PROMPT")
    facts = parse_caption(re.split(r"\s*Audio:", prompt)[0])
    env = os.environ | {"DUETTO_MODEL": args.model, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    folder = Path(tempfile.mkdtemp(prefix="demo-seeds-"))
    print(f"prompt: {prompt}\nmodel: {args.model}; the Makefile's seed: {makefile_value('SEED')}\n")
    print("| seed | found | shape | size | motion | impacts | heard within ±1 frame | false sounds |")
    print("| ---: | --- | --- | --- | --- | ---: | ---: | ---: |")
    found = bounced = 0
    for seed in range(args.seeds):
        out = folder / f"seed-{seed}.mp4"
        subprocess.run([sys.executable, "-m", "duetto.cli", "generate", prompt, "--seed", str(seed), "-o", str(out)],
                       env=env, check=True, capture_output=True)
        scores = evaluate(out, facts)
        ball = scores.objects[0]
        frame_ms = 1000.0 / scores.fps
        within = int(np.sum(np.abs(scores.sync_errors_ms) <= frame_ms)) if scores.sync_errors_ms else 0
        found += ball.found
        bounced += ball.seen_motion == "bounces"
        print(f"| {seed} | {'yes' if ball.found else 'no'} | {ball.seen_shape or '–'} | {ball.seen_size or '–'} | "
              f"{ball.seen_motion} | {len(ball.impacts)} | {within} | {scores.false_sounds} |")
    print(f"\nthe ball found in {found} of {args.seeds} seeds, seen bouncing in {bounced}")


if __name__ == "__main__":
    sys.exit(main())
