"""The normalised log-mel itself as the audio latent: no learnt weights, so nothing to flatten an impact.

A learnt mel VAE trained for minutes on a CPU smooths impact peaks by 0.5–0.9 log10-mel units, which its
mean error hides and the benchmark does not. This codec only standardises each mel bin with statistics of
the training data and folds `frames_per_latent` consecutive mel frames into one latent frame, so the audio
tower keeps Ovi's token rate (31.25 latents/s at 16 kHz, hop 256). It fills the `audio_vae` slot of a model
folder with the same calls as `AudioVAE`: `encode(log_mel)` and `decode(latents)`.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import Tensor


class MelCodec(ModelMixin, ConfigMixin):
    """log10-mel (B, n_mels, T) ↔ latents (B, n_mels · f, T // f), f = `frames_per_latent`.

    Latent channel k·n_mels + m of latent frame l is bin m of mel frame l·f + k, standardised with the
    `data_mean` / `data_std` buffers (per-bin statistics set by the trainer, saved with the weights).
    """

    @register_to_config
    def __init__(self, n_mels: int = 80, frames_per_latent: int = 2) -> None:
        super().__init__()
        if n_mels < 1 or frames_per_latent < 1:
            raise ValueError("n_mels and frames_per_latent must be positive")
        self.register_buffer("data_mean", torch.zeros(1, n_mels, 1))
        self.register_buffer("data_std", torch.ones(1, n_mels, 1))

    @property
    def downsample_factor(self) -> int:
        """Mel frames per latent frame (what `AudioVAE` calls the same)."""
        return self.config.frames_per_latent

    @property
    def latent_channels(self) -> int:
        return self.config.n_mels * self.config.frames_per_latent

    def set_statistics(self, mean: Tensor, std: Tensor) -> None:
        """Per-bin mean and standard deviation (n_mels,) of the training data's log-mel."""
        self.data_mean.copy_(mean.reshape(self.data_mean.shape))
        self.data_std.copy_(std.clamp(min=1e-3).reshape(self.data_std.shape))

    def encode(self, log_mel: Tensor) -> Tensor:
        n_mels, f = self.config.n_mels, self.config.frames_per_latent
        if log_mel.ndim != 3 or log_mel.shape[1] != n_mels:
            raise ValueError(f"log_mel must be (batch, {n_mels}, frames), got {tuple(log_mel.shape)}")
        frames = log_mel.shape[2] // f * f
        x = (log_mel[:, :, :frames].to(self.data_mean.dtype) - self.data_mean) / self.data_std
        # (B, M, L·f) → (B, M, L, f) → (B, f, M, L) → (B, f·M, L)
        return x.unflatten(2, (-1, f)).permute(0, 3, 1, 2).flatten(1, 2)

    def decode(self, latents: Tensor) -> Tensor:
        n_mels, f = self.config.n_mels, self.config.frames_per_latent
        if latents.ndim != 3 or latents.shape[1] != n_mels * f:
            raise ValueError(f"latents must be (batch, {n_mels * f}, frames), got {tuple(latents.shape)}")
        x = latents.to(self.data_mean.dtype).unflatten(1, (f, n_mels)).permute(0, 2, 3, 1).flatten(2, 3)
        return x * self.data_std + self.data_mean
