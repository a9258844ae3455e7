"""Imports the official Ovi release (Ovi, Wan2.2 and MMAudio files) into a Duetto model folder.

Source layout, as Ovi's `download_weights.py` leaves it in `ckpts/`:

    Ovi/model.safetensors                 720x720_5s (or the community Ovi/model_fp8_e4m3fn.safetensors)
    Ovi/model_960x960.safetensors         960x960_5s
    Ovi/model_960x960_10s.safetensors     960x960_10s
    Wan2.2-TI2V-5B/Wan2.2_VAE.pth
    Wan2.2-TI2V-5B/models_t5_umt5-xxl-enc-bf16.pth
    Wan2.2-TI2V-5B/google/umt5-xxl/       tokenizer files
    MMAudio/ext_weights/v1-16.pth         16 kHz audio VAE, raw (weight-normalised) weights
    MMAudio/ext_weights/best_netG.pt      BigVGAN vocoder, {"generator": state dict with weight_g/weight_v}

What each file becomes (every load strict, every shape checked against the target before loading):
    transformer  TwinDiT, Ovi's key names unchanged; cast to `dtype` (fp8 weights are up-cast, lossily as stored)
    text_encoder transformers UMT5EncoderModel, Wan's T5 names mapped by `keymaps.WAN_T5_TO_UMT5`; `dtype`
    tokenizer    loaded with AutoTokenizer and saved
    vae          diffusers AutoencoderKLWan (Wan2.2 config), Wan's names mapped by `keymaps.WAN22_VAE_TO_DIFFUSERS`
    audio_vae    AudioVAE via `AudioVAE.from_mmaudio_state_dict` (MMAudio's weight-norm removal)
    vocoder      BigVGANVocoder via `BigVGANVocoder.from_bigvgan_state_dict` (weight norm folded)
The three codecs are small and decode in float32, so they are always stored in float32.

Memory: the transformer, text encoder and VAE are built on the meta device and receive the checkpoint's tensors
with `assign=True` (`.pth` files are memory-mapped), and the components are converted one at a time, so peak
RAM is about one copy of the largest one (the transformer, 23 GB in bf16). The folder is written to a hidden
sibling and renamed into place at the end, so a failed conversion leaves nothing behind.
"""

from __future__ import annotations

import gc
import math
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from duetto.engine.convert.keymaps import UMT5_TIED_KEYS, WAN22_VAE_TO_DIFFUSERS, WAN_T5_TO_UMT5, KeyMap
from duetto.engine.model_folder import write_model_index

if TYPE_CHECKING:
    from duetto.engine.model_folder import GenerationConfig

# -- the official configurations ----------------------------------------------------------------------------

# Ovi's ovi/configs/model/dit/video.json and audio.json (the same for all three released variants).
OVI_VIDEO_CONFIG: dict[str, Any] = {
    "model_type": "ti2v", "patch_size": [1, 2, 2], "in_dim": 48, "out_dim": 48, "dim": 3072, "ffn_dim": 14336,
    "freq_dim": 256, "num_heads": 24, "num_layers": 30, "text_len": 512, "text_dim": 4096,
    "window_size": [-1, -1], "qk_norm": True, "cross_attn_norm": True, "eps": 1e-6,
}
OVI_AUDIO_CONFIG: dict[str, Any] = {
    **OVI_VIDEO_CONFIG, "model_type": "t2a", "patch_size": [1], "in_dim": 20, "out_dim": 20,
    "temporal_rope_scaling_factor": 0.19676,
}

