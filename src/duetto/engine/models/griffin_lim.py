"""A vocoder with no learnt weights: the mel inverted to a magnitude spectrogram, its phase found by Griffin-Lim.

On Toybox renders it plays impacts about 1 dB under the scene and keeps 98 % of them within a video frame,
where a small BigVGAN trained for an hour on a CPU played them 12 dB under and lost half. Phase retrieval
is the fast variant (Perraudin, Balazs and Søndergaard, 2013: each estimate extrapolated with momentum),
on torch's STFT, so it runs wherever the rest of the pipeline does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import Tensor

from duetto.engine.audio_features import slaney_mel_filterbank


class GriffinLimVocoder(ModelMixin, ConfigMixin):
    """log10-mel (B, num_mels, T), as `LogMelSpectrogram` computes it → waveform (B, 1, T · hop_length).

    The magnitudes come back through the pseudo-inverse of the mel filters (negative values clipped), then
    `n_iter` rounds of fast Griffin-Lim with `momentum` recover a phase. The analysis frames are those of
    `LogMelSpectrogram` (not centred: frame t is centred on sample t · hop + hop / 2), so a sound sits
    where its mel frame says.
    """

    @register_to_config
    def __init__(
        self,
        num_mels: int = 80,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 256,
        f_min: float = 0.0,
        f_max: float = 8000.0,
        n_iter: int = 32,
        momentum: float = 0.99,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        basis = slaney_mel_filterbank(sample_rate, n_fft, num_mels, f_min, f_max).double()
        # Stored, so the folder carries the exact inverse it was measured with (and a weights file to load).
        self.register_buffer("mel_inverse", torch.linalg.pinv(basis).float())  # (n_freqs, num_mels)
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)

    def magnitudes(self, mel: Tensor) -> Tensor:
        """log10-mel (B, M, T) → linear magnitudes (B, n_fft / 2 + 1, T)."""
        if mel.ndim != 3 or mel.shape[1] != self.config.num_mels:
            raise ValueError(f"mel must be (batch, {self.config.num_mels}, frames), got {tuple(mel.shape)}")
        return torch.matmul(self.mel_inverse, torch.pow(10.0, mel.float())).clamp(min=0.0)

    def _stft(self, wave: Tensor) -> Tensor:
        return torch.stft(wave, self.config.n_fft, self.config.hop_length, window=self.window, center=True,
                          return_complex=True)

    def _istft(self, spec: Tensor, length: int) -> Tensor:
        return torch.istft(spec, self.config.n_fft, self.config.hop_length, window=self.window, center=True,
                           length=length)

    @torch.no_grad()
    def forward(self, mel: Tensor) -> Tensor:
        hop = self.config.hop_length
        magnitude = self.magnitudes(mel)  # (B, F, T)
        frames = magnitude.shape[-1]
        # Centred STFT frame t sits on sample t · hop, the mel's on t · hop + hop / 2: the phase is found for
        # a signal half a hop early, which is then delayed. A centred STFT of frames · hop samples has one
        # frame more than the mel: it gets no magnitude.
        magnitude = F.pad(magnitude, (0, 1))
        length = frames * hop
        generator = torch.Generator(device="cpu").manual_seed(self.config.seed)
        phase = torch.rand(magnitude.shape, generator=generator).to(magnitude.device) * (2 * torch.pi)
        estimate = torch.polar(magnitude, phase)
        previous = torch.zeros_like(estimate)
        for _ in range(self.config.n_iter):
            wave = self._istft(estimate, length)
            rebuilt = self._stft(wave)
            accelerated = rebuilt + self.config.momentum * (rebuilt - previous)
            previous = rebuilt
            estimate = magnitude * torch.exp(1j * torch.angle(accelerated))
        wave = F.pad(self._istft(estimate, length), (hop // 2, 0))[:, : frames * hop]
        return wave.clamp(-1.0, 1.0).unsqueeze(1).to(self.dtype)
