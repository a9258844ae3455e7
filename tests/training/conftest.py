"""Shared fixtures: the tiny preset with test overrides, and one tiny run whose first two stages are trained."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from duetto.training.config import TrainConfig, _read_yaml, apply_overrides, parse_config

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "train" / "tiny.yaml"

# Two clips and whole-clip crops: every step of every stage sees the same small batch.
FIXED_BATCH = [
    "data.num_clips=2",
    "video_vae.clip_frames=9",
    "video_vae.steps=12",
    "audio.segment_samples=17920",
    "audio.steps=12",
]


def tiny_config(*overrides: str) -> TrainConfig:
    """The tiny preset, with the fixed batch and then `overrides` applied."""
    return parse_config(apply_overrides(_read_yaml(TINY), [*FIXED_BATCH, *overrides]))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[Path, dict]:
    """A run folder with the video VAE and the audio codec trained (tiny preset), and their loss sequences."""
    from duetto.training.audio_codec import train_audio
    from duetto.training.video_vae import train_video_vae

    run = tmp_path_factory.mktemp("tiny-run")
    cfg = tiny_config()
    losses = {"video_vae": train_video_vae(cfg, run).losses, "audio": train_audio(cfg, run).losses}
    return run, losses


@pytest.fixture(scope="session")
def twin_run(tiny_run, tmp_path_factory):
    """The tiny run with the twin stage trained too (24 steps), and what a test needs to evaluate it."""
    from duetto.training.ddp import Dist
    from duetto.training.twin import encode_clips, prepare_tokenizer, train_twin

    run = copy_stages(tiny_run[0], tmp_path_factory.mktemp("twin-run"), "video_vae", "audio")
    cfg = tiny_config("twin.steps=24")
    result = train_twin(cfg, run)
    cache = encode_clips(cfg, run, Dist())  # already written by the stage: this only loads it
    tokenizer = prepare_tokenizer(run / "twin", cache.captions, cfg.twin.text.vocab_size, Dist())
    return run, cfg, result, cache, tokenizer


def copy_stages(src: Path, dst: Path, *names: str) -> Path:
    """A new run folder holding `names` (stage folders or the latent cache) of another run."""
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copytree(src / name, dst / name)
    return dst
