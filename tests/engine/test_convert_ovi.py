"""`convert_ovi` and `duetto convert ovi`: tiny checkpoints written in the official layouts, converted back.

The source files are made the way the real ones are laid out: a fusion safetensors with Ovi's key names, a
Wan2.2 VAE and a Wan umT5 `.pth` with Wan's own module names (written by inverting the key maps from randomly
initialised diffusers / transformers models), a tokenizer folder, MMAudio's raw (weight-normalised) VAE
weights and a `best_netG.pt` with `{"generator": …weight_g/weight_v…}`.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from duetto.engine.convert import ovi
from duetto.engine.convert.keymaps import (
    UMT5_TIED_KEYS,
    WAN22_VAE_TO_DIFFUSERS,
    WAN_T5_TO_UMT5,
    KeyMap,
    wan22_vae_resampler_indices,
)
from duetto.engine.convert.ovi import OviConfigs, convert_ovi
from duetto.engine.model_folder import load_model_folder
from duetto.engine.testing import tiny_audio_config, tiny_video_config

VARIANT = "960x960_10s"
VAE_RES_BLOCKS = 1  # not Wan2.2's 2, so the resampler's index in Wan's Sequential is really exercised

TINY = OviConfigs(
    video=tiny_video_config(in_dim=4, text_dim=16),
    audio=tiny_audio_config(in_dim=8, text_dim=16),
    vae={"base_dim": 8, "decoder_base_dim": 12, "z_dim": 4, "dim_mult": [1, 2, 2, 2],
         "num_res_blocks": VAE_RES_BLOCKS, "temperal_downsample": [False, True, True], "is_residual": True,
         "in_channels": 12, "out_channels": 12, "patch_size": 2, "scale_factor_temporal": 4,
         "scale_factor_spatial": 16, "latents_mean": [0.1, -0.2, 0.3, 0.0], "latents_std": [1.0, 0.5, 2.0, 1.5]},
    text_encoder={"vocab_size": 192, "d_model": 16, "d_kv": 8, "d_ff": 24, "num_layers": 2, "num_heads": 2,
                  "relative_attention_num_buckets": 32, "feed_forward_proj": "gated-gelu",
                  "is_encoder_decoder": False, "use_cache": False, "pad_token_id": 0, "eos_token_id": 1},
    audio_vae={"data_dim": 80, "embed_dim": 8, "hidden_dim": 8},
    vocoder={"upsample_initial_channel": 64},
)


# -- writing checkpoints in the official layouts ------------------------------------------------------------


def _perturb(state: dict[str, torch.Tensor], generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Random values everywhere, so that no tensor keeps a trivial init (zeros, ones) that hides a mix-up."""
    return {k: (v + 0.1 * torch.randn(v.shape, generator=generator)).contiguous() for k, v in state.items()}


def _wan_layout(state: dict[str, torch.Tensor], rules, skip=(), **fixed) -> dict[str, torch.Tensor]:
    inverse = KeyMap(rules).inverted(**fixed)
    return {inverse.rename(key): value for key, value in state.items() if key not in skip}


def _raw_mmaudio(model, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """AudioVAE's effective weights back to raw EDM2 weights: any positive rescale of sqrt(fan_in)·w."""
    from duetto.engine.models.audio_vae import MPConv1d

    convs = {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, MPConv1d)}
    raw = {}
    for key, value in model.state_dict().items():
        if key in convs:
            scale = torch.rand((value.shape[0], 1, 1), generator=generator) * 90 + 10
            raw[key] = value * math.sqrt(value[0].numel()) * scale
        else:
            raw[key] = value + 0.1 * torch.randn(value.shape, generator=generator)
    return raw


