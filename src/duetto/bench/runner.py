"""Running the Toybox benchmark: held-out prompts, a generator per prompt, MP4s, scores and a report.

The held-out split: prompt i of a run with seed S is the scene `random_scene(default_rng(s))` with
scene seed s = 2**32 + S·2**20 + i, captioned with the same generator. Training data seeds its scenes
with 32-bit values (`duetto.world.dataset.clip_seed`), so held-out scene seeds never occur in
training; a very simple scene may still be drawn there by chance from another seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from duetto.bench.evaluate import ClipScores, evaluate
from duetto.bench.report import Report
from duetto.clip import Clip
from duetto.world.captions import caption as write_caption
from duetto.world.facts import SceneFacts
from duetto.world.sample import random_scene

#: Held-out scene seeds start here, above every 32-bit training seed.
HELD_OUT_SEED_BASE = 2**32
_PER_RUN = 2**20
DEFAULT_SECONDS = 4.0
DEFAULT_SIZE = (128, 128)  # width, height
DEFAULT_FPS = 24.0
DEFAULT_SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class BenchPrompt:
    """One held-out prompt: its caption (what a model is given) and the facts it states (what is scored)."""

    index: int
    scene_seed: int
    generation_seed: int  # a 31-bit seed for the generator's own sampling
    caption: str
    facts: SceneFacts


GenerateFn = Callable[[BenchPrompt], Clip]


def held_out_prompts(n: int, seed: int = 0) -> list[BenchPrompt]:
    """The first `n` prompts of the held-out split for run seed `seed` (see the module docstring)."""
    if not 1 <= n <= _PER_RUN:
        raise ValueError(f"n must be between 1 and {_PER_RUN}, got {n}")
    if seed < 0:
        raise ValueError(f"seed must be zero or positive, got {seed}")
    prompts = []
    for i in range(n):
        scene_seed = HELD_OUT_SEED_BASE + seed * _PER_RUN + i
        rng = np.random.default_rng(scene_seed)
        facts = random_scene(rng)
        text = write_caption(facts, rng)
        generation_seed = int(np.random.SeedSequence(scene_seed).generate_state(1)[0] >> 1)
        prompts.append(BenchPrompt(i, scene_seed, generation_seed, text, facts))
    return prompts


def reference_generator(*, size: tuple[int, int] = DEFAULT_SIZE, fps: float = DEFAULT_FPS,
                        seconds: float = DEFAULT_SECONDS, sample_rate: int = DEFAULT_SAMPLE_RATE) -> GenerateFn:
    """Ground-truth renders of each prompt's scene: what a perfect model would produce."""
    from duetto.world.render import render

    def generate(prompt: BenchPrompt) -> Clip:
        return render(prompt.facts, width=size[0], height=size[1], fps=fps, seconds=seconds,
                      sample_rate=sample_rate, seed=prompt.scene_seed, caption=prompt.caption).clip

    return generate


def model_generator(model_dir: str | os.PathLike[str], *, size: tuple[int, int] = DEFAULT_SIZE,
                    seconds: float = DEFAULT_SECONDS, device: str = "cpu") -> GenerateFn:
    """Clips from the model folder `model_dir`, one per prompt, with the prompt's generation seed."""
    path = Path(model_dir)
    if not path.is_dir():
        raise ValueError(f"no model folder at {path}; pass --model DIR or use --reference")
    from duetto.engine.pipeline import Pipeline  # heavy: only when a model is actually benchmarked

    pipe = Pipeline.from_pretrained(path, device=device)

    def generate(prompt: BenchPrompt) -> Clip:
        return pipe(prompt.caption, seconds=seconds, size=f"{size[0]}x{size[1]}", seed=prompt.generation_seed)

    return generate


def codec_generator(folder: str | os.PathLike[str], *, size: tuple[int, int] = DEFAULT_SIZE,
                    seconds: float = DEFAULT_SECONDS, device: str = "cpu") -> GenerateFn:
    """Ground-truth renders passed through a model folder's codecs alone (the "codec ceiling"): each scene is
    rendered at the size the model works at, encoded and decoded by its video codec, resized to `size` as
    generation does, and its sound encoded and decoded by the audio codec and vocoder. What a perfect
    transformer could at best score with these codecs."""
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"no model folder at {path}; pass --through-codecs DIR of a model or codec folder")
    from duetto.engine.codecs import Codecs
    from duetto.engine.model_folder import load_codecs
    from duetto.world.render import render

    modules, generation = load_codecs(path)
    codecs = Codecs(**{k: m.to(device) for k, m in modules.items()}, config=generation, device=device)
    model_width, model_height = codecs.model_size(*size)

    def generate(prompt: BenchPrompt) -> Clip:
        clip = render(prompt.facts, width=model_width, height=model_height, fps=generation.fps, seconds=seconds,
                      sample_rate=generation.sample_rate, seed=prompt.scene_seed, caption=prompt.caption).clip
        frames, audio = codecs.round_trip(clip.frames, clip.audio)
        return Clip(frames=codecs.resize(frames, *size), audio=audio, fps=clip.fps, sample_rate=clip.sample_rate,
                    metadata=dict(clip.metadata, generator="codecs"))

    return generate


def run_benchmark(
    generate_fn: GenerateFn,
    n: int = 64,
    seed: int = 0,
    out_dir: str | os.PathLike[str] = "bench-out",
    *,
    model_name: str = "model",
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Generate a clip for each of `n` held-out prompts, write it as MP4, score the MP4 and report.

    Writes `out_dir`/clips/NNN.mp4, report.json, report.md, sync_errors.png and measures.png.
    `progress(done, total)` is called after each clip.
    """
    from duetto.media import write_mp4

    out = Path(out_dir)
    clips_dir = out / "clips"
    try:
        clips_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot write to {out}: {error.strerror or error}; choose another --out") from None
    prompts = held_out_prompts(n, seed)
    scores: list[ClipScores] = []
    rows = []
    for done, prompt in enumerate(prompts, start=1):
        clip = generate_fn(prompt)
        path = write_mp4(clip, clips_dir / f"{prompt.index:03d}.mp4", metadata={"comment": prompt.caption})
        result = evaluate(path, prompt.facts)
        scores.append(result)
        rows.append({"index": prompt.index, "scene_seed": prompt.scene_seed, "generation_seed": prompt.generation_seed,
                     "caption": prompt.caption, "mp4": str(path.relative_to(out)), "facts": prompt.facts.to_dict(),
                     **result.to_dict()})
        if progress is not None:
            progress(done, len(prompts))
    notes = [f"Held-out split: scene seeds {HELD_OUT_SEED_BASE} + {seed}·{_PER_RUN} + i, disjoint from the "
             "32-bit seeds of training data."]
    report = Report.from_scores(model_name, seed, scores, rows, notes)
    report.write(out)
    return report
