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


def test_mean_decoding_ignores_the_posterior_noise():
    from duetto.training.video_vae import VideoVAEObjective, build_video_vae

    cfg = tiny_config()
    vae = build_video_vae(cfg.video_vae.model).eval()
    x = torch.rand(1, 3, 5, 32, 32) * 2 - 1
    runs = {}
    for sample in (False, True):
        objective = VideoVAEObjective(vae, sample_posterior=sample)
        with torch.no_grad():
            runs[sample] = [objective(x, torch.Generator().manual_seed(seed))[0] for seed in (1, 2)]
    assert torch.equal(runs[False][0], runs[False][1])
    assert not torch.equal(runs[True][0], runs[True][1])
    with torch.no_grad():
        expected = vae.decode(vae.encode(x).latent_dist.mode()).sample
    assert torch.allclose(runs[False][0], expected)
