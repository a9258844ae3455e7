"""Memory profiles give the same clip as the plain pipeline, within bf16/fp8 tolerance, in less memory."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.engine.memory import PROFILES, weight_bytes
from duetto.engine.pipeline import Pipeline
from duetto.engine.testing import make_tiny_model

PROMPT = "a big blue wooden box slides to the right and hits the wall. Audio: a scrape, then a knock."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("m") / "tiny", seed=1)


@pytest.fixture(scope="module")
def reference(model_dir):
    pipe = Pipeline.from_pretrained(model_dir)
    return pipe(PROMPT, seed=11), pipe(PROMPT, seed=12)


def _distance(a, b) -> tuple[float, float]:
    frames = np.abs(a.frames.astype(np.float64) - b.frames.astype(np.float64)).mean()
    audio = np.abs(a.audio.astype(np.float64) - b.audio.astype(np.float64)).mean()
    return frames, audio


@pytest.mark.parametrize("profile", [p for p in PROFILES if p != "full"])
def test_profile_matches_plain_pipeline(model_dir, reference, profile):
    plain, other_seed = reference
    pipe = Pipeline.from_pretrained(model_dir, memory_profile=profile)
    clip = pipe(PROMPT, seed=11)
    frames_err, audio_err = _distance(clip, plain)
    # A profile's rounding moves the clip far less than changing the seed does.
    frames_scale, audio_scale = _distance(other_seed, plain)
    assert frames_err < 0.2 * frames_scale, (frames_err, frames_scale)
    assert audio_err < 0.2 * audio_scale, (audio_err, audio_scale)
    assert clip.frames.shape == plain.frames.shape and clip.audio.shape == plain.audio.shape


def test_profiles_store_weights_smaller(model_dir):
    sizes = {p: weight_bytes(Pipeline.from_pretrained(model_dir, memory_profile=p).folder.transformer)
             for p in ("full", "bf16", "fp8")}
    assert sizes["bf16"] < 0.55 * sizes["full"]
    assert sizes["fp8"] < sizes["bf16"]


def test_offload_keeps_components_on_the_cpu_between_uses(model_dir):
    pipe = Pipeline.from_pretrained(model_dir, memory_profile="offload")
    assert pipe.offload
    assert all(next(m.parameters()).device.type == "cpu" for m in pipe.folder.modules().values())


def test_unknown_profile_names_the_choices(model_dir):
    with pytest.raises(ValueError, match="full, bf16, offload, fp8"):
        Pipeline.from_pretrained(model_dir, memory_profile="tiny-gpu")