def _weight_normed(model, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A vocoder state dict with each conv weight w split into weight_g = ‖w‖, weight_v = w·(random > 0)."""
    convs = {f"{name}.weight" for name, m in model.named_modules()
             if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d))}
    out = {}
    for key, value in model.state_dict().items():
        if key in convs:
            prefix = key[: -len(".weight")]
            norm = torch.linalg.vector_norm(value, dim=list(range(1, value.ndim)), keepdim=True)
            scale = torch.rand((value.shape[0],) + (1,) * (value.ndim - 1), generator=generator) + 0.5
            out[prefix + ".weight_g"], out[prefix + ".weight_v"] = norm, value * scale
        else:
            out[key] = value
    return out


def write_official_tree(root: Path, configs: OviConfigs = TINY, seed: int = 0) -> dict[str, object]:
    """Writes Ovi's ckpts/ layout under `root` with tiny random models; returns the models and raw states."""
    from diffusers import AutoencoderKLWan
    from transformers import UMT5Config, UMT5EncoderModel

    from duetto.engine.models.audio_vae import AudioVAE
    from duetto.engine.models.transformer_twin import TwinDiT
    from duetto.engine.models.vocoder import BigVGANVocoder
    from duetto.engine.testing import _TINY_CORPUS
    from duetto.engine.text_encoder import train_tokenizer

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    wan, mmaudio = root / "Wan2.2-TI2V-5B", root / "MMAudio" / "ext_weights"
    for folder in (root / "Ovi", wan, mmaudio):
        folder.mkdir(parents=True, exist_ok=True)

    fusion = _perturb(TwinDiT(configs.video, configs.audio).state_dict(), g)
    save_file(fusion, root / "Ovi" / ovi.VARIANTS[VARIANT].checkpoints[0])

    vae = AutoencoderKLWan(**configs.vae).eval()
    vae.load_state_dict(_perturb(vae.state_dict(), g))
    wan_vae = _wan_layout(vae.state_dict(), WAN22_VAE_TO_DIFFUSERS, **wan22_vae_resampler_indices(VAE_RES_BLOCKS))
    torch.save(wan_vae, wan / "Wan2.2_VAE.pth")

    text_encoder = UMT5EncoderModel(UMT5Config(**configs.text_encoder)).eval()
    wan_t5 = _wan_layout(text_encoder.state_dict(), WAN_T5_TO_UMT5, skip=UMT5_TIED_KEYS)
    torch.save(wan_t5, wan / "models_t5_umt5-xxl-enc-bf16.pth")
    tokenizer = train_tokenizer(_TINY_CORPUS * 4, vocab_size=160)
    tokenizer.save_pretrained(str(wan / "google" / "umt5-xxl"))

    audio_vae = AudioVAE(**configs.audio_vae).eval()
    raw_audio_vae = _raw_mmaudio(audio_vae, g)
    torch.save(raw_audio_vae, mmaudio / "v1-16.pth")

    vocoder = BigVGANVocoder(**configs.vocoder).eval()
    generator = _weight_normed(vocoder, g)
    torch.save({"generator": generator}, mmaudio / "best_netG.pt")
    return {"fusion": fusion, "vae": vae, "wan_vae": wan_vae, "text_encoder": text_encoder, "wan_t5": wan_t5,
            "tokenizer": tokenizer, "audio_vae": audio_vae, "raw_audio_vae": raw_audio_vae, "vocoder": vocoder,
            "generator": generator}


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> tuple[Path, dict[str, object]]:
    root = tmp_path_factory.mktemp("ckpts")
    return root, write_official_tree(root)


@pytest.fixture(scope="module")
def converted(source, tmp_path_factory) -> Path:
    root, _ = source
    out = tmp_path_factory.mktemp("models") / "ovi-tiny"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ovi, "SHARD_SIZE", "100KB")  # so that the tiny transformer is sharded too
        return convert_ovi(root, out, variant=VARIANT, dtype="fp32", configs=TINY)


@pytest.fixture(scope="module")
def folder(converted):
    return load_model_folder(converted)


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


# -- the converted folder -----------------------------------------------------------------------------------


