"""Audio codec parity with the reference (MMAudio mel, 1-D VAE, BigVGAN v1), loading, and trainability."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from duetto.engine.audio_features import LogMelSpectrogram
from duetto.engine.models.audio_vae import AudioVAE, MPConv1d
from duetto.engine.models.vocoder import AntiAliasedActivation, BigVGANVocoder, fold_weight_norm

VAE_CONFIG_KEYS = (
    "data_dim",
    "embed_dim",
    "hidden_dim",
    "ch_mult",
    "num_res_blocks",
    "attn_layers",
    "down_layers",
    "kernel_size",
    "clip_act",
)
VAE_ATOL = 2e-5
VOCODER_ATOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _single_thread() -> object:
    # Tiny models gain nothing from threads, and on a busy machine OpenMP barriers make them crawl.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def codec(ovi_fixtures: Path) -> dict:
    return json.loads((ovi_fixtures / "audio_codec.json").read_text())


@pytest.fixture(scope="module")
def io(ovi_fixtures: Path) -> dict[str, torch.Tensor]:
    return load_file(ovi_fixtures / "audio_codec_io.safetensors")


@pytest.fixture(scope="module")
def vae_config(codec: dict) -> dict:
    return {key: codec["vae"][key] for key in VAE_CONFIG_KEYS}


@pytest.fixture(scope="module")
def vocoder_config(codec: dict) -> dict:
    return dict(codec["bigvgan"]["config"])


@pytest.fixture(scope="module")
def vae_raw(ovi_fixtures: Path) -> dict[str, torch.Tensor]:
    return load_file(ovi_fixtures / "audio_vae_tiny_weights.safetensors")


@pytest.fixture(scope="module")
def vocoder_raw(ovi_fixtures: Path) -> dict[str, torch.Tensor]:
    return load_file(ovi_fixtures / "bigvgan_tiny_weights.safetensors")


@pytest.fixture(scope="module")
def vae(vae_raw: dict, vae_config: dict) -> AudioVAE:
    return AudioVAE.from_mmaudio_state_dict(vae_raw, **vae_config)


@pytest.fixture(scope="module")
def vocoder(vocoder_raw: dict, vocoder_config: dict) -> BigVGANVocoder:
    return BigVGANVocoder.from_bigvgan_state_dict(vocoder_raw, **vocoder_config)


def _public(config: dict) -> dict:
    return {key: value for key, value in config.items() if not key.startswith("_")}


def _assert_checksums(state: dict[str, torch.Tensor], checksums: dict[str, dict[str, float]]) -> None:
    for key, expected in checksums.items():
        value = state[key].double()
        scale = max(1.0, expected["abs_sum"])
        assert value.sum().item() == pytest.approx(expected["sum"], abs=1e-5 * scale), key
        assert value.abs().sum().item() == pytest.approx(expected["abs_sum"], rel=1e-5), key


# --- mel front end -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frontend(codec: dict) -> LogMelSpectrogram:
    mel = codec["mel"]
    return LogMelSpectrogram(
        sample_rate=mel["sampling_rate"],
        n_fft=mel["n_fft"],
        hop_length=mel["hop_size"],
        win_length=mel["win_size"],
        n_mels=mel["num_mels"],
        f_min=mel["fmin"],
        f_max=mel["fmax"],
        clip_value=mel["clip_val"],
    )


def test_mel_filterbank_matches_librosa(frontend: LogMelSpectrogram, io: dict) -> None:
    torch.testing.assert_close(frontend.mel_basis, io["mel.mel_basis"], rtol=1e-6, atol=1e-9)


def test_log_mel_matches_reference(frontend: LogMelSpectrogram, io: dict) -> None:
    waveform = io["input.waveform"]
    log_mel = frontend(waveform)
    assert log_mel.shape == io["mel.log10_mel"].shape
    assert frontend.num_frames(waveform.shape[-1]) == log_mel.shape[-1]
    torch.testing.assert_close(log_mel, io["mel.log10_mel"], rtol=0, atol=1e-4)
    # A 1-D waveform is treated as a batch of one.
    torch.testing.assert_close(frontend(waveform[0]), log_mel)


def test_log_mel_defaults_are_ovis_16k_settings(codec: dict) -> None:
    default = LogMelSpectrogram()
    mel = codec["mel"]
    assert (default.sample_rate, default.n_fft, default.hop_length, default.win_length, default.n_mels) == (
        mel["sampling_rate"],
        mel["n_fft"],
        mel["hop_size"],
        mel["win_size"],
        mel["num_mels"],
    )
    assert default.padding == mel["reflect_pad_each_side"]
    assert default.num_frames(16000) == 62


def test_log_mel_clamps_input_and_floors_silence() -> None:
    frontend = LogMelSpectrogram()
    loud = 3.0 * torch.sin(torch.linspace(0, 400 * torch.pi, 4096))[None]
    torch.testing.assert_close(frontend(loud), frontend(loud.clamp(-1, 1)), rtol=0, atol=0)
    assert not torch.allclose(frontend(loud), frontend(loud / 3.0))
    silent = frontend(torch.zeros(2, 4096))
    assert silent.shape == (2, 80, 16)
    torch.testing.assert_close(silent, torch.full_like(silent, -5.0))


def test_log_mel_rejects_too_short_input() -> None:
    with pytest.raises(ValueError, match="samples"):
        LogMelSpectrogram()(torch.zeros(1, 100))


# --- VAE -----------------------------------------------------------------------------------------------


def test_vae_keys_and_shapes_are_mmaudios(vae: AudioVAE, codec: dict) -> None:
    expected = {key: tuple(shape) for key, shape in codec["vae_state_dict_keys"].items()}
    actual = {key: tuple(value.shape) for key, value in vae.state_dict().items()}
    assert actual == expected


def test_vae_effective_weights_match_checksums(vae: AudioVAE, codec: dict) -> None:
    _assert_checksums(vae.state_dict(), codec["effective_weight_checksums"]["vae"])


def test_vae_matches_reference(vae: AudioVAE, io: dict, codec: dict) -> None:
    log_mel = io["mel.log10_mel"]
    with torch.no_grad():
        normalized = vae.normalize_mel(log_mel)
        moments = vae.encoder(normalized)
        mean, logvar = vae.encode_moments(log_mel)
        latent = vae.encode(log_mel)
        decoded = vae.decode(latent)
    torch.testing.assert_close(normalized, io["vae.normalized_mel"], rtol=0, atol=1e-6)
    torch.testing.assert_close(moments, io["vae.encoder_moments"], rtol=0, atol=VAE_ATOL)
    torch.testing.assert_close(mean, io["vae.posterior_mean"], rtol=0, atol=VAE_ATOL)
    torch.testing.assert_close(logvar, io["vae.posterior_logvar_clamped"], rtol=0, atol=VAE_ATOL)
    torch.testing.assert_close(latent, mean)
    torch.testing.assert_close(decoded, io["vae.decoded_mel"], rtol=0, atol=VAE_ATOL)
    assert latent.shape[-1] == log_mel.shape[-1] // vae.downsample_factor
    assert latent.shape[1] == codec["vae"]["embed_dim"]


def test_vae_checkpoint_mismatch_is_a_value_error(vae_raw: dict, vae_config: dict) -> None:
    incomplete = {key: value for key, value in vae_raw.items() if key != "encoder.conv_out.weight"}
    with pytest.raises(ValueError, match="missing"):
        AudioVAE.from_mmaudio_state_dict(incomplete, **vae_config)
    with pytest.raises(ValueError, match="wrong shape"):
        AudioVAE.from_mmaudio_state_dict(
            vae_raw, **{**vae_config, "hidden_dim": 2 * vae_config["hidden_dim"]}
        )


def test_vae_save_load_round_trip(vae: AudioVAE, io: dict, tmp_path: Path) -> None:
    vae.save_pretrained(tmp_path / "vae")
    loaded = AudioVAE.from_pretrained(tmp_path / "vae").eval()
    assert _public(loaded.config) == _public(vae.config)
    for key, value in vae.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(
            loaded.encode(io["mel.log10_mel"]), io["vae.posterior_mean"], rtol=0, atol=VAE_ATOL
        )


def test_vae_trains_with_forced_weight_normalisation(vae_config: dict) -> None:
    torch.manual_seed(0)
    model = AudioVAE(**vae_config)
    log_mel = torch.randn(2, vae_config["data_dim"], 16) - 2.0
    with torch.no_grad():
        model.eval()
        reference = model.encode(log_mel)
        model.encoder.conv_in.weight.mul_(3.0)  # off the unit sphere, as an optimizer step would leave it
    model.train()
    out = model(log_mel, generator=torch.Generator().manual_seed(0))
    filter_norms = model.encoder.conv_in.weight.flatten(1).norm(dim=1)
    torch.testing.assert_close(filter_norms, torch.ones_like(filter_norms), rtol=0, atol=1e-3)
    # Normalisation makes the layer scale-invariant: the train-mode posterior ignores the ×3.
    torch.testing.assert_close(out.mean, reference, rtol=0, atol=1e-2)

    recon = (model.normalize_mel(out.sample) - model.normalize_mel(log_mel)).abs().mean()
    loss = recon + 1e-4 * AudioVAE.kl_divergence(out.mean, out.logvar).mean()
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name

    groups = model.parameter_groups(lr=1e-2)
    grouped = [p for group in groups for p in group["params"]]
    assert len(grouped) == len(list(model.parameters())) == len({id(p) for p in grouped})
    conv_lrs = {group["lr"] for group in groups if any(p.ndim == 3 for p in group["params"])}
    assert conv_lrs == {1e-2 / m.weight[0].numel() ** 0.5 for m in model.modules() if isinstance(m, MPConv1d)}


def test_vae_posterior_sampling(vae: AudioVAE, io: dict) -> None:
    log_mel = io["mel.log10_mel"]
    with torch.no_grad():
        mode = vae(log_mel, sample_posterior=False)
        torch.testing.assert_close(mode.sample, vae.decode(vae.encode(log_mel)))
        first = vae(log_mel, generator=torch.Generator().manual_seed(1))
        again = vae(log_mel, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(first.sample, again.sample)
    assert not torch.allclose(first.sample, mode.sample)
    kl = AudioVAE.kl_divergence(mode.mean, mode.logvar)
    assert kl.shape == (1,) and kl.item() > 0
    zero = AudioVAE.kl_divergence(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3))
    assert zero.item() == 0.0


# --- vocoder -------------------------------------------------------------------------------------------


def test_vocoder_loads_weight_norm_checkpoint_strictly(vocoder: BigVGANVocoder, codec: dict) -> None:
    raw_keys = codec["bigvgan_state_dict_keys"]
    expected = set()
    for key in raw_keys:
        if key.endswith(".weight_v"):
            expected.add(key[: -len("_v")])
        elif not key.endswith(".weight_g"):
            expected.add(key)
    assert set(vocoder.state_dict()) == expected
    _assert_checksums(vocoder.state_dict(), codec["effective_weight_checksums"]["bigvgan"])


def test_vocoder_accepts_generator_wrapper_and_parametrization_names(
    vocoder: BigVGANVocoder, vocoder_raw: dict, vocoder_config: dict
) -> None:
    renamed = {}
    for key, value in vocoder_raw.items():
        key = key.replace(".weight_g", ".parametrizations.weight.original0")
        renamed[key.replace(".weight_v", ".parametrizations.weight.original1")] = value
    loaded = BigVGANVocoder.from_bigvgan_state_dict({"generator": renamed}, **vocoder_config)
    for key, value in vocoder.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    with pytest.raises(ValueError, match="unexpected"):
        BigVGANVocoder.from_bigvgan_state_dict(
            {**vocoder_raw, "extra.weight": torch.zeros(1)}, **vocoder_config
        )


def test_weight_norm_fold_uses_input_axis_for_transposed_convs() -> None:
    v = torch.randn(4, 3, 5)  # ConvTranspose1d weight: (in, out, k); the norm runs over (out, k) per input
    g = torch.rand(4, 1, 1) + 0.5
    folded = fold_weight_norm({"up.weight_g": g, "up.weight_v": v, "up.bias": torch.zeros(3)})
    assert set(folded) == {"up.weight", "up.bias"}
    torch.testing.assert_close(folded["up.weight"].flatten(1).norm(dim=1), g.flatten())


def test_vocoder_matches_reference(vocoder: BigVGANVocoder, vae: AudioVAE, io: dict) -> None:
    with torch.no_grad():
        waveform, hidden = vocoder(io["mel.log10_mel"], return_hidden_states=True)
        from_decoded = vocoder(vae.decode(vae.encode(io["mel.log10_mel"])))
    torch.testing.assert_close(hidden[0], io["vocoder.debug.after_conv_pre"], rtol=0, atol=VOCODER_ATOL)
    torch.testing.assert_close(hidden[1], io["vocoder.debug.after_stage0"], rtol=0, atol=VOCODER_ATOL)
    torch.testing.assert_close(waveform, io["vocoder.waveform_from_input_mel"], rtol=0, atol=VOCODER_ATOL)
    torch.testing.assert_close(
        from_decoded, io["vocoder.waveform_from_decoded_mel"], rtol=0, atol=VOCODER_ATOL
    )
    assert waveform.shape[-1] == io["mel.log10_mel"].shape[-1] * vocoder.hop_length


def _reference_activation(module: AntiAliasedActivation, x: torch.Tensor) -> torch.Tensor:
    """The reference arithmetic: replicate pad, 2·conv_transpose1d, crop, snake, replicate pad, strided conv."""
    channels = x.shape[1]
    up = module.upsample.filter
    kernel = up.shape[-1]
    pad = kernel // 2 - 1
    crop_left = pad * 2 + (kernel - 2) // 2
    crop_right = pad * 2 + (kernel - 1) // 2
    u = F.pad(x, (pad, pad), mode="replicate")
    u = 2 * F.conv_transpose1d(u, up.expand(channels, -1, -1), stride=2, groups=channels)
    u = u[..., crop_left:-crop_right]
    act = module.act
    alpha = act.alpha.exp() if act.logscale else act.alpha
    magnitude = getattr(act, "beta", act.alpha)
    magnitude = magnitude.exp() if act.logscale else magnitude
    u = u + 1.0 / (magnitude[None, :, None] + 1e-9) * torch.sin(u * alpha[None, :, None]) ** 2
    down = module.downsample.lowpass.filter
    u = F.pad(u, (kernel // 2 - 1, kernel // 2), mode="replicate")
    return F.conv1d(u, down.expand(channels, -1, -1), stride=2, groups=channels)


@pytest.mark.parametrize(("activation", "logscale"), [("snakebeta", True), ("snake", False)])
@pytest.mark.parametrize("length", [1, 3, 6, 7, 8, 41])
def test_polyphase_activation_equals_reference_arithmetic(
    activation: str, logscale: bool, length: int
) -> None:
    torch.manual_seed(length)
    module = AntiAliasedActivation(5, activation, logscale)
    with torch.no_grad():
        for param in module.parameters():
            param.add_(0.3 * torch.randn_like(param))
    x = torch.randn(2, 5, length)
    expected = _reference_activation(module, x)
    with torch.no_grad():
        fast = module(x)
    trainable = module(x.requires_grad_())
    assert fast.shape == (2, 5, length)
    torch.testing.assert_close(fast, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(trainable, expected, rtol=1e-5, atol=1e-5)


def test_vocoder_trains_with_weight_norm_and_round_trips(
    vocoder: BigVGANVocoder, io: dict, tmp_path: Path
) -> None:
    mel = io["mel.log10_mel"][..., :8]
    model = BigVGANVocoder.from_config(vocoder.config)
    model.load_state_dict(vocoder.state_dict())
    with torch.no_grad():
        plain = model(mel)
    model.apply_weight_norm().train()
    assert model.has_weight_norm
    out = model(mel)
    torch.testing.assert_close(out, plain, rtol=0, atol=VOCODER_ATOL)
    out.square().mean().backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
    assert model.conv_pre.parametrizations.weight.original0.grad.abs().sum() > 0
    assert model.resblocks[0].activations[0].act.beta.grad.abs().sum() > 0

    with pytest.raises(ValueError, match="remove_weight_norm"):
        model.save_pretrained(tmp_path / "vocoder")
    model.remove_weight_norm().eval()
    model.save_pretrained(tmp_path / "vocoder")
    loaded = BigVGANVocoder.from_pretrained(tmp_path / "vocoder").eval()
    assert _public(loaded.config) == _public(model.config)
    with torch.no_grad():
        torch.testing.assert_close(loaded(mel), model(mel), rtol=0, atol=0)
