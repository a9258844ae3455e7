"""Stage 2: the audio VAE and vocoder learn and resume bit for bit; the latents come out at unit scale."""

from __future__ import annotations

import torch

from duetto.engine.models.audio_vae import AudioVAE
from duetto.training.audio_codec import build_audio_vae, log_mel, multi_resolution_stft_loss, train_audio
from duetto.training.data import ToyboxClips

from .conftest import tiny_config


def test_losses_go_down_on_a_fixed_batch(tiny_run):
    losses = tiny_run[1]["audio"]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < 0.8 * losses[0], losses


def test_saved_codec_gives_unit_scale_latents(tiny_run):
    run = tiny_run[0]
    vae = AudioVAE.from_pretrained(str(run / "audio" / "final" / "audio_vae")).eval()
    clips = ToyboxClips(tiny_config().data)
    mel = log_mel(16000)(torch.stack([clips[i]["audio"] for i in range(2)]))
    with torch.no_grad():
        z = vae.encode(mel)
    assert 0.8 < float(z.std()) < 1.25
    assert (run / "audio" / "final" / "vocoder" / "config.json").is_file()


def test_decoder_ignores_the_latent_scale():
    # Why rescaling the encoder's gain is safe: the decoder's first block normalises each frame.
    torch.manual_seed(0)
    vae = build_audio_vae(tiny_config().audio.audio_vae).eval()
    z = torch.randn(1, 8, 12)
    with torch.no_grad():
        assert torch.allclose(vae.decode(z), vae.decode(3.0 * z), atol=1e-3)


def test_multi_resolution_stft_loss():
    wav = torch.randn(2, 4096) * 0.1
    assert float(multi_resolution_stft_loss(wav, wav)) == 0.0
    assert float(multi_resolution_stft_loss(0.5 * wav, wav)) > 0.1


def test_resume_is_bit_identical(tmp_path):
    cfg = tiny_config("audio.steps=4", "audio.ckpt_every=2")
    whole = train_audio(cfg, tmp_path / "a")
    first = train_audio(cfg, tmp_path / "b", stop_at=2)
    rest = train_audio(cfg, tmp_path / "b", resume=True)
    assert first.losses + rest.losses == whole.losses
    for name in ("audio_vae", "vocoder"):
        a, b = whole.modules[name].state_dict(), rest.modules[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_vocoder_finetune_improves_it_in_place_and_leaves_the_audio_vae(tiny_run, tmp_path):
    import pytest
    from safetensors.torch import load_file

    from duetto.training.audio_codec import finetune_vocoder

    from .conftest import copy_stages

    run = copy_stages(tiny_run[0], tmp_path / "run", "audio")
    final = run / "audio" / "final"
    vae_before = load_file(str(final / "audio_vae" / "diffusion_pytorch_model.safetensors"))
    result = finetune_vocoder(tiny_config(), run, steps=10, lr=3e-3)
    assert result.losses[-1] < result.losses[0]
    after = load_file(str(final / "vocoder" / "diffusion_pytorch_model.safetensors"))
    before = load_file(str(final / "vocoder.before-finetune" / "diffusion_pytorch_model.safetensors"))
    assert after.keys() == before.keys() and any(not torch.equal(after[k], before[k]) for k in after)
    vae_after = load_file(str(final / "audio_vae" / "diffusion_pytorch_model.safetensors"))
    assert all(torch.equal(vae_after[k], vae_before[k]) for k in vae_before)
    with pytest.raises(ValueError, match="no finished vocoder"):
        finetune_vocoder(tiny_config(), tmp_path / "empty", steps=1, lr=1e-3)