def test_folder_loads_with_every_component_and_ovi_settings(converted, folder):
    assert folder.name == "ovi-960-10s"
    assert type(folder.transformer).__name__ == "TwinDiT"
    assert type(folder.vae).__name__ == "AutoencoderKLWan"
    assert type(folder.text_encoder).__name__ == "UMT5EncoderModel"
    assert folder.generation == ovi.ovi_generation_config(VARIANT)
    index = json.loads((converted / "model_index.json").read_text())
    assert index["converted_from"] == {"format": "ovi", "variant": VARIANT,
                                       "checkpoint": "model_960x960_10s.safetensors", "dtype": "fp32"}
    assert _leftovers(converted.parent) == []


def test_transformer_is_sharded_and_every_tensor_equals_the_fusion_file(converted, folder, source):
    _, made = source
    shards = sorted((converted / "transformer").glob("*.safetensors"))
    assert len(shards) > 1
    assert (converted / "transformer" / "diffusion_pytorch_model.safetensors.index.json").exists()
    state = folder.transformer.state_dict()
    assert state.keys() == made["fusion"].keys()
    for key, value in made["fusion"].items():
        assert torch.equal(state[key], value), key
    assert folder.transformer.config.video_config == TINY.video


def test_vae_tensors_are_wans_under_diffusers_names_and_outputs_match(folder, source):
    _, made = source
    forward = KeyMap(WAN22_VAE_TO_DIFFUSERS)
    state = folder.vae.state_dict()
    assert len(state) == len(made["wan_vae"])
    for wan_key, value in made["wan_vae"].items():
        assert torch.equal(state[forward.rename(wan_key)], value), wan_key
    video = torch.rand(1, 3, 5, 32, 32) * 2 - 1  # (B, RGB, 1 + 4k frames, H, W)
    with torch.no_grad():
        ours = folder.vae.encode(video).latent_dist.mode()
        theirs = made["vae"].encode(video).latent_dist.mode()
        assert ours.shape == (1, 4, 2, 2, 2)
        assert torch.equal(ours, theirs)
        assert torch.equal(folder.vae.decode(ours).sample, made["vae"].decode(theirs).sample)
    assert folder.vae.config.latents_std == TINY.vae["latents_std"]


def test_text_encoder_tensors_and_outputs_match_the_wan_t5(folder, source):
    _, made = source
    forward = KeyMap(WAN_T5_TO_UMT5)
    state = folder.text_encoder.state_dict()
    for wan_key, value in made["wan_t5"].items():
        assert torch.equal(state[forward.rename(wan_key)], value), wan_key
    assert folder.text_encoder.encoder.embed_tokens.weight is folder.text_encoder.shared.weight
    batch = folder.tokenizer(["a red ball bounces. Audio: boings", "jitter"], padding="max_length", max_length=24,
                             truncation=True, return_tensors="pt")
    with torch.no_grad():
        ours = folder.text_encoder(**batch).last_hidden_state
        theirs = made["text_encoder"](**batch).last_hidden_state
    assert torch.equal(ours, theirs)


def test_tokenizer_round_trips(folder, source):
    _, made = source
    text = "a small red rubber ball says <S>ba lo mi<E>. Audio: boings"
    assert folder.tokenizer(text)["input_ids"] == made["tokenizer"](text)["input_ids"]


def test_audio_vae_holds_the_weight_norm_removed_raw_weights(folder, source):
    from duetto.engine.models.audio_vae import effective_from_raw

    _, made = source
    state = folder.audio_vae.state_dict()
    original = made["audio_vae"].state_dict()
    for key, raw in made["raw_audio_vae"].items():
        if raw.ndim == 3 and key.endswith(".weight"):  # a magnitude-preserving convolution
            assert torch.equal(state[key], effective_from_raw(raw)), key
            torch.testing.assert_close(state[key], original[key], rtol=1e-4, atol=1e-6)
        else:
            assert torch.equal(state[key], raw), key
    mel = torch.randn(1, 80, 16) - 2.0
    with torch.no_grad():
        made["audio_vae"].load_state_dict(state)  # the reference with exactly the converted weights
        torch.testing.assert_close(folder.audio_vae.encode(mel), made["audio_vae"].encode(mel))


