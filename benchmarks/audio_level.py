"""How loud a model's sound is against the Toybox scene it was asked for, and which stage loses the level.

For each held-out benchmark prompt, the level (dBFS, 20·log10 RMS) of four soundtracks of the same scene:
the render itself; the render through the vocoder alone (its log-mel in, waveform out); the render through
the audio VAE and the vocoder (encode → decode → vocode, what the transformer's latents go through); and the
model's own generation from the caption. The table prints per prompt and the median of each column's
difference from the render, so a codec that under-plays shows up apart from a transformer that does; and
the vocoder's mel L1 on the render, the error its training lowers.

    python benchmarks/audio_level.py [--model models/toybox-v2] [--n 12]
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
    """The four levels of one prompt's scene, and the vocoder's mel L1 (its output's log-mel against the
    render's, the error its training minimises)."""
    num_frames = pipe.num_frames(SECONDS)
    num_latents = pipe.num_audio_latents(num_frames)
    truth = np.asarray(
        fit_length(render(prompt).audio, num_latents * pipe.config.samples_per_audio_latent), dtype=np.float32
    )
    mel = pipe.mel(torch.from_numpy(truth)[None])
    vocoded = pipe.vocode(mel)
    mel_l1 = float((pipe.mel(torch.from_numpy(vocoded)[None]) - mel).abs().mean())
    through_vae = pipe.decode_audio(pipe.encode_audio(truth, num_latents))
    generated = pipe(prompt.caption, seconds=SECONDS, seed=prompt.generation_seed).audio
    row = dict(zip(COLUMNS, map(dbfs, (truth, vocoded, through_vae, generated)), strict=True))
    return row | {"vocoder mel L1": mel_l1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/toybox-v2"))
    parser.add_argument("--n", type=int, default=12, help="held-out prompts (run seed 0)")
    args = parser.parse_args()
    pipe = Pipeline.from_pretrained(args.model)
    render = reference_generator()
    rows = []
    print("| prompt | " + " | ".join(f"{c} dBFS" for c in COLUMNS) + " | vocoder mel L1 | caption |")
    print("| ---: | " + " | ".join("---:" for _ in COLUMNS) + " | ---: | --- |")
    for prompt in held_out_prompts(args.n):
        row = levels(pipe, prompt, render)
        rows.append(row)
        cells = " | ".join(f"{row[c]:.1f}" for c in COLUMNS)
        print(
            f"| {prompt.index} | {cells} | {row['vocoder mel L1']:.3f} | {prompt.caption[:60]}… |", flush=True
        )
    print()
    print("| stage | median dB against the render |")
    print("| --- | ---: |")
    for column in COLUMNS[1:]:
        print(f"| {column} | {statistics.median(r[column] - r['render'] for r in rows):+.1f} |")
    print(f"\nvocoder mel L1: median {statistics.median(r['vocoder mel L1'] for r in rows):.3f}")


if __name__ == "__main__":
    main()
