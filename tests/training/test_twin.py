"""Stage 3: flow matching with clean-frame conditioning, caption dropout, text parity with the pipeline,
learning on a fixed batch and bit-identical resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from duetto.engine.text_encoder import PromptEncoder, pad_contexts
from duetto.training.loop import step_generator
from duetto.training.twin import (
    AUDIO_CLEAN,
    FIRST_FRAME,
    PREFIX,
    VIDEO_CLEAN,
    Denoiser,
    build_text_encoder,
    build_transformer,
    drop_captions,
    masked_mse,
    noisy_inputs,
    sample_conditioning,
    sample_sigmas,
    tokenize,
    train_twin,
    twin_loss,
    window_lengths,
)

from .conftest import copy_stages, tiny_config

ONLY = {
    FIRST_FRAME: "twin.conditioning={first_frame: 1.0, prefix: 0, video_clean: 0, audio_clean: 0}",
    PREFIX: "twin.conditioning={first_frame: 0, prefix: 1.0, video_clean: 0, audio_clean: 0}",
    VIDEO_CLEAN: "twin.conditioning={first_frame: 0, prefix: 0, video_clean: 1.0, audio_clean: 0}",
    AUDIO_CLEAN: "twin.conditioning={first_frame: 0, prefix: 0, video_clean: 0, audio_clean: 1.0}",
}


def _fresh_denoiser(cfg, cache, tokenizer) -> Denoiser:
    """The model exactly as the stage built it before its first step."""
    torch.manual_seed(cfg.seed)
    transformer = build_transformer(cfg, cache.video.shape[1], cache.audio.shape[2])
    return Denoiser(transformer, build_text_encoder(cfg, len(tokenizer)), train_text=True)


def test_conditioning_modes_make_the_right_masks():
    data = tiny_config().data
    for mode, override in ONLY.items():
        stage = tiny_config(override).twin
        masks = sample_conditioning(step_generator(0, 0), 64, 3, 35, stage, data)
        assert bool((masks.mode == mode).all())
        if mode == FIRST_FRAME:
            assert masks.video[:, 0].all() and not masks.video[:, 1:].any() and not masks.audio.any()
        elif mode == VIDEO_CLEAN:
            assert masks.video.all() and not masks.audio.any()
        elif mode == AUDIO_CLEAN:
            assert masks.audio.all() and not masks.video.any()
        else:  # a clean prefix of both modalities covering the same time span
            k = masks.video.sum(1)
            assert ((k >= 1) & (k < 3)).all()
            for row_v, row_a, n in zip(masks.video, masks.audio, k.tolist(), strict=True):
                assert row_v[:n].all() and not row_v[n:].any()
                n_audio = data.audio_latents(1 + 4 * (n - 1))
                assert row_a[:n_audio].all() and not row_a[n_audio:].any()
    plain = sample_conditioning(step_generator(0, 1), 4000, 3, 35, tiny_config().twin, data)
    shares = torch.bincount(plain.mode, minlength=5).float() / 4000
    assert shares.tolist() == pytest.approx([0.55, 0.15, 0.10, 0.10, 0.10], abs=0.03)


def test_clean_frames_keep_their_values_get_timestep_zero_and_no_loss():
    x0, noise = torch.randn(2, 4, 3, 2, 2), torch.randn(2, 4, 3, 2, 2)
    sigma = torch.tensor([0.3, 0.8])
    clean = torch.tensor([[True, False, False], [True, True, True]])
    x_t, t, target = noisy_inputs(x0, noise, sigma, clean, frame_axis=2)
    assert torch.equal(x_t[0, :, 0], x0[0, :, 0]) and torch.equal(x_t[1], x0[1])
    assert torch.allclose(x_t[0, :, 1:], 0.7 * x0[0, :, 1:] + 0.3 * noise[0, :, 1:])
    assert torch.equal(t, torch.tensor([[0.0, 300.0, 300.0], [0.0, 0.0, 0.0]]))
    assert torch.equal(target, noise - x0)
    wrong_on_clean = target.clone()
    wrong_on_clean[0, :, 0] += 5.0
    wrong_on_clean[1] += 5.0
    assert masked_mse(wrong_on_clean, target, clean, 2) == 0
    assert masked_mse(target + 1.0, target, clean, 2) == pytest.approx(1.0)


class _Spy(nn.Module):
    """Stands in for the denoiser and records what the loss feeds it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict = {}
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, ids, mask, video, audio):
        self.seen = {"video": video, "audio": audio, "ids": ids}
        return video[0] * self.w, audio[0] * self.w