def test_vocoder_folds_weight_g_and_weight_v(folder, source):
    from duetto.engine.models.vocoder import fold_weight_norm

    _, made = source
    state = folder.vocoder.state_dict()
    folded = fold_weight_norm(made["generator"])
    assert state.keys() == folded.keys()
    for key, value in folded.items():
        assert torch.equal(state[key], value), key
    # g·v/‖v‖ gives back the weights the file was made from (a forward pass would only repeat this, slowly).
    for key, value in made["vocoder"].state_dict().items():
        torch.testing.assert_close(state[key], value, rtol=1e-5, atol=1e-7)


def test_bf16_keeps_the_codecs_in_float32(source, tmp_path):
    root, _ = source
    out = convert_ovi(root, tmp_path / "bf16", variant=VARIANT, dtype="bf16", configs=TINY)
    stored = {}
    for component in ("transformer", "text_encoder", "vae", "audio_vae", "vocoder"):
        files = (out / component).glob("*.safetensors")
        stored[component] = {t.dtype for f in files for t in load_file(f).values()}
    assert stored["transformer"] == stored["text_encoder"] == {torch.bfloat16}
    assert stored["vae"] == stored["audio_vae"] == stored["vocoder"] == {torch.float32}
    assert load_model_folder(out, dtype=torch.bfloat16).transformer.dtype == torch.bfloat16


def test_fp8_community_file_is_accepted_for_720_and_up_cast(source, tmp_path):
    root, made = source
    tree = tmp_path / "ckpts"
    shutil.copytree(root, tree)
    for f in (tree / "Ovi").iterdir():
        f.unlink()
    # As rkfg/Ovi-fp8_quantized: weights in float8_e4m3fn, norms and biases kept in 16 bits.
    fp8 = {k: v.to(torch.bfloat16 if "norm" in k or "bias" in k else torch.float8_e4m3fn)
           for k, v in made["fusion"].items()}
    save_file(fp8, tree / "Ovi" / "model_fp8_e4m3fn.safetensors")
    out = convert_ovi(tree, tmp_path / "ovi-720", variant="720x720_5s", configs=TINY)
    loaded = load_model_folder(out)
    assert loaded.name == "ovi-720-5s" and loaded.generation.audio_caption_format == "audcap"
    state = loaded.transformer.state_dict()
    for key, value in fp8.items():
        assert torch.equal(state[key], value.to(torch.bfloat16)), key


# -- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("relative", [
    "Ovi/model_960x960_10s.safetensors",
    "Wan2.2-TI2V-5B/Wan2.2_VAE.pth",
    "Wan2.2-TI2V-5B/models_t5_umt5-xxl-enc-bf16.pth",
    "Wan2.2-TI2V-5B/google/umt5-xxl",
    "MMAudio/ext_weights/v1-16.pth",
    "MMAudio/ext_weights/best_netG.pt",
])
def test_each_missing_file_is_one_line_naming_its_path(source, tmp_path, relative):
    root, _ = source
    tree = tmp_path / "ckpts"
    shutil.copytree(root, tree)
    gone = tree / relative
    shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
    with pytest.raises(ValueError, match=r"^\S+ is missing") as err:
        convert_ovi(tree, tmp_path / "out", variant=VARIANT, configs=TINY)
    assert str(gone) in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_the_720_model_names_both_accepted_files(source, tmp_path):
    root, _ = source
    with pytest.raises(ValueError, match=r"Ovi/model\.safetensors is missing \(or .*model_fp8_e4m3fn"):
        convert_ovi(root, tmp_path / "out", variant="720x720_5s", configs=TINY)


