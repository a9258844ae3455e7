"""The last step: the three stages' weights become one model folder in the engine's layout, in fp16."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLWan
from transformers import AutoTokenizer, UMT5EncoderModel

from duetto.engine.model_folder import (
    GenerationConfig,
    ModelFolder,
    component_entry,
    load_codecs,
    save_model_folder,
    write_model_index,
)
from duetto.engine.models.audio_vae import AudioVAE
from duetto.engine.models.griffin_lim import GriffinLimVocoder
from duetto.engine.models.mel_codec import MelCodec
from duetto.engine.models.transformer_twin import TwinDiT
from duetto.engine.models.video_codec import FrameGroupAutoencoder
from duetto.engine.models.vocoder import BigVGANVocoder
from duetto.training.config import MEL_HOP, TrainConfig

logger = logging.getLogger("duetto.training")


def generation_config(cfg: TrainConfig, audio_latent_stride: int) -> GenerationConfig:
    """What the pipeline needs to know about a model trained with `cfg`."""
    d, g = cfg.data, cfg.generation
    size = f"{d.width}x{d.height}"
    sizes = list(g.output_sizes) or [size, *g.extra_sizes]
    return GenerationConfig(
        fps=float(d.fps), sample_rate=d.sample_rate, sizes=sizes, default_size=sizes[0],
        model_size=size if g.output_sizes else None, upscale=g.upscale,
        # Round the longest window down to 10 ms so that it maps back to exactly data.frames frames.
        min_seconds=g.min_seconds, max_seconds=int(d.seconds * 100) / 100, default_seconds=g.default_seconds,
        steps=g.steps, shift=cfg.twin.shift, solver=g.solver, video_guidance_scale=g.video_guidance_scale,
        audio_guidance_scale=g.audio_guidance_scale, skip_blocks=list(g.skip_blocks),
        # Caption dropout trained the empty prompt as the unconditional one.
        video_negative_prompt="", audio_negative_prompt="", audio_caption_format="audio",
        text_max_length=cfg.twin.text.max_length, mel_hop=MEL_HOP, audio_latent_stride=audio_latent_stride,
    )  # fmt: skip


def folder_megabytes(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def codec_parts(cfg: TrainConfig, run_dir: Path) -> dict[str, Path]:
    """Where a run keeps each codec's final weights: the frame-group and mel codecs when the preset names
    them, else the video VAE and the audio VAE + vocoder."""
    video = run_dir / "video_codec" / "final" if cfg.video_codec else run_dir / "video_vae" / "final"
    audio = run_dir / "mel_codec" / "final" if cfg.mel_codec else run_dir / "audio" / "final"
    return {"vae": video, "audio_vae": audio / "audio_vae", "vocoder": audio / "vocoder"}


#: The command that makes each part of a run, for the message when one is missing.
_MAKES = {"video_vae": "duetto train video-vae", "video_codec": "duetto train video-codec",
          "audio": "duetto train audio", "mel_codec": "duetto train mel-codec", "twin": "duetto train twin"}


def _require(parts: dict[str, Path], run_dir: Path) -> None:
    missing = [path for path in parts.values() if not path.is_dir()]
    if missing:
        stage = missing[0].relative_to(run_dir).parts[0]
        raise ValueError(f"{run_dir} lacks a finished {stage} stage ({missing[0]}); run `{_MAKES.get(stage, 'duetto train all')}`"
                         " with this --out first")


def load_codecs_of_run(cfg: TrainConfig, run_dir: Path, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """The run's trained codecs, each loaded with the class its slot holds in this preset."""
    parts = codec_parts(cfg, Path(run_dir))
    _require(parts, Path(run_dir))
    classes = {
        "vae": FrameGroupAutoencoder if cfg.video_codec else AutoencoderKLWan,
        "audio_vae": MelCodec if cfg.mel_codec else AudioVAE,
        "vocoder": GriffinLimVocoder if cfg.mel_codec else BigVGANVocoder,
    }
    return _cast({name: classes[name].from_pretrained(str(path)).eval() for name, path in parts.items()}, dtype)


def _cast(codecs: dict[str, Any], dtype: torch.dtype) -> dict[str, Any]:
    """The video codec in `dtype`; the mel codec and Griffin-Lim keep float32 (a few kB, and their statistics
    and inverse filters are what they are exact in). nn.Module.to: ModelMixin.to warns on every cast."""
    keep = (MelCodec, GriffinLimVocoder)
    return {name: m if isinstance(m, keep) else torch.nn.Module.to(m, dtype) for name, m in codecs.items()}