# Wan2.2's VAE (wan/modules/vae2_2.py: Wan2_2_VAE) in diffusers' terms, with its per-channel latent statistics.
WAN22_VAE_CONFIG: dict[str, Any] = {
    "base_dim": 160, "decoder_base_dim": 256, "z_dim": 48, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
    "attn_scales": [], "temperal_downsample": [False, True, True], "dropout": 0.0, "is_residual": True,
    "in_channels": 12, "out_channels": 12, "patch_size": 2, "scale_factor_temporal": 4, "scale_factor_spatial": 16,
    "latents_mean": [
        -0.2289, -0.0052, -0.1323, -0.2339, -0.2799, 0.0174, 0.1838, 0.1557, -0.1382, 0.0542, 0.2813, 0.0891,
        0.1570, -0.0098, 0.0375, -0.1825, -0.2246, -0.1207, -0.0698, 0.5109, 0.2665, -0.2108, -0.2158, 0.2502,
        -0.2055, -0.0322, 0.1109, 0.1567, -0.0729, 0.0899, -0.2799, -0.1230, -0.0313, -0.1649, 0.0117, 0.0723,
        -0.2839, -0.2083, -0.0520, 0.3748, 0.0152, 0.1957, 0.1433, -0.2944, 0.3573, -0.0548, -0.1681, -0.0667,
    ],
    "latents_std": [
        0.4765, 1.0364, 0.4514, 1.1677, 0.5313, 0.4990, 0.4818, 0.5013, 0.8158, 1.0344, 0.5894, 1.0901,
        0.6885, 0.6165, 0.8454, 0.4978, 0.5759, 0.3523, 0.7135, 0.6804, 0.5833, 1.4146, 0.8986, 0.5659,
        0.7069, 0.5338, 0.4889, 0.4917, 0.4069, 0.4999, 0.6866, 0.4093, 0.5709, 0.6065, 0.6415, 0.4944,
        0.5726, 1.2042, 0.5458, 1.6887, 0.3971, 1.0600, 0.3943, 0.5537, 0.5444, 0.4089, 0.7468, 0.7744,
    ],
}

# umT5-XXL's encoder (Wan's umt5_xxl: dim 4096, ffn 10240, 64 heads, 24 layers, 32 buckets, no shared
# position table) as a transformers UMT5Config.
UMT5_XXL_CONFIG: dict[str, Any] = {
    "vocab_size": 256384, "d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64,
    "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu", "layer_norm_epsilon": 1e-6, "dropout_rate": 0.1,
    "is_encoder_decoder": False, "use_cache": False, "tie_word_embeddings": False,
    "pad_token_id": 0, "eos_token_id": 1,
}


@dataclass(frozen=True)
class OviConfigs:
    """The architecture of every component; the defaults are the released models (tests pass tiny ones)."""

    video: dict[str, Any] = field(default_factory=lambda: dict(OVI_VIDEO_CONFIG))
    audio: dict[str, Any] = field(default_factory=lambda: dict(OVI_AUDIO_CONFIG))
    vae: dict[str, Any] = field(default_factory=lambda: dict(WAN22_VAE_CONFIG))
    text_encoder: dict[str, Any] = field(default_factory=lambda: dict(UMT5_XXL_CONFIG))
    audio_vae: dict[str, Any] = field(default_factory=dict)  # AudioVAE's defaults are MMAudio's 16 kHz model
    vocoder: dict[str, Any] = field(default_factory=dict)  # BigVGANVocoder's defaults are MMAudio's 16 kHz one


# -- the released variants ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OviVariant:
    """One released checkpoint and what Ovi's engine does with it (`NAME_TO_MODEL_SPECS_MAP`)."""

    name: str  # the Duetto model name
    checkpoints: tuple[str, ...]  # accepted file names under Ovi/, preferred first
    target_area: int  # pixels; text-to-video sizes are rescaled to this area
    frames: int  # video frames generated at 24 fps
    audio_caption_format: str  # "audcap": <AUDCAP>…<ENDAUDCAP> (Ovi 1.0); "audio": "Audio: …" (Ovi 1.1)


VARIANTS: dict[str, OviVariant] = {
    "720x720_5s": OviVariant("ovi-720-5s", ("model.safetensors", "model_fp8_e4m3fn.safetensors"),
                             720 * 720, 121, "audcap"),
    "960x960_5s": OviVariant("ovi-960-5s", ("model_960x960.safetensors",), 960 * 960, 121, "audio"),
    "960x960_10s": OviVariant("ovi-960-10s", ("model_960x960_10s.safetensors",), 960 * 960, 241, "audio"),
}
DEFAULT_VARIANT = "960x960_10s"

# The [height, width] requests Ovi recommends (inference_fusion.yaml); the first is its default.
OVI_RECOMMENDED_HW: tuple[tuple[int, int], ...] = (
    (704, 1280), (1280, 704), (960, 960), (512, 992), (992, 512), (960, 512), (512, 960), (720, 720), (448, 1120),
)
OVI_FPS = 24.0
# Pixels per latent token side: the VAE's 16x spatial compression times the transformer's 2x2 patches.
SIZE_MULTIPLE = 32

DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp32": torch.float32}