@pytest.mark.parametrize(("relative", "key"), [
    ("Ovi/model_960x960_10s.safetensors", "audio_model.blocks.1.ffn.0.weight"),
    ("Wan2.2-TI2V-5B/Wan2.2_VAE.pth", "decoder.upsamples.0.upsamples.2.time_conv.weight"),
    ("Wan2.2-TI2V-5B/models_t5_umt5-xxl-enc-bf16.pth", "blocks.1.ffn.fc1.weight"),
    ("MMAudio/ext_weights/v1-16.pth", "encoder.conv_in.weight"),
    ("MMAudio/ext_weights/best_netG.pt", "conv_pre.weight_v"),
])
def test_a_wrong_shape_names_the_key_and_both_shapes_and_writes_nothing(source, tmp_path, relative, key):
    root, made = source
    tree = tmp_path / "ckpts"
    shutil.copytree(root, tree)
    path = tree / relative
    if path.suffix == ".safetensors":
        state = load_file(path)
        good = tuple(state[key].shape)
        state[key] = torch.zeros(good[0] + 1, *good[1:])
        save_file(state, path)
    else:
        state = torch.load(path, weights_only=True)
        inner = state["generator"] if "generator" in state else state
        good = tuple(inner[key].shape)
        inner[key] = torch.zeros(good[0] + 1, *good[1:])
        torch.save(state, path)
    out = tmp_path / "models" / "out"
    with pytest.raises(ValueError) as err:
        convert_ovi(tree, out, variant=VARIANT, configs=TINY)
    message = str(err.value)
    assert key in message and str([good[0] + 1, *good[1:]]) in message and str(list(good)) in message
    assert "\n" not in message
    assert not out.exists() and _leftovers(out.parent) == []


def test_unknown_and_missing_keys_are_refused(source, tmp_path):
    root, _ = source
    tree = tmp_path / "ckpts"
    shutil.copytree(root, tree)
    vae_path = tree / "Wan2.2-TI2V-5B" / "Wan2.2_VAE.pth"
    vae = torch.load(vae_path, weights_only=True)
    torch.save({**vae, "decoder.extra.weight": torch.zeros(1)}, vae_path)
    with pytest.raises(ValueError, match=r"unexpected key 'decoder\.extra\.weight'"):
        convert_ovi(tree, tmp_path / "a", variant=VARIANT, configs=TINY)
    del vae["decoder.head.2.bias"]
    torch.save(vae, vae_path)
    with pytest.raises(ValueError, match=r"lacks 1 tensor\(s\) AutoencoderKLWan needs, e\.g\. 'decoder\.conv_out"):
        convert_ovi(tree, tmp_path / "b", variant=VARIANT, configs=TINY)


def test_existing_output_is_kept_unless_overwrite(source, converted, tmp_path):
    root, _ = source
    out = tmp_path / "ovi"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="already exists"):
        convert_ovi(root, out, variant=VARIANT, configs=TINY)
    assert (out / "keep.txt").exists()
    convert_ovi(root, out, variant=VARIANT, configs=TINY, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "model_index.json").exists()
    assert _leftovers(tmp_path) == []


def test_bad_variant_dtype_and_file_are_one_line_errors(source, tmp_path):
    root, _ = source
    with pytest.raises(ValueError, match="variant must be one of 720x720_5s, 960x960_5s, 960x960_10s"):
        convert_ovi(root, tmp_path / "o", variant="1080p")
    with pytest.raises(ValueError, match="dtype must be one of bf16, fp32"):
        convert_ovi(root, tmp_path / "o", dtype="fp16")
    tree = tmp_path / "ckpts"
    shutil.copytree(root, tree)
    (tree / "Wan2.2-TI2V-5B" / "Wan2.2_VAE.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"cannot read .*Wan2\.2_VAE\.pth"):
        convert_ovi(tree, tmp_path / "o", variant=VARIANT, configs=TINY)


# -- the command --------------------------------------------------------------------------------------------


def _duetto(*args: str):
    from duetto.cli import app

    return CliRunner().invoke(app, ["convert", "ovi", *map(str, args)])


def test_cli_converts_and_reports(source, tmp_path, monkeypatch):
    root, _ = source
    monkeypatch.setattr(ovi, "OviConfigs", lambda: TINY)
    result = _duetto(root, tmp_path / "ovi", "--variant", VARIANT, "--dtype", "fp32")
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'ovi'}" in result.stdout
    assert load_model_folder(tmp_path / "ovi").name == "ovi-960-10s"


