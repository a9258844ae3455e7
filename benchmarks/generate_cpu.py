"""What a user waits for: `duetto generate PROMPT -o x.mp4` from the shell, process start to file written.

Each run starts the real command in a fresh process (so imports, model load and peak memory are honest) and
reads the wall-clock marks it writes with its hidden `--timings` option. Prints the median of the runs per
stage: Python start-up and imports, model load, text, denoising, video decode (and resize), sound (audio
decode and vocoder), mux, and the total from process start to the MP4 on disk; plus the peak resident
memory of the process. Without a trained model, `--random-preset` times a random-weight model with a
training preset's architecture (speed does not depend on the weights' values).

    python benchmarks/generate_cpu.py [--model models/toybox-v2] [--runs 3]
    python benchmarks/generate_cpu.py --random-preset configs/train/toybox-v2-cpu.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room."
ROWS = ("imports", "load", "text", "denoising", "decode", "sound", "mux", "total")


def _duetto() -> str:
    """The `duetto` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("duetto")
    return str(beside) if beside.is_file() else (shutil.which("duetto") or "duetto")


def one_run(model: Path, seconds: float, out: Path) -> dict[str, float]:
    """Run the command once; returns seconds per stage and the peak RSS in MB."""
    marks_file = out / "timings.json"
    command = [_duetto(), "generate", PROMPT, "--model", str(model), "--seconds", str(seconds), "--seed", "0",
               "-o", str(out / "clip.mp4"), "--timings", str(marks_file)]
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"duetto generate failed: {process.stderr.read().decode().strip()}")
    data = json.loads(marks_file.read_text())
    marks, stages = data["marks"], data["stages"]
    return {
        "imports": marks["imported"] - start,
        "load": marks["loaded"] - marks["imported"],
        "text": stages["text_s"],
        "denoising": stages["denoise_s"] + stages.get("encode_s", 0.0),
        "decode": stages["vae_decode_s"],
        "sound": stages["vocoder_s"],
        "mux": marks["written"] - marks["generated"],
        "total": marks["written"] - start,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def random_folder(preset: Path, out: Path) -> Path:
    """A random-weight model folder with the preset's architecture and generation settings."""
    from duetto.training.sizes import random_model_folder

    return random_model_folder(preset, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/toybox-v2"))
    parser.add_argument("--random-preset", type=Path, help="time a random-weight model of this training preset")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = random_folder(args.random_preset, Path(tmp) / "random") if args.random_preset else args.model
        if not (model / "model_index.json").is_file():
            sys.exit(f"no model at {model}; pass --model DIR or --random-preset configs/train/<preset>.yaml")
        runs = [one_run(model, args.seconds, Path(tmp)) for _ in range(args.runs)]
    what = f"random weights, architecture of {args.random_preset}" if args.random_preset else str(args.model)
    print(f"`duetto generate` with {what}: a {args.seconds:g} s clip, {args.runs} runs, a fresh process each; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| stage | median s | share |")
    print("| --- | ---: | ---: |")
    total = statistics.median(r["total"] for r in runs)
    for row in ROWS:
        value = statistics.median(r[row] for r in runs)
        label = f"**{row} (process start → MP4 written)**" if row == "total" else row
        print(f"| {label} | {value:.2f} | {value / total:.0%} |")
    print(f"| peak RSS (MB), max over runs | {max(r['peak_rss_mb'] for r in runs):.0f} | |")


if __name__ == "__main__":
    main()
