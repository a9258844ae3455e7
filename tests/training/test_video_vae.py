"""Stage 1: the video VAE learns, resumes bit for bit, and stores the latent statistics the pipeline uses."""

from __future__ import annotations

import json

import pytest
import torch

from duetto.training.video_vae import train_video_vae

from .conftest import tiny_config


def test_loss_goes_down_on_a_fixed_batch(tiny_run):
    losses = tiny_run[1]["video_vae"]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < 0.8 * losses[0], losses


def test_final_vae_holds_latent_statistics(tiny_run):
    config = json.loads((tiny_run[0] / "video_vae" / "final" / "config.json").read_text())
    assert len(config["latents_mean"]) == len(config["latents_std"]) == 4
    assert config["latents_std"] != [1.0] * 4 and all(s > 0 for s in config["latents_std"])
    assert config["patch_size"] == 2 and config["scale_factor_spatial"] == 8


def test_resume_is_bit_identical(tmp_path):
    cfg = tiny_config("video_vae.steps=4", "video_vae.ckpt_every=2")
    whole = train_video_vae(cfg, tmp_path / "a")
    first = train_video_vae(cfg, tmp_path / "b", stop_at=2)
    rest = train_video_vae(cfg, tmp_path / "b", resume=True)
    assert first.losses + rest.losses == whole.losses
    a, b = whole.modules["vae"].state_dict(), rest.modules["vae"].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_existing_run_needs_resume(tmp_path):
    cfg = tiny_config("video_vae.steps=1")
    train_video_vae(cfg, tmp_path, stop_at=1)
    with pytest.raises(ValueError, match="--resume"):
        train_video_vae(cfg, tmp_path)