def test_cli_errors_are_one_line_with_exit_code_2(source, tmp_path):
    root, _ = source
    result = _duetto(tmp_path / "nowhere", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: source folder {tmp_path / 'nowhere'} does not exist; point it at Ovi's ckpts/ folder"]
    # Tiny files against the released architecture: the first shape that differs is named, with both shapes.
    result = _duetto(root, tmp_path / "out", "--variant", VARIANT)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ") and "has shape [" in line and "UMT5EncoderModel expects [" in line
    assert not (tmp_path / "out").exists()


# -- the released configurations ----------------------------------------------------------------------------


def test_released_transformer_config_has_ovis_11_66_billion_parameters():
    from duetto.engine.models.transformer_twin import TwinDiT

    with torch.device("meta"):
        model = TwinDiT(ovi.OVI_VIDEO_CONFIG, ovi.OVI_AUDIO_CONFIG)
    state = model.state_dict()
    assert len(state) == 2073
    assert sum(t.numel() for t in state.values()) == 11_660_753_108


def test_released_vae_and_t5_key_maps_cover_wans_layout():
    """Every diffusers / transformers key of the full-size models has a Wan name, and maps back to itself."""
    from diffusers import AutoencoderKLWan
    from transformers import UMT5Config, UMT5EncoderModel

    with torch.device("meta"):
        vae = AutoencoderKLWan(**ovi.WAN22_VAE_CONFIG)
        t5 = UMT5EncoderModel(UMT5Config(**ovi.UMT5_XXL_CONFIG))
    for model, rules, skip, fixed in ((vae, WAN22_VAE_TO_DIFFUSERS, (), wan22_vae_resampler_indices(2)),
                                      (t5, WAN_T5_TO_UMT5, UMT5_TIED_KEYS, {})):
        inverse, forward = KeyMap(rules).inverted(**fixed), KeyMap(rules)
        wan_keys = {inverse.rename(k): k for k in model.state_dict() if k not in skip}
        assert None not in wan_keys
        assert all(forward.rename(w) == k for w, k in wan_keys.items())
    # Names as Wan's modules define them (wan/modules/vae2_2.py, t5.py).
    wan_vae = {KeyMap(WAN22_VAE_TO_DIFFUSERS).inverted(**wan22_vae_resampler_indices(2)).rename(k)
               for k in vae.state_dict()}
    assert {"conv1.weight", "encoder.conv1.weight", "encoder.downsamples.0.downsamples.2.resample.1.weight",
            "encoder.downsamples.1.downsamples.2.time_conv.weight", "encoder.middle.1.to_qkv.weight",
            "decoder.upsamples.0.upsamples.3.time_conv.weight", "decoder.upsamples.3.upsamples.0.shortcut.weight",
            "decoder.head.0.gamma", "encoder.downsamples.1.downsamples.0.residual.6.bias"} <= wan_vae
    assert vae.config.z_dim == 48 and vae.config.scale_factor_spatial == 16 and len(vae.config.latents_std) == 48
    assert len(t5.state_dict()) - len(UMT5_TIED_KEYS) == 2 + 24 * 10
    assert t5.shared.weight.shape == (256384, 4096)


def test_generation_settings_per_variant():
    small, big, long = (ovi.ovi_generation_config(v) for v in ("720x720_5s", "960x960_5s", "960x960_10s"))
    assert (small.audio_caption_format, big.audio_caption_format, long.audio_caption_format) == (
        "audcap", "audio", "audio")
    assert (small.max_seconds, big.max_seconds, long.max_seconds) == (5.04, 5.04, 10.04)
    assert (small.default_seconds, long.default_seconds) == (5.0, 10.0)
    for config in (small, big, long):
        assert (config.fps, config.sample_rate, config.steps, config.shift) == (24.0, 16000, 50, 5.0)
        assert (config.video_guidance_scale, config.audio_guidance_scale, config.skip_blocks) == (4.0, 3.0, [11])
        assert config.text_max_length == 512
        assert config.default_size == config.sizes[0]
        for size in config.sizes:
            width, height = map(int, size.split("x"))
            assert width % 32 == 0 and height % 32 == 0
    # Ovi's own token-count table (research notes 1.3): 720-area 16:9 is 544x960, 960-area 16:9 is 704x1280.
    assert small.default_size == "960x544" and big.default_size == "1280x704"
    assert "704x704" in small.sizes and "960x960" in big.sizes


# -- files written by the reference code itself ---------------------------------------------------------------


def test_reference_written_fusion_and_mmaudio_files_convert_and_reproduce_the_reference(source, tmp_path,
                                                                                        ovi_fixtures):
    """The parity fixtures hold tiny weights saved by Ovi's and MMAudio's own modules, in their own names."""
    import inspect

    from duetto.engine.models.audio_vae import AudioVAE

    root, _ = source
    tree = tmp_path / "ckpts"
    shutil.copytree(root, tree)
    fusion_config = json.loads((ovi_fixtures / "fusion_tiny_config.json").read_text())
    codec = json.loads((ovi_fixtures / "audio_codec.json").read_text())
    shutil.copy(ovi_fixtures / "fusion_tiny_weights.safetensors", tree / "Ovi" / "model_960x960_10s.safetensors")
    mmaudio = tree / "MMAudio" / "ext_weights"
    torch.save(load_file(ovi_fixtures / "audio_vae_tiny_weights.safetensors"), mmaudio / "v1-16.pth")
    generator = load_file(ovi_fixtures / "bigvgan_tiny_weights.safetensors")
    torch.save({"generator": generator}, mmaudio / "best_netG.pt")
    vae_args = set(inspect.signature(AudioVAE.__init__).parameters)
    configs = OviConfigs(video=fusion_config["video_config"], audio=fusion_config["audio_config"], vae=TINY.vae,
                         text_encoder=TINY.text_encoder,
                         audio_vae={k: v for k, v in codec["vae"].items() if k in vae_args},
                         vocoder=codec["bigvgan"]["config"])

    folder = load_model_folder(convert_ovi(tree, tmp_path / "ref", variant=VARIANT, configs=configs, dtype="fp32"))

    state = folder.transformer.state_dict()
    for key, value in load_file(ovi_fixtures / "fusion_tiny_weights.safetensors").items():
        assert torch.equal(state[key], value), key
    io = load_file(ovi_fixtures / "audio_codec_io.safetensors")
    with torch.no_grad():
        latent = folder.audio_vae.encode(io["mel.log10_mel"])
        torch.testing.assert_close(latent, io["vae.posterior_mean"], rtol=0, atol=5e-5)
        torch.testing.assert_close(folder.audio_vae.decode(latent), io["vae.decoded_mel"], rtol=0, atol=5e-5)
    vocoder = folder.vocoder.state_dict()
    for key, sums in codec["effective_weight_checksums"]["bigvgan"].items():
        assert math.isclose(vocoder[key].double().sum().item(), sums["sum"], rel_tol=1e-4, abs_tol=1e-4), key
        assert math.isclose(vocoder[key].double().abs().sum().item(), sums["abs_sum"], rel_tol=1e-5), key
