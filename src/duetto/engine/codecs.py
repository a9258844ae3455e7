"""A model's codecs as one object: frames ↔ video latents, waveform ↔ audio latents, and the resize to the size
handed out.

The pipeline and the codec benchmark (`duetto bench toybox --through-codecs`) both go through this, so the
benchmark measures exactly what generation decodes. Any codec classes a model folder may name work here:
Wan's VAE or the frame-group autoencoder for video; the mel VAE + BigVGAN or the mel codec + Griffin-Lim
for audio.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from duetto.clip import parse_size
from duetto.engine.audio_features import LogMelSpectrogram
from duetto.engine.model_folder import GenerationConfig
from duetto.media import fit_length

#: Puts the named components on the compute device for a block (memory profiles offload between uses).
Placement = Callable[..., AbstractContextManager[Any]]


class Codecs:
    """The video codec (`vae`), the audio codec (`audio_vae`) and `vocoder` of one model, at its settings."""

    def __init__(self, vae: Any, audio_vae: Any, vocoder: Any, config: GenerationConfig, *,
                 device: str | torch.device = "cpu", placement: Placement | None = None) -> None:
        self.vae, self.audio_vae, self.vocoder, self.config = vae, audio_vae, vocoder, config
        self.device = torch.device(device)
        self._placement = placement
        self.mel = LogMelSpectrogram(sample_rate=config.sample_rate, hop_length=config.mel_hop)

    def _using(self, *names: str) -> AbstractContextManager[Any]:
        return self._placement(*names) if self._placement is not None else nullcontext()

    # -- geometry -----------------------------------------------------------------------------------------
    @property
    def strides(self) -> tuple[int, int]:
        """(frames, pixels) per latent cell of the video codec."""
        vae = self.vae.config
        return int(vae.scale_factor_temporal), int(vae.scale_factor_spatial)

    def model_size(self, width: int, height: int) -> tuple[int, int]:
        """The size frames are made at for an output of width × height: the model's own size when it states
        one (and hands out others by resizing), else the output size itself."""
        return parse_size(self.config.model_size) if self.config.model_size else (width, height)

    def resize(self, frames: np.ndarray, width: int, height: int) -> np.ndarray:
        """uint8 (T, H, W, 3) to width × height with the model's `upscale` filter (a no-op at that size)."""
        if frames.shape[1:3] == (height, width):
            return frames
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        mode = self.config.upscale
        shrinking = width < frames.shape[2] or height < frames.shape[1]
        kwargs = {"align_corners": False, "antialias": shrinking} if mode != "nearest" else {}
        x = F.interpolate(x, size=(height, width), mode=mode, **kwargs)
        return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()

    # -- video --------------------------------------------------------------------------------------------
    def _latent_stats(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.vae.config
        mean = torch.tensor(cfg.latents_mean, dtype=like.dtype, device=like.device).view(1, -1, 1, 1, 1)
        std = torch.tensor(cfg.latents_std, dtype=like.dtype, device=like.device).view(1, -1, 1, 1, 1)
        return mean, std

    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) → normalised video latents (1, C, F, h, w)."""
        x = torch.from_numpy(np.array(frames, copy=True)).to(self.device, self.vae.dtype)
        x = x.permute(3, 0, 1, 2).unsqueeze(0) / 127.5 - 1.0  # (1, 3, T, H, W) in [-1, 1]
        with self._using("vae"):
            z = self.vae.encode(x).latent_dist.mode()
        mean, std = self._latent_stats(z)
        return (z - mean) / std

    @torch.no_grad()
    def decode_frames(self, latents: torch.Tensor) -> np.ndarray:
        """Normalised video latents (1, C, F, h, w) → uint8 (T, H, W, 3)."""
        mean, std = self._latent_stats(latents)
        with self._using("vae"):
            video = self.vae.decode((latents * std + mean).to(self.vae.dtype)).sample  # (1, 3, T, H, W)
        video = ((video[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return video.permute(1, 2, 3, 0).cpu().numpy()

    # -- audio --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode_audio(self, waveform: np.ndarray, num_latents: int) -> torch.Tensor:
        """Mono float waveform → audio latents (1, L, C), padded or trimmed to `num_latents`."""
        samples = num_latents * self.config.samples_per_audio_latent
        wav = np.array(fit_length(waveform, samples), dtype=np.float32)
        x = torch.from_numpy(wav).unsqueeze(0)
        with self._using("audio_vae"):
            mel = self.mel(x).to(self.device, self.audio_vae.dtype)  # (1, n_mels, 2L)
            z = self.audio_vae.encode(mel)  # (1, C, L)
        return z.transpose(1, 2)[:, :num_latents]

    @torch.no_grad()
    def decode_audio(self, latents: torch.Tensor) -> np.ndarray:
        """Audio latents (1, L, C) → mono float32 waveform."""
        with self._using("audio_vae"):
            mel = self.audio_vae.decode(latents.transpose(1, 2).to(self.audio_vae.dtype))  # (1, n_mels, 2L)
        return self.vocode(mel)

    @torch.no_grad()
    def vocode(self, mel: torch.Tensor) -> np.ndarray:
        """Log-mel (1, n_mels, frames), as `mel` computes it → mono float32 waveform."""
        with self._using("vocoder"):
            wav = self.vocoder(mel.to(self.device, self.vocoder.dtype))  # (1, 1, samples)
        return wav[0, 0].float().clamp(-1, 1).cpu().numpy()

    # -- both ---------------------------------------------------------------------------------------------
    def round_trip(self, frames: np.ndarray, waveform: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A clip's frames (at the model size) and sound through both codecs and back: what a perfect
        transformer's output would decode to."""
        stride = self.strides[0]
        padded = -(-(len(frames) - 1) // stride) * stride + 1  # 1 + k·stride frames, the last one repeated
        frames_in = np.concatenate([frames, np.repeat(frames[-1:], padded - len(frames), axis=0)])
        decoded = self.decode_frames(self.encode_frames(frames_in))[: len(frames)]
        num_latents = int(len(waveform) / self.config.samples_per_audio_latent)
        sound = self.decode_audio(self.encode_audio(waveform, num_latents))
        return decoded, fit_length(sound, len(waveform))
