"""Model folders in the diffusers layout: `model_index.json` plus one subfolder per component."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from duetto._version import __version__

# model_index.json names each component as [library, class], as diffusers does. Only these classes are
# ever loaded: a model folder cannot make us import arbitrary code. The first class of each slot is what
# Ovi and toybox-v1 use; the others are the Toybox codecs that toybox-v2 names instead.
COMPONENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "transformer": (("duetto", "TwinDiT"),),
    "vae": (("diffusers", "AutoencoderKLWan"), ("duetto", "FrameGroupAutoencoder")),
    "audio_vae": (("duetto", "AudioVAE"), ("duetto", "MelCodec")),
    "vocoder": (("duetto", "BigVGANVocoder"), ("duetto", "GriffinLimVocoder")),
    "text_encoder": (("transformers", "UMT5EncoderModel"),),
    "tokenizer": (("transformers", "AutoTokenizer"),),
}
#: The slots a codec-only folder holds (what `duetto bench toybox --through-codecs` reads).
CODEC_SLOTS = ("vae", "audio_vae", "vocoder")


def _component_class(library: str, name: str) -> Any:
    if library == "duetto":
        import importlib

        module = {
            "TwinDiT": "transformer_twin", "FrameGroupAutoencoder": "video_codec", "AudioVAE": "audio_vae",
            "MelCodec": "mel_codec", "BigVGANVocoder": "vocoder", "GriffinLimVocoder": "griffin_lim",
        }[name]  # fmt: skip
        return getattr(importlib.import_module(f"duetto.engine.models.{module}"), name)
    if library == "diffusers":
        from diffusers import AutoencoderKLWan

        return AutoencoderKLWan
    import transformers

    return getattr(transformers, name)


def component_entry(slot: str, component: Any) -> list[str]:
    """The [library, class] that model_index.json writes for a loaded component of `slot`."""
    for library, name in COMPONENTS[slot]:
        if name == "AutoTokenizer" or type(component).__name__ == name:
            return [library, name]
    raise ValueError(f"{type(component).__name__} cannot fill the {slot!r} slot of a model folder")


@dataclass
class GenerationConfig:
    """A model's generation settings, stored in its `model_index.json`; defaults are Ovi's."""

    fps: float = 24.0
    sample_rate: int = 16000
    sizes: list[str] = field(default_factory=lambda: ["720x720"])
    default_size: str = "720x720"
    min_seconds: float = 1.0
    max_seconds: float = 5.04
    default_seconds: float = 5.0
    steps: int = 50
    shift: float = 5.0
    solver: str = "unipc"
    video_guidance_scale: float = 4.0
    audio_guidance_scale: float = 3.0
    skip_blocks: list[int] = field(default_factory=lambda: [11])
    video_negative_prompt: str = "jitter, bad hands, blur, distortion"
    audio_negative_prompt: str = "robotic, muffled, echo, distorted"
    # How the checkpoint expects the audio description: "Audio: …" (Ovi 1.1, Toybox) or
    # "<AUDCAP>…<ENDAUDCAP>" (Ovi 1.0). Prompts in the other form are rewritten.
    audio_caption_format: str = "audio"
    text_max_length: int = 512
    mel_hop: int = 256
    audio_latent_stride: int = 2
    # The size the transformer and codecs work at when it is not the size handed out: frames are made at
    # `model_size` and resized to the requested size (one of `sizes`) with `upscale`. None: the same size.
    model_size: str | None = None
    upscale: str = "bicubic"
    # After the joint pass, make the sound once more with the generated picture held clean (video→audio,
    # which the Toybox models train directly): sync then rests on a finished picture.
    audio_second_pass: bool = False
    # A storyboard's limits with this model (the studio's stories): at most this many shots and seconds in all.
    story_max_shots: int = 6
    story_max_seconds: float = 24.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def samples_per_audio_latent(self) -> int:
        return self.mel_hop * self.audio_latent_stride


@dataclass
class ModelFolder:
    """The loaded components of one model and its generation settings."""

    name: str
    transformer: Any
    vae: Any
    audio_vae: Any
    vocoder: Any
    text_encoder: Any
    tokenizer: Any
    generation: GenerationConfig

    def modules(self) -> dict[str, torch.nn.Module]:
        return {n: getattr(self, n) for n in COMPONENTS if n != "tokenizer"}


def _quiet_libraries() -> None:
    """Per-file progress bars from diffusers/transformers would interleave with our own progress output."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


