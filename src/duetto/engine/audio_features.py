"""The 16 kHz log10-mel front end the audio VAE and the vocoder were trained on (MMAudio / Ovi settings)."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Slaney's mel scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above (27 steps per factor 6.4).
_SLANEY_HZ_PER_MEL = 200.0 / 3.0
_SLANEY_BREAK_HZ = 1000.0
_SLANEY_BREAK_MEL = _SLANEY_BREAK_HZ / _SLANEY_HZ_PER_MEL
_SLANEY_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_slaney_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _SLANEY_HZ_PER_MEL
    # np.maximum keeps log() finite on the linear branch, whose result np.where discards anyway.
    log = _SLANEY_BREAK_MEL + np.log(np.maximum(hz, _SLANEY_BREAK_HZ) / _SLANEY_BREAK_HZ) / _SLANEY_LOG_STEP
    return np.where(hz >= _SLANEY_BREAK_HZ, log, linear)


def _slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _SLANEY_HZ_PER_MEL
    log = _SLANEY_BREAK_HZ * np.exp(
        _SLANEY_LOG_STEP * (np.maximum(mel, _SLANEY_BREAK_MEL) - _SLANEY_BREAK_MEL)
    )
    return np.where(mel >= _SLANEY_BREAK_MEL, log, linear)


def slaney_mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> torch.Tensor:
    """Triangular mel filters on Slaney's scale with Slaney area normalisation, shape (n_mels, n_fft // 2 + 1).

    Equal to `librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)` with its defaults (htk=False, norm="slaney"),
    including its float32 rounding: each triangle is rounded to float32 before the area scaling, as librosa does.
    """
    f_max = sample_rate / 2.0 if f_max is None else float(f_max)
    if not 0.0 <= f_min < f_max <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= f_min < f_max <= sample_rate/2, got f_min={f_min}, f_max={f_max}")
    fft_hz = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    mel_edges = np.linspace(_hz_to_slaney_mel(f_min), _hz_to_slaney_mel(f_max), n_mels + 2)
    edge_hz = _slaney_mel_to_hz(mel_edges)  # (n_mels + 2,): left edge, centre, right edge of every filter

    widths = np.diff(edge_hz)
    ramps = edge_hz[:, None] - fft_hz[None, :]  # (n_mels + 2, n_freqs)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    triangles = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    area_norm = 2.0 / (edge_hz[2:] - edge_hz[:-2])
    weights = (triangles.astype(np.float64) * area_norm[:, None]).astype(np.float32)
    return torch.from_numpy(weights)


class LogMelSpectrogram(nn.Module):
    """Waveform (B, samples) in [-1, 1] → log10 mel magnitudes (B, n_mels, frames).

    The STFT is not centred: the waveform is reflect-padded by (n_fft - hop_length) / 2 on each side, so a clip
    of N samples gives N // hop_length frames when N is a multiple of hop_length (16000 samples → 62 frames).
    Magnitudes are sqrt(re² + im² + 1e-9), projected on the mel filters, floored at `clip_value` and log10'd.
    Samples outside [-1, 1] are clamped first. Works under autograd, so it can sit inside a training loss.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 256,
        win_length: int = 1024,
        n_mels: int = 80,
        f_min: float = 0.0,
        f_max: float = 8000.0,
        clip_value: float = 1e-5,
    ) -> None:
        super().__init__()
        if win_length > n_fft:
            raise ValueError(f"win_length ({win_length}) must not exceed n_fft ({n_fft})")
        if (n_fft - hop_length) % 2:
            raise ValueError("n_fft - hop_length must be even so the reflect padding is symmetric")
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.n_mels = n_mels
        self.clip_value = clip_value
        # Derived from the constructor arguments, so they are not part of any state dict.
        self.register_buffer(
            "mel_basis", slaney_mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max), persistent=False
        )
        self.register_buffer("window", torch.hann_window(win_length, periodic=True), persistent=False)

    @property
    def padding(self) -> int:
        return (self.n_fft - self.hop_length) // 2

    def num_frames(self, num_samples: int) -> int:
        """How many mel frames a waveform of `num_samples` samples gives."""
        return 1 + (num_samples + 2 * self.padding - self.n_fft) // self.hop_length

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)
        if waveform.ndim != 2:
            raise ValueError(f"waveform must be (batch, samples) or (samples,), got {tuple(waveform.shape)}")
        if waveform.shape[-1] <= self.padding:
            raise ValueError(f"waveform needs more than {self.padding} samples, got {waveform.shape[-1]}")
        waveform = waveform.to(self.mel_basis.dtype).clamp(-1.0, 1.0)
        # F.pad's reflect mode wants a channel axis: (B, N) -> (B, 1, N) -> (B, N + 2·pad).
        padded = F.pad(waveform.unsqueeze(1), (self.padding, self.padding), mode="reflect").squeeze(1)
        spectrum = torch.stft(
            padded,
            self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self.window,
            center=False,
            normalized=False,
            onesided=True,
            return_complex=True,
        )  # (B, n_fft // 2 + 1, frames)
        magnitude = torch.sqrt(torch.view_as_real(spectrum).pow(2).sum(-1) + 1e-9)
        mel = torch.matmul(self.mel_basis, magnitude)  # (B, n_mels, frames)
        return torch.log10(mel.clamp(min=self.clip_value))
