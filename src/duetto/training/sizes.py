"""How big a preset's model is before anything is trained: its components built at random, their parameter
counts, and a random-weight model folder to time (speed does not depend on the weights' values)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from duetto.training.config import TrainConfig, load_config

#: Mel bins of the audio front end every preset shares (`duetto.engine.audio_features`).
N_MELS = 80


def latent_channels(cfg: TrainConfig) -> tuple[int, int]:
    """(video, audio) latent channels the transformer reads for this preset's codecs."""
    video = cfg.video_codec.model.latent_channels if cfg.video_codec else cfg.video_vae.model.z_dim
    audio = N_MELS * cfg.mel_codec.frames_per_latent if cfg.mel_codec else cfg.audio.audio_vae.embed_dim
    return video, audio


def build_components(cfg: TrainConfig, vocab_size: int | None = None) -> dict[str, Any]:
    """Every model-folder component of the preset at random (the text encoder at `vocab_size`)."""
    from duetto.engine.models.griffin_lim import GriffinLimVocoder
    from duetto.engine.models.mel_codec import MelCodec
    from duetto.training.audio_codec import build_audio_vae, build_vocoder
    from duetto.training.twin import build_text_encoder, build_transformer
    from duetto.training.video_codec import build_video_codec
    from duetto.training.video_vae import build_video_vae

    video, audio = latent_channels(cfg)
    components = {
        "transformer": build_transformer(cfg, video, audio),
        "vae": build_video_codec(cfg.video_codec.model) if cfg.video_codec else build_video_vae(cfg.video_vae.model),
        "text_encoder": build_text_encoder(cfg, vocab_size or cfg.twin.text.vocab_size),
    }
    if cfg.mel_codec:
        components["audio_vae"] = MelCodec(n_mels=N_MELS, frames_per_latent=cfg.mel_codec.frames_per_latent)
        components["vocoder"] = GriffinLimVocoder(num_mels=N_MELS, sample_rate=cfg.data.sample_rate,
                                                  n_iter=cfg.mel_codec.griffin_lim_iters)
    else:
        components["audio_vae"] = build_audio_vae(cfg.audio.audio_vae)
        components["vocoder"] = build_vocoder(cfg.audio.vocoder)
    return components


def component_sizes(cfg: TrainConfig) -> dict[str, int]:
    """Parameters per model-folder component, built at random (the text encoder at the full vocab size)."""
    from duetto.training.loop import count_parameters

    with torch.device("meta"):  # shapes only: no memory, no init time
        components = build_components(cfg)
    order = ("transformer", "vae", "audio_vae", "vocoder", "text_encoder")
    return {name: count_parameters(components[name]) for name in order}


def random_model_folder(preset: Path, out: Path) -> Path:
    """A random-weight model folder with the preset's architecture, tokenizer kind and generation settings."""
    import numpy as np

    from duetto.engine.model_folder import ModelFolder, save_model_folder
    from duetto.engine.text_encoder import train_tokenizer
    from duetto.training.assemble import generation_config
    from duetto.world import caption, random_scene

    cfg = load_config(preset)
    rng = np.random.default_rng(0)
    tokenizer = train_tokenizer([caption(random_scene(rng), rng) for _ in range(2000)],
                                vocab_size=cfg.twin.text.vocab_size, kind=cfg.twin.text.tokenizer)
    components = build_components(cfg, len(tokenizer))
    folder = ModelFolder(name=f"{cfg.name}-random", tokenizer=tokenizer,
                         generation=generation_config(cfg, components["audio_vae"].downsample_factor),
                         **{name: module.eval() for name, module in components.items()})
    return save_model_folder(folder, out)