def load_model_folder(path: Path, *, dtype: torch.dtype | None = None) -> ModelFolder:
    """Loads every component strictly; a missing or foreign folder is a one-line `ValueError`."""
    index = read_model_index(path)
    generation = GenerationConfig.from_dict(index.get("generation", {}))
    loaded = {name: _load_component(path, index, name, dtype) for name in COMPONENTS}
    return ModelFolder(name=index.get("name", path.name), generation=generation, **loaded)


def load_codecs(path: Path, *, dtype: torch.dtype | None = None) -> tuple[dict[str, Any], GenerationConfig]:
    """Only the codec components of a model folder (a full one, or the codec-only folder a training run
    writes before its transformer exists) and its generation settings."""
    index = read_model_index(path)
    return ({name: _load_component(path, index, name, dtype) for name in CODEC_SLOTS},
            GenerationConfig.from_dict(index.get("generation", {})))


def read_model_index(path: Path) -> dict[str, Any]:
    """model_index.json of a folder, checked to be one; a one-line `ValueError` otherwise."""
    _quiet_libraries()
    if not path.exists():
        raise ValueError(f"model folder {path} does not exist; name an existing one with --model DIR")
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise ValueError(f"{path} is not a Duetto model folder (no model_index.json); "
                         "create one with `duetto convert` or `duetto train`")
    try:
        index = json.loads(index_file.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{index_file} is not valid JSON ({err.msg} at line {err.lineno})") from err
    return index


def _load_component(path: Path, index: dict[str, Any], name: str, dtype: torch.dtype | None) -> Any:
    sub = path / name
    if name not in index or not sub.is_dir():
        raise ValueError(f"model folder {path} lacks its {name!r} component ({sub}); re-create or re-convert it")
    entry = tuple(index[name]) if isinstance(index[name], list) else None
    if entry not in COMPONENTS[name]:
        raise ValueError(f"model folder {path} names {index[name]!r} for {name!r}; Duetto loads only "
                         + " or ".join(f"{lib}.{cls}" for lib, cls in COMPONENTS[name]))
    cls = _component_class(*entry)
    try:
        if name == "tokenizer":
            return cls.from_pretrained(str(sub))
        kwargs = {"torch_dtype": dtype} if dtype is not None else {}
        return cls.from_pretrained(str(sub), **kwargs).eval()
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"cannot load the {name!r} component of {path}: {first_line}") from err


def save_model_folder(folder: ModelFolder, path: Path) -> Path:
    """Writes the folder atomically (to a sibling temp folder, then renamed into place)."""
    _quiet_libraries()
    path = Path(path)
    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name in COMPONENTS:
        component = getattr(folder, name)
        if name == "tokenizer":
            component.save_pretrained(str(tmp / name))
        else:
            component.save_pretrained(str(tmp / name), safe_serialization=True)
    write_model_index(tmp, folder.name, folder.generation,
                      components={n: component_entry(n, getattr(folder, n)) for n in COMPONENTS})
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def write_model_index(folder: Path, name: str, generation: GenerationConfig, *,
                      components: dict[str, list[str]] | None = None, **extra: Any) -> None:
    """Writes `model_index.json`: the component classes (by default each slot's first, Ovi's), the generation
    settings and any `extra` facts."""
    if components is None:
        components = {n: list(classes[0]) for n, classes in COMPONENTS.items()}
    index = {"_class_name": "Pipeline", "_duetto_version": _version(), "name": name, **components,
             "generation": asdict(generation), **extra}
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def _version() -> str:
    return __version__
