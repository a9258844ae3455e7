"""The Toybox codecs (frame-group autoencoder, mel codec, Griffin-Lim), model folders that name them, and
generation at a model size apart from the size handed out."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from duetto.bench.onsets import detect_onsets, prepare_audio
from duetto.engine.audio_features import LogMelSpectrogram
from duetto.engine.codecs import Codecs
from duetto.engine.model_folder import load_codecs, load_model_folder, save_model_folder
from duetto.engine.models.griffin_lim import GriffinLimVocoder
from duetto.engine.models.mel_codec import MelCodec
from duetto.engine.models.video_codec import FrameGroupAutoencoder
from duetto.engine.pipeline import Pipeline
from duetto.engine.testing import build_tiny_toybox_folder
from duetto.world.captions import parse_caption
from duetto.world.render import render

PROMPT = "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room."


def test_frame_groups_fold_and_unfold_a_causal_clip_exactly():
    codec = FrameGroupAutoencoder(frames_per_group=4, patch_size=2, block_out_channels=[8, 8], latent_channels=4)
    video = torch.randn(2, 3, 9, 8, 8)
    groups = codec.groups(video)
    assert groups.shape == (2 * 3, 12, 8, 8)
    assert torch.equal(groups[0, :3], video[0, :, 0]) and torch.equal(groups[0, 9:], video[0, :, 0])  # frame 0 × 4
    assert torch.equal(groups[1, 3:6], video[0, :, 2])  # group 1 holds frames 1-4, frame by frame
    assert torch.equal(codec.ungroup(groups, 2), video)
    z = codec.encode(video).latent_dist.mode()
    assert z.shape == (2, 4, 3, 2, 2)
    assert codec.decode(z).sample.shape == video.shape
    with pytest.raises(ValueError, match="1 \\+ k"):
        codec.encode(torch.zeros(1, 3, 6, 8, 8))


def test_frame_group_codec_saves_its_strides_and_statistics(tmp_path):
    codec = FrameGroupAutoencoder(block_out_channels=[8, 8, 8], latent_channels=4, latents_mean=[0.5] * 4)
    codec.save_pretrained(tmp_path / "vae")
    loaded = FrameGroupAutoencoder.from_pretrained(tmp_path / "vae")
    assert (loaded.config.scale_factor_temporal, loaded.config.scale_factor_spatial) == (4, 8)
    assert loaded.config.latents_mean == [0.5] * 4
    with pytest.raises(ValueError, match="strides"):
        FrameGroupAutoencoder(patch_size=2, block_out_channels=[8, 8], scale_factor_spatial=8)


def test_mel_codec_is_the_standardised_mel_folded_and_back():
    codec = MelCodec(n_mels=80, frames_per_latent=2)
    codec.set_statistics(torch.linspace(-4, 0, 80), torch.linspace(0.5, 2, 80))
    mel = torch.randn(2, 80, 10) - 2
    z = codec.encode(mel)
    assert z.shape == (2, 160, 5)
    torch.testing.assert_close(z[:, 80:, 1], (mel[:, :, 3] - codec.data_mean[0, :, 0]) / codec.data_std[0, :, 0])
    torch.testing.assert_close(codec.decode(z), mel, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="latents must be"):
        codec.decode(torch.zeros(1, 80, 4))


def test_griffin_lim_plays_impacts_where_and_about_as_loud_as_the_mel_says():
    caption = "a big red rubber ball bounces in the center of a room. Audio: boings, quiet room."
    clip = render(parse_caption(caption), width=32, height=32, seconds=2.0, seed=3).clip
    impacts = np.asarray([e["time"] for e in render(parse_caption(caption), width=32, height=32, seconds=2.0,
                                                    seed=3).truth["events"] if e["kind"] == "impact"])
    wave = torch.from_numpy(clip.audio[:32000])[None]
    vocoder = GriffinLimVocoder()
    out = vocoder(LogMelSpectrogram()(wave))[0, 0].numpy()
    assert out.shape == (32000,)
    np.testing.assert_array_equal(out, vocoder(LogMelSpectrogram()(wave))[0, 0].numpy())  # seeded phase
    level_db = 20 * np.log10(np.sqrt(np.mean(out**2)) / np.sqrt(np.mean(clip.audio[:32000] ** 2)))
    assert -3.0 < level_db < 1.0, level_db
    onsets = np.asarray([o.time for o in detect_onsets(prepare_audio(out, 16000)) if o.is_event])
    assert len(impacts) >= 2
    for t in impacts:  # every impact heard within one 24 fps frame
        assert np.min(np.abs(onsets - t)) <= 1 / 24, (t, onsets)


def test_a_folder_with_the_toybox_codecs_round_trips_and_names_them(tmp_path):
    path = save_model_folder(build_tiny_toybox_folder(), tmp_path / "model")
    index = json.loads((path / "model_index.json").read_text())
    assert index["vae"] == ["duetto", "FrameGroupAutoencoder"] and index["vocoder"] == ["duetto", "GriffinLimVocoder"]
    assert index["generation"]["model_size"] == "16x16"
    folder = load_model_folder(path)
    assert isinstance(folder.audio_vae, MelCodec)
    modules, generation = load_codecs(path)
    assert set(modules) == {"vae", "audio_vae", "vocoder"} and generation.sizes == ["32x32", "16x16"]
    index["audio_vae"] = ["duetto", "BigVGANVocoder"]
    (path / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match="loads only duetto.AudioVAE or duetto.MelCodec"):
        load_model_folder(path)


def test_pipeline_works_at_the_model_size_and_hands_out_the_size_asked_for(tmp_path):
    pipe = Pipeline(build_tiny_toybox_folder())
    clip = pipe(PROMPT, seconds=1.0, seed=1)
    assert clip.frames.shape == (9, 32, 32, 3) and clip.metadata["size"] == "32x32"
    small = pipe(PROMPT, seconds=1.0, seed=1, size="16x16")
    assert small.frames.shape == (9, 16, 16, 3)
    # The same seed makes the same 16x16 frames; the 32x32 clip is exactly those, upscaled.
    np.testing.assert_array_equal(clip.frames, pipe.codecs.resize(small.frames, 32, 32))
    # A given first frame at another size is fitted to the model's 16x16 before it is encoded.
    image = np.full((40, 40, 3), 200, np.uint8)
    assert pipe(PROMPT, seconds=1.0, seed=1, image=image).frames.shape == (9, 32, 32, 3)
    with pytest.raises(ValueError, match="choose one of: 32x32, 16x16"):
        pipe(PROMPT, seconds=1.0, size="64x64")


def test_codecs_resize_is_a_no_op_at_the_same_size():
    codecs = Codecs(*[build_tiny_toybox_folder().__dict__[n] for n in ("vae", "audio_vae", "vocoder")],
                    config=build_tiny_toybox_folder().generation)
    frames = np.random.default_rng(0).integers(0, 255, (3, 16, 16, 3), dtype=np.uint8)
    assert codecs.resize(frames, 16, 16) is frames
    bigger = codecs.resize(frames, 32, 32)
    assert bigger.shape == (3, 32, 32, 3) and bigger.dtype == np.uint8


def test_a_codec_that_codes_each_frame_keeps_frames_apart():
    codec = FrameGroupAutoencoder(frames_per_group=4, frames_per_code=1, patch_size=2, block_out_channels=[8, 8],
                                  latent_channels=8).eval()
    video = torch.randn(1, 3, 9, 8, 8)
    with torch.no_grad():
        z = codec.encode(video).latent_dist.mode()
        changed = video.clone()
        changed[:, :, 6] += 1.0  # frame 6: the second frame of group 2 (frames 5-8)
        difference = (codec.encode(changed).latent_dist.mode() - z).abs().sum(dim=(0, 3, 4))  # (z, groups)
    per_code = difference[:, 2].view(4, 2).sum(dim=1)  # 2 channels per frame's code
    assert per_code[1] > 0 and per_code[[0, 2, 3]].eq(0).all() and difference[:, [0, 1]].eq(0).all()
    assert codec.decode(z).sample.shape == video.shape
    with pytest.raises(ValueError, match="frames_per_code must divide"):
        FrameGroupAutoencoder(frames_per_group=4, frames_per_code=3)