# Where each file sits under the source folder (Ovi's ckpts/).
SOURCE_FILES: dict[str, str] = {
    "vae": "Wan2.2-TI2V-5B/Wan2.2_VAE.pth",
    "text_encoder": "Wan2.2-TI2V-5B/models_t5_umt5-xxl-enc-bf16.pth",
    "tokenizer": "Wan2.2-TI2V-5B/google/umt5-xxl",
    "audio_vae": "MMAudio/ext_weights/v1-16.pth",
    "vocoder": "MMAudio/ext_weights/best_netG.pt",
}
# Shard size of the transformer and text encoder weights (diffusers / transformers `max_shard_size`).
SHARD_SIZE = "5GB"


def fit_to_area(height: int, width: int, area: int, multiple: int = SIZE_MULTIPLE) -> tuple[int, int]:
    """Ovi's text-to-video sizing: keep the aspect ratio, scale to `area`, round each side to `multiple`."""
    scale = math.sqrt(area / (height * width))
    return (max(multiple, round(height * scale / multiple) * multiple),
            max(multiple, round(width * scale / multiple) * multiple))


def ovi_sizes(variant: str) -> list[str]:
    """The pixel sizes ("WxH") a variant generates for Ovi's recommended requests, in their order."""
    spec = _variant(variant)
    sizes: list[str] = []
    for height, width in OVI_RECOMMENDED_HW:
        h, w = fit_to_area(height, width, spec.target_area)
        if f"{w}x{h}" not in sizes:
            sizes.append(f"{w}x{h}")
    return sizes


def ovi_generation_config(variant: str) -> GenerationConfig:
    """Ovi's inference defaults for one variant, as the `GenerationConfig` stored in `model_index.json`."""
    from duetto.engine.model_folder import GenerationConfig

    spec = _variant(variant)
    sizes = ovi_sizes(variant)
    seconds = spec.frames / OVI_FPS
    return GenerationConfig(
        fps=OVI_FPS, sample_rate=16000, sizes=sizes, default_size=sizes[0],
        # Ovi trains one length per checkpoint; the pipeline accepts shorter clips too.
        min_seconds=1.0, max_seconds=math.floor(seconds * 100) / 100, default_seconds=float(round(seconds)),
        steps=50, shift=5.0, solver="unipc", video_guidance_scale=4.0, audio_guidance_scale=3.0, skip_blocks=[11],
        video_negative_prompt="jitter, bad hands, blur, distortion",
        audio_negative_prompt="robotic, muffled, echo, distorted",
        audio_caption_format=spec.audio_caption_format, text_max_length=512, mel_hop=256, audio_latent_stride=2,
    )


# -- locating the files -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OviSourceFiles:
    """The six inputs of one conversion."""

    transformer: Path
    vae: Path
    text_encoder: Path
    tokenizer: Path
    audio_vae: Path
    vocoder: Path


def locate_ovi_files(source_dir: Path, variant: str = DEFAULT_VARIANT) -> OviSourceFiles:
    """Finds every input under Ovi's `ckpts/` layout; a missing one is a `ValueError` naming its path."""
    spec = _variant(variant)
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise ValueError(f"source folder {source_dir} does not exist; point it at Ovi's ckpts/ folder")
    candidates = [source_dir / "Ovi" / name for name in spec.checkpoints]
    transformer = next((path for path in candidates if path.is_file()), None)
    if transformer is None:
        alternatives = "".join(f" (or {path})" for path in candidates[1:])
        raise ValueError(f"{candidates[0]} is missing{alternatives}; download the {variant} weights "
                         f"(Ovi's download_weights.py --models {variant})")
    found: dict[str, Path] = {}
    for name, relative in SOURCE_FILES.items():
        path = source_dir / relative
        exists = path.is_dir() if name == "tokenizer" else path.is_file()
        if not exists:
            raise ValueError(f"{path} is missing; download it with Ovi's download_weights.py")
        found[name] = path
    return OviSourceFiles(transformer=transformer, **found)


# -- the conversion -----------------------------------------------------------------------------------------


