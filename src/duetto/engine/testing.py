"""Tiny random-weight model folders, for tests and examples that need a real (if meaningless) model."""

from __future__ import annotations

from pathlib import Path

import torch

from duetto.engine.model_folder import ModelFolder, save_model_folder

# Words the tiny tokenizer is trained on: enough to spell Toybox prompts and Ovi-style tags.
_TINY_CORPUS = [
    "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room.",
    "In a field, a big blue wooden box slides to the right and hits the wall. Audio: a scrape, then a knock, wind.",
    "On a stage, a yellow toy with a purple hat and sleepy eyes says <S>ba lo mi<E>. Audio: a high soft voice, hum.",
    "a green metal ball rolls in the center at night. Audio: a rumble, rain. <AUDCAP>rain<ENDAUDCAP>",
    "jitter, bad hands, blur, distortion. robotic, muffled, echo, distorted. white glass falls rests.",
]


def tiny_video_config(*, in_dim: int, text_dim: int, dim: int = 32, num_layers: int = 2) -> dict:
    return {"model_type": "ti2v", "patch_size": [1, 2, 2], "in_dim": in_dim, "out_dim": in_dim, "dim": dim,
            "ffn_dim": 2 * dim, "freq_dim": 256, "num_heads": 2, "num_layers": num_layers, "text_len": 128,
            "text_dim": text_dim, "window_size": [-1, -1], "qk_norm": True, "cross_attn_norm": True, "eps": 1e-6}


def tiny_audio_config(*, in_dim: int, text_dim: int, dim: int = 32, num_layers: int = 2) -> dict:
    cfg = tiny_video_config(in_dim=in_dim, text_dim=text_dim, dim=dim, num_layers=num_layers)
    cfg.update(model_type="t2a", patch_size=[1], temporal_rope_scaling_factor=0.19676)
    return cfg


def build_tiny_folder(*, seed: int = 0, fusion: bool = True, name: str = "tiny") -> ModelFolder:
    """A complete model with every component at toy size (a few hundred thousand parameters)."""
    from diffusers import AutoencoderKLWan

    from duetto.engine.model_folder import GenerationConfig
    from duetto.engine.models.audio_vae import AudioVAE
    from duetto.engine.models.transformer_twin import TwinDiT
    from duetto.engine.models.vocoder import BigVGANVocoder
    from duetto.engine.text_encoder import small_umt5, train_tokenizer

    torch.manual_seed(seed)
    tokenizer = train_tokenizer(_TINY_CORPUS * 4, vocab_size=160)
    text_encoder = small_umt5(len(tokenizer), d_model=32, num_layers=1, num_heads=2, d_ff=64)
    z_dim = 4
    vae = AutoencoderKLWan(base_dim=8, z_dim=z_dim, dim_mult=[1, 2, 2, 2], num_res_blocks=1,
                           temperal_downsample=[False, True, True], latents_mean=[0.0] * z_dim,
                           latents_std=[1.0] * z_dim)
    audio_vae = AudioVAE(data_dim=80, embed_dim=8, hidden_dim=8)
    vocoder = BigVGANVocoder(upsample_initial_channel=64)
    transformer = TwinDiT(
        video_config=tiny_video_config(in_dim=z_dim, text_dim=32),
        audio_config=tiny_audio_config(in_dim=8, text_dim=32),
        fusion=fusion,
    )
    generation = GenerationConfig(
        fps=8.0, sample_rate=16000, sizes=["64x64", "96x64", "64x96"], default_size="64x64",
        min_seconds=0.5, max_seconds=4.0, default_seconds=1.0, steps=2, skip_blocks=[1], text_max_length=128,
    )
    return ModelFolder(name=name, transformer=transformer.eval(), vae=vae.eval(), audio_vae=audio_vae.eval(),
                       vocoder=vocoder.eval(), text_encoder=text_encoder.eval(), tokenizer=tokenizer,
                       generation=generation)


def make_tiny_model(path: str | Path, *, seed: int = 0, fusion: bool = True) -> Path:
    """Writes a tiny random-weight model folder to `path` and returns it."""
    path = Path(path)
    return save_model_folder(build_tiny_folder(seed=seed, fusion=fusion, name=path.name), path)


def build_tiny_toybox_folder(*, seed: int = 0, name: str = "tiny-toybox") -> ModelFolder:
    """A tiny model with the Toybox codecs (frame-group autoencoder, mel codec, Griffin-Lim) and x-prediction,
    working at 16×16 and handing out 32×32 (or 16×16) frames."""
    from duetto.engine.model_folder import GenerationConfig
    from duetto.engine.models.griffin_lim import GriffinLimVocoder
    from duetto.engine.models.mel_codec import MelCodec
    from duetto.engine.models.transformer_twin import TwinDiT
    from duetto.engine.models.video_codec import FrameGroupAutoencoder
    from duetto.engine.text_encoder import small_umt5, train_tokenizer

    torch.manual_seed(seed)
    tokenizer = train_tokenizer(_TINY_CORPUS * 4, vocab_size=160, kind="bpe")
    text_encoder = small_umt5(len(tokenizer), d_model=32, num_layers=1, num_heads=2, d_ff=64)
    vae = FrameGroupAutoencoder(frames_per_group=4, patch_size=2, block_out_channels=[8, 8], latent_channels=4)
    audio_vae = MelCodec(n_mels=80, frames_per_latent=2)
    transformer = TwinDiT(
        video_config=tiny_video_config(in_dim=4, text_dim=32),
        audio_config=tiny_audio_config(in_dim=160, text_dim=32),
        prediction_type="sample",
    )
    generation = GenerationConfig(
        fps=8.0, sample_rate=16000, sizes=["32x32", "16x16"], default_size="32x32", model_size="16x16",
        min_seconds=0.5, max_seconds=4.0, default_seconds=1.0, steps=2, skip_blocks=[], text_max_length=128,
        video_negative_prompt="", audio_negative_prompt="",
    )
    return ModelFolder(name=name, transformer=transformer.eval(), vae=vae.eval(), audio_vae=audio_vae.eval(),
                       vocoder=GriffinLimVocoder(n_iter=4).eval(), text_encoder=text_encoder.eval(),
                       tokenizer=tokenizer, generation=generation)
