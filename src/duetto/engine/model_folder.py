"""Model folders in the diffusers layout: `model_index.json` plus one subfolder per component."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from duetto.engine.pipeline import GenerationConfig

# model_index.json names each component as [library, class], as diffusers does. Only these classes are
# ever loaded: a model folder cannot make us import arbitrary code.
COMPONENTS: dict[str, tuple[str, str]] = {
    "transformer": ("duetto", "TwinDiT"),
    "vae": ("diffusers", "AutoencoderKLWan"),
    "audio_vae": ("duetto", "AudioVAE"),
    "vocoder": ("duetto", "BigVGANVocoder"),
    "text_encoder": ("transformers", "UMT5EncoderModel"),
    "tokenizer": ("transformers", "AutoTokenizer"),
}


def _component_class(name: str) -> Any:
    if name == "transformer":
        from duetto.engine.models.transformer_twin import TwinDiT

        return TwinDiT
    if name == "vae":
        from diffusers import AutoencoderKLWan

        return AutoencoderKLWan
    if name == "audio_vae":
        from duetto.engine.models.audio_vae import AudioVAE

        return AudioVAE
    if name == "vocoder":
        from duetto.engine.models.vocoder import BigVGANVocoder

        return BigVGANVocoder
    if name == "text_encoder":
        from transformers import UMT5EncoderModel

        return UMT5EncoderModel
    from transformers import AutoTokenizer

    return AutoTokenizer


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
    from duetto.engine.pipeline import GenerationConfig

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
    loaded: dict[str, Any] = {}
    for name in COMPONENTS:
        sub = path / name
        if name not in index or not sub.is_dir():
            raise ValueError(f"model folder {path} lacks its {name!r} component ({sub}); re-create or re-convert it")
        cls = _component_class(name)
        try:
            if name == "tokenizer":
                loaded[name] = cls.from_pretrained(str(sub))
            else:
                kwargs = {"torch_dtype": dtype} if dtype is not None else {}
                loaded[name] = cls.from_pretrained(str(sub), **kwargs).eval()
        except (OSError, ValueError, RuntimeError, KeyError) as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f"cannot load the {name!r} component of {path}: {first_line}") from err
    generation = GenerationConfig.from_dict(index.get("generation", {}))
    return ModelFolder(name=index.get("name", path.name), generation=generation, **loaded)


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
    write_model_index(tmp, folder.name, folder.generation)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    return path


def write_model_index(folder: Path, name: str, generation: GenerationConfig, **extra: Any) -> None:
    """Writes `model_index.json`: the component classes, the generation settings and any `extra` facts."""
    index = {"_class_name": "Pipeline", "_duetto_version": _version(), "name": name,
             **{n: list(lib_cls) for n, lib_cls in COMPONENTS.items()}, "generation": asdict(generation), **extra}
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def _version() -> str:
    from duetto import __version__

    return __version__