def convert_ovi(
    source_dir: str | Path,
    out_dir: str | Path,
    *,
    variant: str = DEFAULT_VARIANT,
    dtype: str = "bf16",
    configs: OviConfigs | None = None,
    overwrite: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Converts Ovi's `ckpts/` folder into a Duetto model folder at `out_dir` and returns its path.

    Args:
        source_dir: Ovi's `ckpts/` folder (see the module docstring for the layout).
        out_dir: the model folder to create; it must not exist unless `overwrite`.
        variant: "960x960_10s", "960x960_5s" or "720x720_5s".
        dtype: "bf16" or "fp32", for the transformer and the text encoder.
        configs: component architectures; the released ones by default.
        progress: called with each component's name before it is converted.

    Raises:
        ValueError: a missing or unreadable file, or a checkpoint whose keys or shapes do not fit (one line).
    """
    # 1. Check the arguments and find every source file, before anything is written.
    spec = _variant(variant)
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    torch_dtype = DTYPES[dtype]
    configs = configs or OviConfigs()
    files = locate_ovi_files(Path(source_dir), variant)
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ValueError(f"{out_dir} already exists; choose a new folder, or overwrite it (--overwrite)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)

    # A hidden sibling on the same file system, so that the final rename is atomic.
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        # 2. Tokenizer and text encoder.
        _convert_text(files, configs, torch_dtype, tmp, progress)

        # 3. The three codecs (small, float32).
        _step(progress, "vae")
        _save(load_wan22_vae(files.vae, configs.vae), tmp / "vae")
        _step(progress, "audio_vae")
        _save(load_mmaudio_vae(files.audio_vae, configs.audio_vae), tmp / "audio_vae")
        _step(progress, "vocoder")
        _save(load_bigvgan_vocoder(files.vocoder, configs.vocoder), tmp / "vocoder")

        # 4. The transformer, last: by far the largest read.
        _step(progress, "transformer")
        _save(load_ovi_transformer(files.transformer, configs.video, configs.audio, torch_dtype),
              tmp / "transformer", max_shard_size=SHARD_SIZE)

        # 5. The index with Ovi's generation settings, then into place.
        source = {"format": "ovi", "variant": variant, "checkpoint": files.transformer.name, "dtype": dtype}
        write_model_index(tmp, spec.name, ovi_generation_config(variant), converted_from=dict(source))
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _convert_text(
    files: OviSourceFiles,
    configs: OviConfigs,
    torch_dtype: torch.dtype,
    tmp: Path,
    progress: Callable[[str], None] | None,
) -> None:
    """The tokenizer and the text encoder into `tmp`; the tokenizer must not index past the encoder's
    embedding. The encoder is freed on return: one large component in memory at a time."""
    _step(progress, "tokenizer")
    tokenizer = load_tokenizer(files.tokenizer)
    tokenizer.save_pretrained(str(tmp / "tokenizer"))
    _step(progress, "text_encoder")
    text_encoder = load_wan_umt5(files.text_encoder, configs.text_encoder, torch_dtype)
    if len(tokenizer) > text_encoder.config.vocab_size:
        raise ValueError(
            f"{files.tokenizer} has {len(tokenizer)} tokens but {files.text_encoder} embeds only "
            f"{text_encoder.config.vocab_size}; use the tokenizer shipped with the encoder"
        )
    _save(text_encoder, tmp / "text_encoder", max_shard_size=SHARD_SIZE)


# -- one component each -------------------------------------------------------------------------------------


def load_ovi_transformer(path: Path, video_config: Mapping[str, Any], audio_config: Mapping[str, Any],
                         dtype: torch.dtype) -> nn.Module:
    """Ovi's fusion safetensors → TwinDiT (keys unchanged), built on meta and filled with `assign=True`."""
    from safetensors import SafetensorError, safe_open

    from duetto.engine.models.transformer_twin import TwinDiT

    with torch.device("meta"):
        model = TwinDiT(dict(video_config), dict(audio_config))
    try:
        with safe_open(str(path), framework="pt") as checkpoint:
            keys = list(checkpoint.keys())
            shapes = {key: tuple(checkpoint.get_slice(key).get_shape()) for key in keys}
            # Shapes are checked from the header, before reading 20+ GB of tensors.
            check_fits(path, shapes, _shapes(model), what="TwinDiT", origin={key: key for key in keys})
            state = {key: checkpoint.get_tensor(key).to(dtype) for key in keys}
    except SafetensorError as err:
        message = f"cannot read {path}: {_first_line(err)}; is it a complete .safetensors download?"
        raise ValueError(message) from err
    _assign(model, state)
    return model.eval()


def load_wan22_vae(path: Path, config: Mapping[str, Any]) -> nn.Module:
    """Wan2.2's `Wan2.2_VAE.pth` → diffusers AutoencoderKLWan, float32."""
    from diffusers import AutoencoderKLWan

    state, origin = rename_state_dict(load_torch_file(path), KeyMap(WAN22_VAE_TO_DIFFUSERS), path, "Wan2.2 VAE")
    with torch.device("meta"):
        model = AutoencoderKLWan(**config)
    check_fits(path, {key: tuple(value.shape) for key, value in state.items()}, _shapes(model),
               what="AutoencoderKLWan", origin=origin)
    _assign(model, {key: value.to(torch.float32) for key, value in state.items()})
    return model.eval()


def load_wan_umt5(path: Path, config: Mapping[str, Any], dtype: torch.dtype) -> nn.Module:
    """Wan's `models_t5_umt5-xxl-enc-bf16.pth` (its own T5 module names) → transformers UMT5EncoderModel."""
    from transformers import UMT5Config, UMT5EncoderModel

    state, origin = rename_state_dict(load_torch_file(path), KeyMap(WAN_T5_TO_UMT5), path, "Wan umT5 encoder")
    for tied, source in UMT5_TIED_KEYS.items():
        if source in state:
            state[tied], origin[tied] = state[source], origin[source]
    with torch.device("meta"):
        model = UMT5EncoderModel(UMT5Config(**config))
    check_fits(path, {key: tuple(value.shape) for key, value in state.items()}, _shapes(model),
               what="UMT5EncoderModel", origin=origin)
    _assign(model, {key: value.to(dtype) for key, value in state.items()})
    model.tie_weights()  # assign=True gave the two tied names separate parameters
    return model.eval()


def load_tokenizer(path: Path) -> Any:
    """The umT5 tokenizer folder, through AutoTokenizer."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, TypeError) as err:
        raise ValueError(f"cannot load the tokenizer in {path}: {_first_line(err)}") from err


def load_mmaudio_vae(path: Path, config: Mapping[str, Any]) -> nn.Module:
    """MMAudio's `v1-16.pth` (raw weights) → AudioVAE, through its loader (which removes the weight norm)."""
    from duetto.engine.models.audio_vae import AudioVAE

    raw = tensors_only(load_torch_file(path), path, "MMAudio VAE")
    state = {key: value.to(torch.float32) for key, value in raw.items()}
    expected = _shapes(_empty(AudioVAE, **config))
    # The loader is strict about names; this check adds the shapes to its message.
    check_fits(path, {key: tuple(value.shape) for key, value in state.items()}, expected, what="AudioVAE",
               only_shapes=True)
    return AudioVAE.from_mmaudio_state_dict(state, **config)


def load_bigvgan_vocoder(path: Path, config: Mapping[str, Any]) -> nn.Module:
    """MMAudio's `best_netG.pt` ({"generator": weight_g/weight_v state dict}) → BigVGANVocoder."""
    from duetto.engine.models.vocoder import BigVGANVocoder, fold_weight_norm

    checkpoint = load_torch_file(path)
    generator = checkpoint.get("generator", checkpoint)
    if not isinstance(generator, Mapping):
        raise ValueError(f"{path} has no generator state dict under 'generator'; is it MMAudio's best_netG.pt?")
    raw = tensors_only(generator, path, "BigVGAN generator")
    expected = _shapes(_empty(BigVGANVocoder, **config))
    # Checked before folding, so that a wrong g or v is reported by its own name.
    check_fits(path, {key: tuple(value.shape) for key, value in raw.items()}, _with_weight_norm_names(expected),
               what="BigVGANVocoder", only_shapes=True)
    state = fold_weight_norm({key: value.to(torch.float32) for key, value in raw.items()})
    return BigVGANVocoder.from_bigvgan_state_dict(state, **config)


# The names a weight-normalised `<conv>.weight` is stored under: (g, v), old and new torch style.
_WEIGHT_NORM_NAMES = ((".weight_g", ".weight_v"),
                      (".parametrizations.weight.original0", ".parametrizations.weight.original1"))


def _with_weight_norm_names(expected: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Adds the shapes of g (out, 1, …) and v (= weight) for every convolution weight."""
    shapes = dict(expected)
    for key, shape in expected.items():
        if key.endswith(".weight") and len(shape) >= 2:
            prefix = key[: -len(".weight")]
            for g_name, v_name in _WEIGHT_NORM_NAMES:
                shapes[prefix + g_name] = (shape[0],) + (1,) * (len(shape) - 1)
                shapes[prefix + v_name] = shape
    return shapes


# -- shared steps -------------------------------------------------------------------------------------------


def load_torch_file(path: Path) -> dict[str, Any]:
    """A `.pth`/`.pt` checkpoint as a dict, memory-mapped when possible, never unpickling code."""
    try:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            # Files in torch's legacy (pre-zip) format cannot be memory-mapped.
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # weights_only refuses anything but tensors and containers
        raise ValueError(f"cannot read {path} as a weights-only checkpoint: {_first_line(err)}") from err
    except (RuntimeError, OSError, EOFError, ValueError) as err:
        raise ValueError(f"cannot read {path}: {_first_line(err)}; is it a complete download?") from err
    if not isinstance(loaded, Mapping):
        raise ValueError(f"{path} holds a {type(loaded).__name__}, not a state dict")
    return dict(loaded)


def tensors_only(state: Mapping[str, Any], source: Path, layout: str) -> dict[str, torch.Tensor]:
    """The state dict itself, refusing entries that are not tensors (a different kind of file)."""
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{source}: entry {key!r} is not a tensor; is this the {layout} checkpoint?")
    return dict(state)


def rename_state_dict(state: Mapping[str, Any], key_map: KeyMap, source: Path,
                      layout: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Applies a key map; returns the renamed state and, per new key, the key it came from."""
    renamed: dict[str, torch.Tensor] = {}
    origin: dict[str, str] = {}
    for key, value in tensors_only(state, source, layout).items():
        new_key = key_map.rename(key)
        if new_key is None:
            raise ValueError(f"{source}: unexpected key {key!r} (not in the {layout} layout); "
                             f"is this the {layout} checkpoint?")
        if new_key in renamed:
            raise ValueError(f"{source}: keys {origin[new_key]!r} and {key!r} both map to {new_key!r}")
        renamed[new_key], origin[new_key] = value, key
    return renamed, origin


def check_fits(source: Path, shapes: Mapping[str, tuple[int, ...]], expected: Mapping[str, tuple[int, ...]], *,
               what: str, origin: Mapping[str, str] | None = None, only_shapes: bool = False) -> None:
    """One-line `ValueError` for the first wrong shape (naming the key and both shapes), missing or extra key."""
    origin = origin or {}
    for key in sorted(set(shapes) & set(expected)):
        if tuple(shapes[key]) != tuple(expected[key]):
            via = f" (as {key!r})" if origin.get(key, key) != key else ""
            raise ValueError(f"{source}: {origin.get(key, key)!r}{via} has shape {list(shapes[key])} but {what} "
                             f"expects {list(expected[key])}; is this the right checkpoint for this model?")
    if only_shapes:
        return
    missing = sorted(set(expected) - set(shapes))
    if missing:
        raise ValueError(f"{source} lacks {len(missing)} tensor(s) {what} needs, e.g. {_few(missing)}; "
                         "is the file complete and the right one?")
    extra = sorted(set(shapes) - set(expected))
    if extra:
        names = [origin.get(key, key) for key in extra]
        raise ValueError(f"{source} has {len(extra)} tensor(s) {what} does not have, e.g. {_few(names)}; "
                         "is this the right checkpoint?")


def _assign(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Strict load onto a meta-built model, taking the tensors themselves (no second copy)."""
    model.load_state_dict(state, strict=True, assign=True)
    left = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.is_meta]
    if left:  # non-persistent buffers are not in a checkpoint; a meta-built model cannot have them
        raise RuntimeError(f"{type(model).__name__} still has meta tensors after loading: {_few(left)}")


def _empty(cls: type[nn.Module], **config: Any) -> nn.Module:
    """A model with its parameters on the meta device, only to read their shapes.

    Unlike `torch.device("meta")`, buffers (the vocoder's resampling filters) are computed as usual, which is
    much faster than tracing their many small ops through the meta device.
    """
    from accelerate import init_empty_weights

    with init_empty_weights():
        return cls(**config)


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def _save(model: Any, path: Path, **kwargs: Any) -> None:
    model.save_pretrained(str(path), safe_serialization=True, **kwargs)
    gc.collect()


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.replaced-{os.getpid()}")
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out_dir)


def _variant(variant: str) -> OviVariant:
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


def _step(progress: Callable[[str], None] | None, name: str) -> None:
    if progress is not None:
        progress(name)


def _few(names: Iterable[str], n: int = 3) -> str:
    names = list(names)
    return ", ".join(repr(name) for name in names[:n]) + (", …" if len(names) > n else "")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
