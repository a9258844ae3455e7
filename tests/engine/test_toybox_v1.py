"""The shipped default model, models/toybox-v1: the default command uses it, and each way of conditioning it
does what it promises, measured against a control made the same way without that conditioning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from duetto.bench.evaluate import evaluate
from duetto.clip import Clip
from duetto.engine.cli import default_model_dir
from duetto.media import probe_mp4, read_mp4
from duetto.world import ObjectFacts, SceneFacts, render
from tests.media.synth import psnr

MODEL = Path(__file__).resolve().parents[2] / "models" / "toybox-v1"
# The video VAE reconstructs held-out Toybox clips at 15.6–17.5 dB (docs/toybox-v1.md); a held first frame
# must come through about that well.
IMAGE_PSNR_DB = 15.0
PROMPT = "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room."


@pytest.fixture(scope="module")
def pipe():
    from duetto.engine.pipeline import Pipeline

    return Pipeline.from_pretrained(MODEL)


def test_the_shipped_model_is_the_default_and_fits_its_budget():
    assert default_model_dir() == MODEL
    weights = sum(p.stat().st_size for p in MODEL.rglob("*.safetensors"))
    assert weights <= 60 * 1024 * 1024


def test_duetto_generate_makes_the_readme_clip_with_no_model_named(tmp_path):
    out = tmp_path / "x.mp4"
    env = {k: v for k, v in os.environ.items() if k != "DUETTO_MODEL"} | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "duetto.cli", "generate", PROMPT, "-o", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    info = probe_mp4(out)
    assert (info["video"]["width"], info["video"]["height"]) == (128, 128)
    assert info["video"]["fps"] == pytest.approx(24) and info["video"]["frames"] == 97
    assert info["audio"]["sample_rate"] == 16000
    clip = read_mp4(out)
    # A real clip: the picture changes over time and there is sound. The CPU-trained model plays this prompt
    # far quieter than Toybox does (RMS 0.0009–0.028 over seeds 0–11 against 0.06–0.08 for renders of the
    # scene; docs/toybox-v1.md), and the command draws a new seed each run, so the floor sits well under the
    # quietest seed and still fails a silent or dropped soundtrack.
    assert np.abs(np.diff(clip.frames.astype(np.float32), axis=0)).mean() > 0.05
    assert np.sqrt(np.mean(clip.audio**2)) > 2e-4


@pytest.fixture(scope="module")
def bouncing() -> tuple[SceneFacts, Clip, str]:
    facts = SceneFacts("room", "quiet", [ObjectFacts("ball", "red", "big", "rubber", "bounces", "center")])
    result = render(facts, seed=4, seconds=97 / 24)
    return facts, result.clip, result.truth["caption"]


@pytest.fixture(scope="module")
def free(pipe, bouncing) -> Clip:
    """The bouncing clip's caption generated with nothing given: the control of the conditioning tests."""
    return pipe(bouncing[2], seed=0)


def test_image_to_video_keeps_the_given_first_frame(pipe, bouncing, free):
    _, clip, caption = bouncing
    image = clip.frames[0]
    given = pipe(caption, image=image, seed=0)
    held, control = psnr(given.frames[0], image), psnr(free.frames[0], image)
    assert held >= IMAGE_PSNR_DB and held >= control + 3.0, (held, control)


def test_video_to_audio_keeps_the_given_picture_and_sounds_its_whole_length(pipe, bouncing, free):
    # The CPU-trained model does not yet put impact sounds on impacts (docs/toybox-v1.md: sync is the
    # measure that needs the GPU run). What it must do is keep the given picture and answer it with sound
    # of the same length, which the evaluator can then score against the picture's impacts.
    facts, clip, caption = bouncing
    silent = Clip(clip.frames, np.zeros_like(clip.audio), clip.fps, clip.sample_rate)
    heard = pipe(caption, video=silent, seed=0)
    assert heard.frames.shape == clip.frames.shape
    kept, control = psnr(heard.frames, clip.frames), psnr(free.frames, clip.frames)
    assert kept >= IMAGE_PSNR_DB and kept >= control + 3.0, (kept, control)
    assert abs(heard.audio_seconds - clip.video_seconds) <= 1 / clip.fps
    assert np.sqrt(np.mean(heard.audio**2)) > 1e-3
    scores = evaluate(Clip(clip.frames, heard.audio, clip.fps, heard.sample_rate), facts)
    assert len(scores.visual_impacts) >= 2 and len(scores.sync_errors_ms) == len(scores.visual_impacts)


def test_remix_stays_near_its_source(pipe):
    source = pipe(PROMPT, seed=1)
    other = PROMPT.replace("red", "blue")
    remix = pipe(other, remix_of=source, strength=0.4, seed=2)
    fresh = pipe(other, seed=2)
    assert psnr(remix.frames, source.frames) >= psnr(fresh.frames, source.frames) + 3.0
