"""Stage 2 (mel codec): the audio codec that needs no training, only the per-bin statistics of the data's log-mel.

`MelCodec` standardises each mel bin with these statistics and folds frames into latent frames;
`GriffinLimVocoder` turns a mel back into sound. Both are written as the run's audio codec, in the slots
the learnt mel VAE and BigVGAN fill in other presets.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from duetto.engine.models.griffin_lim import GriffinLimVocoder
from duetto.engine.models.mel_codec import MelCodec
from duetto.training.audio_codec import log_mel
from duetto.training.config import MEL_HOP, TrainConfig
from duetto.training.data import ToyboxClips
from duetto.training.ddp import barrier, init_distributed
from duetto.training.loop import StageResult

logger = logging.getLogger("duetto.training")
FINAL = "final"


def mel_statistics(clips: ToyboxClips, count: int, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-bin mean and std (n_mels,) of the log-mel of the first `count` clips, every frame counted."""
    mel_fn = log_mel(sample_rate)
    mels = torch.cat([mel_fn(clips[i]["audio"][None])[0] for i in range(min(count, len(clips)))], dim=1)
    return mels.mean(dim=1), mels.std(dim=1)


def train_mel_codec(cfg: TrainConfig, run_dir: Path, *, resume: bool = False) -> StageResult:
    """Measure the statistics and write run_dir/mel_codec/final/{audio_vae, vocoder} (rank 0)."""
    if cfg.mel_codec is None:
        raise ValueError("this preset has no mel_codec section; its audio codec is `duetto train audio`")
    section, folder = cfg.mel_codec, Path(run_dir) / "mel_codec" / FINAL
    dist = init_distributed(cfg.device)
    codec = MelCodec(n_mels=log_mel(cfg.data.sample_rate).n_mels, frames_per_latent=section.frames_per_latent)
    vocoder = GriffinLimVocoder(num_mels=codec.config.n_mels, sample_rate=cfg.data.sample_rate,
                                hop_length=MEL_HOP, n_iter=section.griffin_lim_iters)
    if dist.is_main and not (resume and (folder / "vocoder").is_dir()):
        mean, std = mel_statistics(ToyboxClips(cfg.data), section.stats_clips, cfg.data.sample_rate)
        codec.set_statistics(mean, std)
        codec.save_pretrained(str(folder / "audio_vae"), safe_serialization=True)
        vocoder.save_pretrained(str(folder / "vocoder"), safe_serialization=True)
        logger.info("mel codec saved to %s (bin std %.2f–%.2f)", folder, float(std.min()), float(std.max()))
    barrier(dist)
    return StageResult([], {"audio_vae": codec, "vocoder": vocoder})
