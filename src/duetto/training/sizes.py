"""How big a preset's model is before anything is trained: parameter counts per component."""

from __future__ import annotations

import torch

from duetto.training.config import TrainConfig


def component_sizes(cfg: TrainConfig) -> dict[str, int]:
    """Parameters per model-folder component, built at random (the text encoder at the full vocab size)."""
    from duetto.training.audio_codec import build_audio_vae, build_vocoder
    from duetto.training.loop import count_parameters
    from duetto.training.twin import build_text_encoder, build_transformer
    from duetto.training.video_vae import build_video_vae

    with torch.device("meta"):  # shapes only: no memory, no init time
        components = {
            "transformer": build_transformer(cfg, cfg.video_vae.model.z_dim, cfg.audio.audio_vae.embed_dim),
            "vae": build_video_vae(cfg.video_vae.model),
            "audio_vae": build_audio_vae(cfg.audio.audio_vae),
            "vocoder": build_vocoder(cfg.audio.vocoder),
            "text_encoder": build_text_encoder(cfg, cfg.twin.text.vocab_size),
        }
    return {name: count_parameters(module) for name, module in components.items()}
