"""The toybox-v2 recipe on the tiny-toybox preset: the frame-group and mel codec stages, windows at aligned
offsets, object-weighted losses, runs that continue a model folder, and the learning curve in a card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from duetto.engine.pipeline import Pipeline
from duetto.training.assemble import assemble, assemble_codecs
from duetto.training.config import MEL_HOP, _read_yaml, apply_overrides, parse_config
from duetto.training.curve import END, START, record
from duetto.training.data import ToyboxClips, object_mask, onset_tokens
from duetto.training.ddp import Dist
from duetto.training.mel_codec import train_mel_codec
from duetto.training.twin import (
    aligned_offsets,
    draw_window,
    encode_clips,
    marked_weights,
    masked_mse,
    train_twin,
)
from duetto.training.video_codec import train_video_codec
from duetto.world import vocab
from duetto.world.dataset import render_item

TINY = Path(__file__).resolve().parents[2] / "configs" / "train" / "tiny-toybox.yaml"
PROMPT = "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room."


def tiny_toybox(*overrides: str):
    return parse_config(apply_overrides(_read_yaml(TINY), ["data.num_clips=4", "twin.steps=6", *overrides]))


@pytest.fixture(scope="module")
def codec_run(tmp_path_factory):
    """A run folder with both codec stages finished and its codec-only folder."""
    run, cfg = tmp_path_factory.mktemp("toybox-run"), tiny_toybox()
    losses = train_video_codec(cfg, run).losses
    train_mel_codec(cfg, run)
    return run, cfg, losses, assemble_codecs(cfg, run)


def test_object_mask_covers_objects_and_toys_but_not_the_backdrop():
    params = {"seed": 0, "width": 32, "height": 32, "fps": 24.0, "seconds": 1.0, "sample_rate": 16000,
              "max_objects": 3, "allow_toys": True}
    result = render_item(2, params)
    mask = object_mask(result.clip.frames)
    backdrop = vocab.SETTINGS[result.truth["setting"]]
    frames = result.clip.frames
    plain = np.all(frames == backdrop.wall, axis=-1) | np.all(frames == backdrop.floor, axis=-1)
    assert mask[~plain].all()  # every pixel of an object or toy is in the mask ...
    assert 0 < mask.mean() < 0.5 and not mask[plain].all()  # ... and most of the backdrop is not


def test_video_codec_stage_learns_and_stores_its_statistics(codec_run):
    run, cfg, losses, codecs = codec_run
    assert len(losses) == cfg.video_codec.steps and np.mean(losses[-2:]) < losses[0]
    config = json.loads((run / "video_codec" / "final" / "config.json").read_text())
    assert len(config["latents_std"]) == 4 and all(s > 0 for s in config["latents_std"])
    assert {p.name for p in codecs.iterdir()} == {"vae", "audio_vae", "vocoder", "model_index.json"}


def test_mel_codec_standardises_the_datas_mel(codec_run):
    run, cfg = codec_run[0], codec_run[1]
    from duetto.engine.models.mel_codec import MelCodec
    from duetto.training.audio_codec import log_mel

    codec = MelCodec.from_pretrained(run / "mel_codec" / "final" / "audio_vae")
    mels = torch.cat([log_mel(cfg.data.sample_rate)(ToyboxClips(cfg.data)[i]["audio"][None]) for i in range(4)], 2)
    z = codec.encode(mels)
    assert abs(float(z.mean())) < 0.05 and float(z.std()) == pytest.approx(1.0, abs=0.05)


def test_windows_start_where_picture_and_sound_line_up():
    cfg = tiny_toybox()
    latent_s, audio_s = 4 / cfg.data.fps, 2 * MEL_HOP / cfg.data.sample_rate
    offsets = aligned_offsets(cfg, 4)
    assert offsets[0] == 0 and len(offsets) > 1
    for k in offsets:  # within the tolerance of an audio latent's start
        assert abs(k * latent_s / audio_s - round(k * latent_s / audio_s)) * audio_s * 1000 <= 6.0
    windows = {draw_window(cfg, step) for step in range(60)}
    assert any(w.offset > 0 for w in windows) and any(w.frames == cfg.data.latent_frames for w in windows)
    for w in windows:
        assert w.offset + w.frames <= cfg.data.latent_frames
        assert w.audio_offset == round(w.offset * latent_s / audio_s)
        assert w.audio_offset + w.audio_frames <= cfg.data.audio_latents()
    assert aligned_offsets(tiny_toybox("twin.window_offsets=false"), 4) == [0]


def test_weighted_mse_is_a_weighted_mean_over_noisy_frames():
    pred, target = torch.zeros(1, 1, 2, 1, 2), torch.tensor([[[[[1.0, 3.0]], [[5.0, 5.0]]]]])
    weight = torch.tensor([[[[[1.0, 3.0]], [[1.0, 1.0]]]]])
    clean = torch.tensor([[False, True]])  # the second frame is held clean: not in the loss
    assert float(masked_mse(pred, target, clean, 2, weight)) == pytest.approx((1 * 1 + 3 * 9) / 4)
    assert float(masked_mse(pred, target, clean, 2)) == pytest.approx((1 + 9) / 2)


def test_onset_latents_are_where_the_impacts_are_heard(codec_run, tmp_path):
    _, _, _, codecs = codec_run
    cfg = tiny_toybox("data.num_clips=8")
    cache = encode_clips(cfg, tmp_path, Dist(), codecs)
    clips = ToyboxClips(cfg.data)
    per_latent = clips.audio_samples // cache.audio.shape[1]
    expected = onset_tokens([clips[i]["onsets"] for i in range(len(clips))], cache.audio.shape[1], per_latent)
    assert torch.equal(cache.onsets, expected) and cache.onsets.shape == cache.audio.shape[:2]

    # Every impact (its sample from the renderer's truth) is heard on the latents marked for it: the mel rises
    # there above the latent before. Syllables are marked too, but a soft one need not rise.
    loudness = cache.audio.float().mean(-1)  # (N, L): the normalised log-mel's mean, per latent
    heard = []
    for i in range(len(clips)):
        truth = render_item(cfg.data.first_clip + i, clips._render_params).truth
        for event in truth["events"]:
            k = event["sample"] // per_latent
            if event["kind"] == "impact" and 1 <= k < cache.audio.shape[1] - 1:
                assert cache.onsets[i, k] == 1 and cache.onsets[i, k + 1] == 1
                heard.append(float(loudness[i, k : k + 2].max() - loudness[i, k - 1]))
    assert len(heard) >= 3 and min(heard) > 0.1, heard

    # The audio loss weighs those latents `twin.onset_weight` times the rest.
    marks = torch.tensor([[0, 1, 1, 0]], dtype=torch.uint8)
    error = torch.tensor([[[2.0], [1.0], [1.0], [0.0]]])
    weighted = masked_mse(error, torch.zeros_like(error), torch.zeros(1, 4, dtype=torch.bool), 1, marked_weights(marks, 5.0, 2))
    assert float(weighted) == pytest.approx((4 + 5 + 5 + 0) / (1 + 5 + 5 + 1))
    assert marked_weights(marks, 1.0, 2) is None and marked_weights(None, 5.0, 2) is None


def test_runs_continue_a_model_folder(codec_run, tmp_path):
    _, cfg, _, codecs = codec_run
    first = train_twin(cfg, tmp_path / "run-1", codecs_dir=codecs)
    model = assemble(cfg, tmp_path / "run-1", tmp_path / "model", codecs_dir=codecs)
    state = json.loads((model / "training" / "state.json").read_text())
    assert state == {"steps": 6, "samples": 6 * cfg.twin.batch_size, "runs": []}
    assert len(first.losses) == 6

    # The next run: new scenes, the folder's codecs, weights and tokenizer, and a step count that goes on.
    later = tiny_toybox("twin.steps=9", "data.first_clip=4")
    second = train_twin(later, tmp_path / "run-2", init_from=model)
    assert len(second.losses) == 3
    tokenizers = [json.loads((p / "tokenizer.json").read_text())["model"]["vocab"]
                  for p in (model / "tokenizer", tmp_path / "run-2" / "twin" / "tokenizer")]
    assert tokenizers[0] == tokenizers[1]
    stage = json.loads((tmp_path / "run-2" / "twin" / "final" / "stage.json").read_text())
    assert stage["steps"] == 9 and stage["samples"] == 9 * cfg.twin.batch_size

    # The continued model ships, generates at 32x32 inside and hands out 64x64.
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"measures": {"impact_sync_median_ms": 120.0, "attribute_accuracy": 0.5}}))
    assemble(later, tmp_path / "run-2", model, codecs_dir=model)
    card = tmp_path / "card.md"
    card.write_text(f"# card\n\n{START}\n{END}\n\nafter\n")
    runs = record(model, report, card, cpu_hours=0.01, note="tiny")
    assert len(runs) == 1 and runs[0]["samples"] == 9 * cfg.twin.batch_size
    assert "| 1 tiny | 36 | 0.0 | 120 |" in card.read_text() and card.read_text().endswith("after\n")
    clip = Pipeline.from_pretrained(model)(PROMPT, seconds=1.0, seed=2)
    assert clip.frames.shape == (25, 64, 64, 3)


def test_a_run_cannot_continue_a_folder_without_training_state(codec_run, tmp_path):
    _, cfg, _, codecs = codec_run
    shutil.copytree(codecs, tmp_path / "codecs")
    with pytest.raises(ValueError, match="cannot be trained further"):
        train_twin(cfg, tmp_path / "run", init_from=tmp_path / "codecs")


def test_codec_batches_favour_groups_where_something_moves():
    from duetto.training.loop import step_generator
    from duetto.training.video_codec import moving_starts, sample_groups

    frames = np.zeros((9, 4, 4, 3), np.uint8)
    frames[6:, 0, 0] = 255  # only frame 6 onwards differs
    assert moving_starts(frames, 4).tolist() == [3, 4, 5]
    cfg = tiny_toybox("video_codec.moving_share=1.0", "video_codec.motion_weight=7", "video_codec.first_group_prob=0")
    groups, weights = sample_groups(0, cfg.video_codec, cfg.data, 0, 1, step_generator(0, 0))
    frames_of = groups.unflatten(1, (4, 3))
    moving = [bool((g[1:] != g[0]).any()) for g in frames_of]
    assert all(moving)  # every clip of the tiny preset has something that moves
    assert float(weights.max()) >= 7.0
