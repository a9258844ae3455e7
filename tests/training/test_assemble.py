"""The assembled model folder: fp16, under the size cap, loads with `Pipeline.from_pretrained` and generates;
the trainer's latents are the pipeline's latents."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from duetto.engine.pipeline import Pipeline
from duetto.training.assemble import assemble
from duetto.training.data import ToyboxClips

PROMPT = "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room."


@pytest.fixture(scope="module")
def model_dir(twin_run, tmp_path_factory):
    run, cfg = twin_run[0], twin_run[1]
    return assemble(cfg, run, tmp_path_factory.mktemp("models") / "tiny-trained")


def test_folder_is_fp16_and_small(model_dir, twin_run):
    cfg = twin_run[1]
    shipped = [f for f in model_dir.rglob("*.safetensors") if f.parent.parent == model_dir]
    assert {f.parent.name for f in shipped} == {"transformer", "vae", "audio_vae", "vocoder", "text_encoder"}
    for path in shipped:
        with safe_open(str(path), "pt") as f:
            assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}, path
    assert sum(f.stat().st_size for f in model_dir.rglob("*") if f.is_file()) < cfg.max_model_mb * 1e6
    # Beside what ships, the raw fp32 weights a next run continues from (training/).
    for path in (model_dir / "training").rglob("*.safetensors"):
        with safe_open(str(path), "pt") as f:
            assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F32"}, path
    generation = json.loads((model_dir / "model_index.json").read_text())["generation"]
    assert (
        generation["sizes"] == ["32x32"]
        and generation["fps"] == 8.0
        and generation["shift"] == cfg.twin.shift
    )


def test_pipeline_loads_and_generates(model_dir):
    pipe = Pipeline.from_pretrained(model_dir)
    clip = pipe(PROMPT, seed=3)
    assert clip.frames.shape == (9, 32, 32, 3) and clip.frames.dtype == np.uint8
    assert clip.audio.shape == (18000,) and np.isfinite(clip.audio).all()
    first = np.full((32, 32, 3), (220, 40, 40), np.uint8)
    image_clip = pipe(PROMPT, seed=3, image=first, seconds=0.5)
    assert image_clip.frames.shape == (5, 32, 32, 3)


def test_trainer_latents_are_the_pipelines(model_dir, twin_run):
    cfg, cache = twin_run[1], twin_run[3]
    pipe = Pipeline.from_pretrained(model_dir, dtype=torch.float32)
    clip = ToyboxClips(cfg.data)[0]
    video = pipe.encode_frames(clip["frames"].numpy())
    audio = pipe.encode_audio(clip["audio"].numpy(), cache.audio.shape[1])
    # The folder stores fp16 weights and the cache fp16 latents: equal up to that rounding.
    assert video.shape[1:] == cache.video.shape[1:] and audio.shape[1:] == cache.audio.shape[1:]
    assert torch.allclose(video[0], cache.video[0].float(), atol=0.05, rtol=0.02)
    assert torch.allclose(audio[0], cache.audio[0].float(), atol=0.05, rtol=0.02)


def test_unfinished_run_is_refused(twin_run, tmp_path):
    with pytest.raises(ValueError, match="lacks a finished video_vae stage"):
        assemble(twin_run[1], tmp_path, tmp_path / "model")
