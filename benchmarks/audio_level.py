"""How loud a model's sound is against the Toybox scene it was asked for, and which stage loses the level.

For each held-out benchmark prompt, the level (dBFS, 20·log10 RMS) of four soundtracks of the same scene:
the render itself; the render through the vocoder alone (its log-mel in, waveform out); the render through
the audio VAE and the vocoder (encode → decode → vocode, what the transformer's latents go through); and the
model's own generation from the caption. The table prints per prompt and the median of each column's
difference from the render, so a codec that under-plays shows up apart from a transformer that does.

    python benchmarks/audio_level.py [--model models/toybox-v1] [--n 12]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch

from duetto.bench.runner import held_out_prompts, reference_generator
from duetto.engine.pipeline import Pipeline
from duetto.media import fit_length

SECONDS = 97 / 24
COLUMNS = ("render", "vocoder", "vae+vocoder", "generated")


def dbfs(wave: np.ndarray) -> float:
    return 20 * float(np.log10(max(float(np.sqrt(np.mean(np.square(wave, dtype=np.float64)))), 1e-10)))


@torch.no_grad()
def levels(pipe: Pipeline, prompt, render) -> dict[str, float]:
    num_frames = pipe.num_frames(SECONDS)
    num_latents = pipe.num_audio_latents(num_frames)
    truth = np.asarray(
        fit_length(render(prompt).audio, num_latents * pipe.config.samples_per_audio_latent), dtype=np.float32
    )
    vocoder = pipe.folder.vocoder
    mel = pipe.mel(torch.from_numpy(truth)[None]).to(vocoder.dtype)
    vocoded = vocoder(mel)[0, 0].float().clamp(-1, 1).numpy()
    through_vae = pipe.decode_audio(pipe.encode_audio(truth, num_latents))
    generated = pipe(prompt.caption, seconds=SECONDS, seed=prompt.generation_seed).audio
    return dict(zip(COLUMNS, map(dbfs, (truth, vocoded, through_vae, generated)), strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/toybox-v1"))
    parser.add_argument("--n", type=int, default=12, help="held-out prompts (run seed 0)")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model)
    render = reference_generator()
    rows = []
    print("| prompt | " + " | ".join(f"{c} dBFS" for c in COLUMNS) + " | caption |")
    print("| ---: | " + " | ".join("---:" for _ in COLUMNS) + " | --- |")
    for prompt in held_out_prompts(args.n):
        row = levels(pipe, prompt, render)
        rows.append(row)
        cells = " | ".join(f"{row[c]:.1f}" for c in COLUMNS)
        print(f"| {prompt.index} | {cells} | {prompt.caption[:60]}… |", flush=True)
    print()
    print("| stage | median dB against the render |")
    print("| --- | ---: |")
    for column in COLUMNS[1:]:
        print(f"| {column} | {statistics.median(r[column] - r['render'] for r in rows):+.1f} |")


if __name__ == "__main__":
    main()
