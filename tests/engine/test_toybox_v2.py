"""The shipped default model, models/toybox-v2: the default command makes the README's clip with the ball seen
and its bounces heard where it lands, and each way of conditioning the model does what it promises, measured
with the benchmark's evaluator or against a control made the same way without that conditioning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from duetto.bench.evaluate import evaluate, load_clip
from duetto.bench.runner import held_out_prompts
from duetto.clip import Clip
from duetto.engine.cli import default_model_dir
from duetto.media import probe_mp4
from duetto.world import ObjectFacts, SceneFacts, render
from tests.media.synth import psnr

MODEL = Path(__file__).resolve().parents[2] / "models" / "toybox-v2"
REPO = MODEL.parents[1]
PROMPT = "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room."
FRAME_MS = 1000 / 24


def _makefile(name: str) -> str:
    """A variable of the Makefile, as `make demo` uses it."""
    done = subprocess.run(["make", "-s", "-f", str(REPO / "Makefile"), f"print-{name}"], capture_output=True,
                          text=True, cwd=REPO, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def pipe():
    from duetto.engine.pipeline import Pipeline

    return Pipeline.from_pretrained(MODEL)


def test_the_shipped_model_is_the_default_and_fits_its_budget():
    assert default_model_dir() == MODEL
    shipped = [p for p in MODEL.rglob("*.safetensors") if "training" not in p.parts]
    assert sum(p.stat().st_size for p in shipped) <= 40 * 1024 * 1024


def test_make_demos_clip_shows_the_ball_bouncing(tmp_path):
    out = tmp_path / "demo.mp4"
    prompt, seed = _makefile("PROMPT"), _makefile("SEED")
    env = {k: v for k, v in os.environ.items() if k != "DUETTO_MODEL"} | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "duetto.cli", "generate", prompt, "--seed", seed, "-o", str(out)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    info = probe_mp4(out)
    assert (info["video"]["width"], info["video"]["height"]) == (128, 128) and info["video"]["frames"] == 97
    assert info["audio"]["sample_rate"] == 16000
    facts = SceneFacts("room", "quiet", [ObjectFacts("ball", "red", "small", "rubber", "bounces", "left")])
    scores = evaluate(out, facts)
    ball = scores.objects[0]
    # The red ball, seen bouncing at least twice (the evaluator's tracker). Its size is not asserted: at 93,520
    # samples the model draws it big; nor that each bounce is lower, nor sync: one of this clip's two bounce sounds
    # is heard within a frame (docs/toybox-v2.md, "The demo clip"). The seed is a chosen one (the Makefile says how).
    assert ball.found and ball.seen_shape == "ball", ball
    assert ball.seen_motion == "bounces" and len(ball.impacts) >= 2, ball
    assert np.sqrt(np.mean(load_clip(out).audio ** 2)) > 1e-3


@pytest.fixture(scope="module")
def bouncing() -> tuple[SceneFacts, Clip, str]:
    facts = SceneFacts("room", "quiet", [ObjectFacts("ball", "red", "big", "rubber", "bounces", "center")])
    result = render(facts, seed=4, width=64, height=64, seconds=97 / 24)
    return facts, result.clip, result.truth["caption"]


@pytest.fixture(scope="module")
def free(pipe, bouncing) -> Clip:
    """The bouncing clip's caption generated with nothing given: the control of the conditioning tests."""
    return pipe(bouncing[2], seed=0, size="64x64")


def test_image_to_video_keeps_the_given_first_frame(pipe, bouncing, free):
    _, clip, caption = bouncing
    image = clip.frames[0]
    given = pipe(caption, image=image, seed=0, size="64x64")
    held, control = psnr(given.frames[0], image), psnr(free.frames[0], image)
    assert held >= 25.0 and held >= control + 3.0, (held, control)


def test_video_to_audio_keeps_the_picture_and_sounds_it(pipe):
    """Sound for given pictures: held-out renders with impacts. The picture comes back as given and the sound
    is the clip's length and audible. Its sync is measured, not asserted: the shipped model misses the bars (the card's
    video→audio row, printed by `python -m pytest tests/engine/test_toybox_v2.py -k video_to_audio -s`)."""
    errors = []
    for prompt in [p for p in held_out_prompts(24) if any(o.motion in ("bounces", "falls", "slides")
                                                          for o in p.facts.objects)][:6]:
        clip = render(prompt.facts, seed=prompt.scene_seed, width=128, height=128, seconds=97 / 24).clip
        out = pipe(prompt.caption, video=Clip(frames=clip.frames, audio=np.zeros(1, np.float32), fps=clip.fps,
                                               sample_rate=clip.sample_rate), seed=prompt.generation_seed)
        np.testing.assert_array_equal(out.frames, clip.frames)  # the picture is kept as given
        assert len(out.audio) >= 16000 * 4 and np.sqrt(np.mean(out.audio**2)) > 1e-3
        errors += evaluate(out, prompt.facts).sync_errors_ms
    errors = np.asarray(errors)
    assert len(errors) >= 6
    print(f"video→audio on 6 held-out renders: sync median {np.median(errors):.0f} ms, "  # noqa: T201 (the card's row, with -s)
          f"{(errors <= FRAME_MS).mean():.2f} within ±1 frame, {len(errors)} impacts")


def test_audio_to_video_keeps_the_sound_and_draws_its_source(pipe, bouncing):
    """Pictures for a given sound: the sound comes back as given, and the ball it comes from is drawn in some of
    the clips. How often is measured, not asserted (2 of 6 seeds at 60,000 samples; the card's audio→video row,
    printed with -s)."""
    facts, clip, caption = bouncing
    found = []
    for seed in range(4):
        out = pipe(caption, audio=clip, seed=seed)
        np.testing.assert_allclose(out.audio[: 16000 * 3], clip.audio[: 16000 * 3], atol=1e-4)
        assert out.frames.shape[0] == 97 and out.frames.std() > 1.0  # a moving picture of the clip's length
        found.append(evaluate(out, facts).objects[0].found)
    print(f"audio→video: the red ball drawn in {sum(found)} of {len(found)} seeds")  # noqa: T201 (the card's row, with -s)


def test_remix_stays_closer_to_its_source_than_a_fresh_clip(pipe, bouncing, free):
    _, clip, caption = bouncing
    source = Clip(frames=clip.frames, audio=clip.audio, fps=clip.fps, sample_rate=clip.sample_rate)
    new_prompt = caption.replace("red", "blue")
    remix = pipe(new_prompt, remix_of=source, strength=0.4, seed=1, size="64x64")
    fresh = pipe(new_prompt, seed=1, size="64x64")
    assert psnr(remix.frames, clip.frames) >= psnr(fresh.frames, clip.frames) + 3.0


def test_extend_continues_the_clip_and_its_sound(pipe, bouncing):
    facts, clip, caption = bouncing
    source = Clip(frames=clip.frames, audio=clip.audio, fps=clip.fps, sample_rate=clip.sample_rate)
    out = pipe(caption, extend=source, seconds=2.0, seed=2, size="64x64")
    assert out.num_frames == clip.num_frames + 48
    np.testing.assert_array_equal(out.frames[: clip.num_frames], clip.frames)
    tail = Clip(frames=out.frames[clip.num_frames:], audio=out.audio[len(clip.audio):], fps=24.0, sample_rate=16000)
    ball = evaluate(tail, facts).objects[0]
    assert ball.found, ball  # the ball is still there after the cut
    seam = out.audio[len(clip.audio) - 800: len(clip.audio) + 800]
    assert np.sqrt(np.mean(seam**2)) < 0.5  # no click or burst where the new sound starts