def assemble_codecs(cfg: TrainConfig, run_dir: Path, out: Path | None = None) -> Path:
    """A codec-only folder (vae, audio_vae, vocoder and model_index.json, no transformer): what the codec
    gate, `duetto bench toybox --through-codecs`, reads before any transformer is trained."""
    run_dir = Path(run_dir)
    out = Path(out) if out is not None else run_dir / "codecs"
    codecs = load_codecs_of_run(cfg, run_dir)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    for name, component in codecs.items():
        component.save_pretrained(str(tmp / name), safe_serialization=True)
    write_model_index(tmp, cfg.name, generation_config(cfg, codecs["audio_vae"].downsample_factor),
                      components={name: component_entry(name, c) for name, c in codecs.items()})
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def assemble(cfg: TrainConfig, run_dir: Path, out: Path, *, dtype: torch.dtype = torch.float16,
             codecs_dir: Path | None = None) -> Path:
    """Write the model folder `out` from run_dir's final weights (weights cast to `dtype`), with the codecs of
    `codecs_dir` when given (a model folder or codec-only folder; it may be `out` itself) else the run's.

    A run that left raw weights (final/raw) also writes the folder's training state, so the next run can
    continue it (`duetto train twin --init-from`). Raises ValueError when a stage has not finished, or when
    the folder exceeds cfg.max_model_mb.
    """
    run_dir = Path(run_dir)
    parts = {
        "transformer": run_dir / "twin" / "final" / "transformer",
        "text_encoder": run_dir / "twin" / "final" / "text_encoder",
        "tokenizer": run_dir / "twin" / "tokenizer",
    }
    if codecs_dir is None:
        _require({**codec_parts(cfg, run_dir), **parts}, run_dir)
        codecs = load_codecs_of_run(cfg, run_dir, dtype)
    else:
        _require(parts, run_dir)
        codecs = _cast(load_codecs(Path(codecs_dir))[0], dtype)
    history = read_history(Path(codecs_dir)) if codecs_dir is not None else []
    folder = ModelFolder(
        name=cfg.name,
        transformer=torch.nn.Module.to(TwinDiT.from_pretrained(str(parts["transformer"])), dtype).eval(),
        text_encoder=UMT5EncoderModel.from_pretrained(str(parts["text_encoder"])).to(dtype).eval(),
        tokenizer=AutoTokenizer.from_pretrained(str(parts["tokenizer"])),
        generation=generation_config(cfg, codecs["audio_vae"].downsample_factor),
        **codecs,
    )
    path = save_model_folder(folder, Path(out))
    raw = run_dir / "twin" / "final" / "raw"
    if raw.is_dir():
        write_training_state(path, raw, json.loads((run_dir / "twin" / "final" / "stage.json").read_text()), history)
    size = folder_megabytes(path)
    if size > cfg.max_model_mb:
        raise ValueError(
            f"the model folder {path} is {size:.1f} MB, over max_model_mb = {cfg.max_model_mb:g}; shrink the preset"
        )
    logger.info("model folder %s written (%.1f MB)", path, size)
    return path


# --- the training state a model folder carries for the next run --------------------------------------------

TRAINING_STATE = "training"


def read_history(model_dir: Path) -> list[dict[str, Any]]:
    """The runs recorded in a model folder's training state (oldest first); [] when it has none."""
    state = Path(model_dir) / TRAINING_STATE / "state.json"
    return json.loads(state.read_text()).get("runs", []) if state.is_file() else []


def write_training_state(model_dir: Path, raw: Path, stage: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """model_dir/training/: the raw fp32 weights (transformer, text encoder) and state.json with the steps and
    samples so far and the runs that led here. The EMA weights the folder ships are the other half."""
    target = Path(model_dir) / TRAINING_STATE
    if target.exists():
        shutil.rmtree(target)
    for name in ("transformer", "text_encoder"):
        shutil.copytree(raw / name, target / name)
    state = {"steps": stage["steps"], "samples": stage["samples"], "runs": history}
    (target / "state.json").write_text(json.dumps(state, indent=2) + "\n")


def record_run(model_dir: Path, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Append one run's row (samples, CPU time, measures) to the model folder's history; returns it all."""
    state_file = Path(model_dir) / TRAINING_STATE / "state.json"
    state = json.loads(state_file.read_text())
    state["runs"] = [*state.get("runs", []), row]
    state_file.write_text(json.dumps(state, indent=2) + "\n")
    return state["runs"]
