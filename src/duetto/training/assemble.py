"""The last step: the three stages' weights become one model folder in the engine's layout, in fp16."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan
from transformers import AutoTokenizer, UMT5EncoderModel

from duetto.engine.model_folder import ModelFolder, save_model_folder
from duetto.engine.models.audio_vae import AudioVAE
from duetto.engine.models.transformer_twin import TwinDiT
from duetto.engine.models.vocoder import BigVGANVocoder
from duetto.engine.pipeline import GenerationConfig
from duetto.training.config import MEL_HOP, TrainConfig

logger = logging.getLogger("duetto.training")


def generation_config(cfg: TrainConfig, audio_latent_stride: int) -> GenerationConfig:
    """What the pipeline needs to know about a model trained with `cfg`."""
    d, g = cfg.data, cfg.generation
    size = f"{d.width}x{d.height}"
    return GenerationConfig(
        fps=float(d.fps), sample_rate=d.sample_rate, sizes=[size, *g.extra_sizes], default_size=size,
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


def assemble(cfg: TrainConfig, run_dir: Path, out: Path, *, dtype: torch.dtype = torch.float16) -> Path:
    """Write the model folder `out` from run_dir's final weights (weights cast to `dtype`).

    Raises ValueError when a stage has not finished, or when the folder exceeds cfg.max_model_mb.
    """
    run_dir = Path(run_dir)
    parts = {
        "vae": run_dir / "video_vae" / "final",
        "audio_vae": run_dir / "audio" / "final" / "audio_vae",
        "vocoder": run_dir / "audio" / "final" / "vocoder",
        "transformer": run_dir / "twin" / "final" / "transformer",
        "text_encoder": run_dir / "twin" / "final" / "text_encoder",
        "tokenizer": run_dir / "twin" / "tokenizer",
    }
    missing = [name for name, path in parts.items() if not path.is_dir()]
    if missing:
        raise ValueError(
            f"{run_dir} lacks finished {', '.join(missing)}; run `duetto train all` (or the missing stages) first"
        )
    audio_vae = AudioVAE.from_pretrained(str(parts["audio_vae"]))
    folder = ModelFolder(
        name=cfg.name,
        transformer=TwinDiT.from_pretrained(str(parts["transformer"])).to(dtype).eval(),
        vae=AutoencoderKLWan.from_pretrained(str(parts["vae"])).to(dtype).eval(),
        audio_vae=audio_vae.to(dtype).eval(),
        vocoder=BigVGANVocoder.from_pretrained(str(parts["vocoder"])).to(dtype).eval(),
        text_encoder=UMT5EncoderModel.from_pretrained(str(parts["text_encoder"])).to(dtype).eval(),
        tokenizer=AutoTokenizer.from_pretrained(str(parts["tokenizer"])),
        generation=generation_config(cfg, audio_vae.downsample_factor),
    )
    path = save_model_folder(folder, Path(out))
    size = folder_megabytes(path)
    if size > cfg.max_model_mb:
        raise ValueError(
            f"the model folder {path} is {size:.1f} MB, over max_model_mb = {cfg.max_model_mb:g}; shrink the preset"
        )
    logger.info("model folder %s written (%.1f MB)", path, size)
    return path