@pytest.mark.parametrize("mode", [FIRST_FRAME, PREFIX, VIDEO_CLEAN, AUDIO_CLEAN])
def test_loss_feeds_clean_frames_at_timestep_zero(mode, twin_run):
    _, _, _, cache, tokenizer = twin_run
    cfg = tiny_config(ONLY[mode])
    video0, audio0 = cache.video[:2].float(), cache.audio[:2].float()
    spy = _Spy()
    loss, parts = twin_loss(spy, tokenizer, video0, audio0, cache.captions[:2], cfg, step_generator(1, 2))
    (x_v, t_v), (x_a, t_a) = spy.seen["video"], spy.seen["audio"]
    for x, x0, t, axis in ((x_v, video0, t_v, 2), (x_a, audio0, t_a, 1)):
        clean = t == 0  # (B, frames): timestep 0 exactly where the frame is held clean
        noisy_frames, clean_frames = x.movedim(axis, 1), x0.movedim(axis, 1)  # frames first
        for b in range(2):
            assert torch.equal(noisy_frames[b, clean[b]], clean_frames[b, clean[b]])
            if (~clean[b]).any():
                assert not torch.equal(noisy_frames[b, ~clean[b]], clean_frames[b, ~clean[b]])
    if mode == VIDEO_CLEAN:
        assert (t_v == 0).all() and parts["video"] == 0 and parts["audio"] > 0
    if mode == AUDIO_CLEAN:
        assert (t_a == 0).all() and parts["audio"] == 0 and parts["video"] > 0
    if mode == FIRST_FRAME:
        assert (t_v[:, 0] == 0).all() and (t_v[:, 1:] > 0).all() and (t_a > 0).all()


def test_caption_dropout_rate():
    captions = ["a red ball bounces. Audio: boings."] * 20000
    dropped = drop_captions(captions, 0.1, step_generator(0, 0))
    assert sum(c == "" for c in dropped) / len(dropped) == pytest.approx(0.1, abs=0.01)
    assert drop_captions(captions[:50], 0.0, step_generator(0, 0)) == captions[:50]
    assert set(drop_captions(captions[:50], 1.0, step_generator(0, 0))) == {""}


def test_sigmas_are_shifted_logit_normal():
    stage = tiny_config().twin
    sigmas = sample_sigmas(step_generator(0, 0), 20000, stage)
    assert float(sigmas.min()) > 0 and float(sigmas.max()) < 1
    assert float(sigmas.median()) == pytest.approx(stage.shift / (1 + stage.shift), abs=0.02)  # shift(0.5)


def test_short_windows_are_drawn_per_step():
    cfg = tiny_config("twin.short_clip_prob=0.5")
    lengths = {window_lengths(cfg, step) for step in range(40)}
    assert (3, 35) in lengths and (2, cfg.data.audio_latents(5)) in lengths
    assert all(f >= cfg.min_latent_frames for f, _ in lengths)


def test_text_context_matches_the_pipeline(twin_run):
    _, cfg, _, cache, tokenizer = twin_run
    denoiser = _fresh_denoiser(cfg, cache, tokenizer).eval()
    prompts = [cache.captions[0], "", "a red ball. Audio: boings."]
    ids, mask = tokenize(tokenizer, prompts, cfg.twin.text.max_length)
    with torch.no_grad():
        ours = denoiser.encode_text(ids, mask)
    theirs = pad_contexts(
        PromptEncoder(tokenizer, denoiser.text_encoder, cfg.twin.text.max_length).encode(prompts)
    )
    assert torch.allclose(ours[:, : theirs.shape[1]], theirs, atol=1e-5)
    assert not ours[:, theirs.shape[1] :].any()


def test_loss_goes_down_on_a_fixed_batch(twin_run):
    _, cfg, result, cache, tokenizer = twin_run
    video0, audio0, captions = cache.video[:2].float(), cache.audio[:2].float(), cache.captions[:2]

    def fixed_loss(denoiser: nn.Module) -> float:
        with torch.no_grad():
            return float(
                twin_loss(denoiser.eval(), tokenizer, video0, audio0, captions, cfg, step_generator(9, 9))[0]
            )

    trained = Denoiser(result.modules["transformer"], result.modules["text_encoder"], train_text=True)
    before, after = fixed_loss(_fresh_denoiser(cfg, cache, tokenizer)), fixed_loss(trained)
    assert after < 0.8 * before, (before, after)
    assert len(result.losses) == 24


def test_resume_is_bit_identical(twin_run, tmp_path):
    run = twin_run[0]
    cfg = tiny_config("twin.steps=4", "twin.ckpt_every=2", "twin.short_clip_prob=0.5")
    # The same tokenizer in both runs: training one is not deterministic (resuming reuses the saved one).
    stages = ("video_vae", "audio", "latents", "twin/tokenizer")
    whole = train_twin(cfg, copy_stages(run, tmp_path / "a", *stages))
    b = copy_stages(run, tmp_path / "b", *stages)
    first = train_twin(cfg, b, stop_at=2)
    rest = train_twin(cfg, b, resume=True)
    assert first.losses + rest.losses == whole.losses
    for name in ("transformer", "text_encoder"):
        a_state, b_state = whole.modules[name].state_dict(), rest.modules[name].state_dict()
        assert all(torch.equal(a_state[k], b_state[k]) for k in a_state), name


def test_twin_needs_the_first_stages(tmp_path):
    with pytest.raises(ValueError, match="duetto train video-vae"):
        train_twin(tiny_config(), tmp_path)
