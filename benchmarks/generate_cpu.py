"""End-to-end CPU time of one 4-second clip with default settings, model load included, per stage.

Each run is a fresh process (so model load and peak memory are honest): load the folder, encode the
prompt, denoise, decode the video, vocode the audio, mux the MP4. Prints the median of the runs and the
per-stage split. Without a trained model, `--random-preset` times a random-weight model with the same
architecture as a training preset (speed does not depend on the weights' values).

    python benchmarks/generate_cpu.py [--model models/toybox-v1] [--runs 3]
    python benchmarks/generate_cpu.py --random-preset configs/train/toybox-v1.yaml
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room."
STAGES = ("load_s", "text_s", "denoise_s", "vae_decode_s", "vocoder_s", "mux_s")


def _one_run(model: Path, seconds: float) -> dict:
    start = time.perf_counter()
    from duetto.engine.pipeline import Pipeline
    from duetto.media import write_mp4

    pipe = Pipeline.from_pretrained(model)
    load = time.perf_counter() - start
    clip = pipe(PROMPT, seconds=seconds, seed=0)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        write_mp4(clip, Path(tmp) / "clip.mp4")
    timings = dict(clip.metadata["timings"], load_s=load, mux_s=time.perf_counter() - t0)
    return {"total_s": time.perf_counter() - start, **timings,
            "steps": clip.metadata["steps"], "frames": clip.num_frames, "size": clip.metadata["size"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _random_folder(preset: Path, out: Path) -> Path:
    """A random-weight model folder with the preset's architecture and generation settings."""
    import numpy as np

    from duetto.engine.model_folder import ModelFolder, save_model_folder
    from duetto.engine.text_encoder import train_tokenizer
    from duetto.training.assemble import generation_config
    from duetto.training.audio_codec import build_audio_vae, build_vocoder
    from duetto.training.config import load_config
    from duetto.training.twin import build_text_encoder, build_transformer
    from duetto.training.video_vae import build_video_vae
    from duetto.world import caption, random_scene

    cfg = load_config(preset)
    rng = np.random.default_rng(0)
    tokenizer = train_tokenizer([caption(random_scene(rng), rng) for _ in range(2000)],
                                vocab_size=cfg.twin.text.vocab_size)
    audio_vae = build_audio_vae(cfg.audio.audio_vae)
    folder = ModelFolder(
        name=f"{cfg.name}-random", transformer=build_transformer(cfg, cfg.video_vae.model.z_dim,
                                                                 cfg.audio.audio_vae.embed_dim).half(),
        vae=build_video_vae(cfg.video_vae.model).half(), audio_vae=audio_vae.half(),
        vocoder=build_vocoder(cfg.audio.vocoder).half(),
        text_encoder=build_text_encoder(cfg, len(tokenizer)).half(), tokenizer=tokenizer,
        generation=generation_config(cfg, audio_vae.downsample_factor),
    )
    return save_model_folder(folder, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/toybox-v1"))
    parser.add_argument("--random-preset", type=Path, help="time a random-weight model of this training preset")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one_run(args.one, args.seconds)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        model = _random_folder(args.random_preset, Path(tmp) / "random") if args.random_preset else args.model
        if not (model / "model_index.json").is_file():
            sys.exit(f"no model at {model}; pass --model DIR or --random-preset configs/train/<preset>.yaml")
        runs = []
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, __file__, "--one", str(model), "--seconds", str(args.seconds)],
                                 capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    what = f"random weights, architecture of {args.random_preset}" if args.random_preset else str(args.model)
    first = runs[0]
    print(f"model: {what}; {first['frames']} frames at {first['size']}, {first['steps']} steps; "
          f"{args.runs} runs, fresh process each")
    print("| stage | median s | share |")
    print("| --- | ---: | ---: |")
    total = statistics.median(r["total_s"] for r in runs)
    for stage in STAGES:
        value = statistics.median(r[stage] for r in runs)
        print(f"| {stage[:-2].replace('_', ' ')} | {value:.2f} | {value / total:.0%} |")
    print(f"| **total (wall)** | **{total:.2f}** | |")
    print(f"| peak RSS (MB), max over runs | {max(r['peak_rss_mb'] for r in runs):.0f} | |")


if __name__ == "__main__":
    main()
