"""The audio VAE: MMAudio's magnitude-preserving 1-D autoencoder between log10-mel frames and audio latents.

Ovi uses MMAudio's 16 kHz model (`v1-16.pth`): 80 mel bins at 62.5 frames/s in, 20 latent channels at 31.25
frames/s out. The building blocks follow EDM2 (Karras et al. 2024, "Analyzing and Improving the Training
Dynamics of Diffusion Models"): bias-free convolutions with unit-norm filters, SiLU and residual sums rescaled
to keep unit magnitude, per-pixel normalisation at the entry of every residual block, and activations clipped
at ±`clip_act`. State-dict keys are MMAudio's own, so its checkpoint loads strictly (see
`AudioVAE.from_mmaudio_state_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from torch import nn

from duetto.engine.models.loading import load_strict

# EDM2's normalisation epsilon, in units where a normalised vector has unit RMS per element.
_MP_EPS = 1e-4
# RMS of SiLU(z) for z ~ N(0, 1); dividing by it keeps a unit-magnitude input at unit magnitude.
_MP_SILU_RMS = 0.596
# The residual branch weight of MMAudio's blocks (EDM2's mp_sum with t = 0.3).
_RESIDUAL_T = 0.3
LOGVAR_MIN, LOGVAR_MAX = -30.0, 20.0


def mp_normalize(x: torch.Tensor, dim: int | Sequence[int], eps: float = _MP_EPS) -> torch.Tensor:
    """Scale `x` so that its entries over `dim` have unit RMS (EDM2's `normalize`), computed in float32."""
    norm = torch.linalg.vector_norm(x, dim=dim, keepdim=True, dtype=torch.float32)
    norm = eps + norm * math.sqrt(norm.numel() / x.numel())
    return x / norm.to(x.dtype)


def mp_silu(x: torch.Tensor) -> torch.Tensor:
    return F.silu(x) / _MP_SILU_RMS


def mp_sum(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """(1 - t)·a + t·b, rescaled so that two independent unit-magnitude inputs give a unit-magnitude sum."""
    return a.lerp(b, t) / math.sqrt((1 - t) ** 2 + t**2)


def unit_filters(weight: torch.Tensor, eps: float = _MP_EPS) -> torch.Tensor:
    """Each output filter of `weight` (out, in, k) divided by (its L2 norm + eps), in float32.

    With raw EDM2 weights r and fan_in = in·k, `unit_filters(r / sqrt(fan_in))` equals EDM2's
    `normalize(r) / sqrt(fan_in)`, the effective weight of a magnitude-preserving convolution.
    """
    w = weight.to(torch.float32)
    norm = torch.linalg.vector_norm(w, dim=list(range(1, w.ndim)), keepdim=True)
    return (w / (norm + eps)).to(weight.dtype)


def effective_from_raw(raw: torch.Tensor) -> torch.Tensor:
    """MMAudio's `remove_weight_norm`: a checkpoint's raw EDM2 weight → the weight the convolution applies.

    Normalises each output filter to unit RMS per element (EDM2 `normalize`, eps 1e-4), then divides by
    sqrt(fan_in), so every filter ends up with (almost exactly) unit L2 norm.
    """
    w = mp_normalize(raw.to(torch.float32), dim=list(range(1, raw.ndim)))
    return (w / math.sqrt(w[0].numel())).to(raw.dtype)


class MPConv1d(nn.Module):
    """Bias-free, magnitude-preserving 1-D convolution with 'same' padding.

    `weight` holds the effective weight (unit-norm output filters); in eval mode it is applied as is. In train
    mode the layer does what EDM2 does during training, expressed on this parametrisation (the EDM2 raw weight
    divided by sqrt(fan_in)): first the stored weight is re-normalised in place ("forced weight normalisation",
    keeps its scale fixed so the effective learning rate does not drift), then the forward uses the normalised
    weight, so gradients are projected onto the unit sphere.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(unit_filters(torch.randn(out_channels, in_channels, kernel_size)))

    @property
    def fan_in(self) -> int:
        return self.weight[0].numel()

    def forward(self, x: torch.Tensor, gain: torch.Tensor | float = 1.0) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                self.weight.copy_(unit_filters(self.weight))
            weight = unit_filters(self.weight)
        else:
            weight = self.weight
        weight = weight * gain
        return F.conv1d(x, weight.to(x.dtype), padding=weight.shape[-1] // 2)


class ResnetBlock1D(nn.Module):
    """Pixel-norm → (MP-SiLU → conv) × 2, mixed with the (projected) input by mp_sum(t=0.3)."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int = 3) -> None:
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.conv1 = MPConv1d(in_dim, out_dim, kernel_size)
        self.conv2 = MPConv1d(out_dim, out_dim, kernel_size)
        if in_dim != out_dim:
            self.nin_shortcut = MPConv1d(in_dim, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = mp_normalize(x, dim=1)
        h = self.conv2(mp_silu(self.conv1(mp_silu(x))))
        if self.in_dim != self.out_dim:
            x = self.nin_shortcut(x)
        return mp_sum(x, h, _RESIDUAL_T)


class AttnBlock1D(nn.Module):
    """Single-head self-attention over time with unit-RMS q, k, v, mixed back by mp_sum(t=0.3)."""

    def __init__(self, channels: int, num_heads: int = 1) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = MPConv1d(channels, 3 * channels, 1)
        self.proj_out = MPConv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, length = x.shape
        # qkv channels are interleaved per channel (c0q, c0k, c0v, c1q, ...): (B, 3C, L) -> (B, H, C/H, 3, L).
        qkv = self.qkv(x).reshape(batch, self.num_heads, -1, 3, length)
        q, k, v = mp_normalize(qkv, dim=2).unbind(3)  # each (B, H, C/H, L)
        # (B, H, C/H, L) -> (B, H, L, C/H) for attention, and back to (B, C, L) after it.
        h = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2))
        h = h.transpose(-1, -2).reshape(batch, channels, length)
        return mp_sum(x, self.proj_out(h), _RESIDUAL_T)


class Downsample1D(nn.Module):
    """Halves the frame rate: 1×1 conv, average of frame pairs, 1×1 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = MPConv1d(channels, channels, 1)
        self.conv2 = MPConv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.avg_pool1d(self.conv1(x), kernel_size=2, stride=2))


class Upsample1D(nn.Module):
    """Doubles the frame rate: nearest-neighbour repeat, then a 3-tap conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = MPConv1d(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest-exact"))


class _Level(nn.Module):
    """One resolution level: residual blocks, optional attention after each, optional resampler."""

    def __init__(self, blocks: list[nn.Module], attn: list[nn.Module]) -> None:
        super().__init__()
        self.block = nn.ModuleList(blocks)
        self.attn = nn.ModuleList(attn)


class _Mid(nn.Module):
    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.block_1 = ResnetBlock1D(channels, channels, kernel_size)
        self.attn_1 = AttnBlock1D(channels)
        self.block_2 = ResnetBlock1D(channels, channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder1D(nn.Module):
    """Normalised log-mel (B, data_dim, T) → moments (B, 2·embed_dim, T / 2^len(down_layers))."""

    def __init__(
        self,
        *,
        in_dim: int,
        embed_dim: int,
        dim: int,
        ch_mult: Sequence[int],
        num_res_blocks: int,
        attn_layers: Sequence[int],
        down_layers: Sequence[int],
        kernel_size: int,
        clip_act: float,
    ) -> None:
        super().__init__()
        self.clip_act = clip_act
        self.conv_in = MPConv1d(in_dim, dim, kernel_size)
        self.down = nn.ModuleList()
        block_in = dim
        for level, mult in enumerate(ch_mult):
            block_out = dim * mult
            blocks, attn = [], []
            for _ in range(num_res_blocks):
                blocks.append(ResnetBlock1D(block_in, block_out, kernel_size))
                block_in = block_out
                if level in attn_layers:
                    attn.append(AttnBlock1D(block_in))
            stage = _Level(blocks, attn)
            if level in down_layers:
                stage.downsample = Downsample1D(block_in)
            self.down.append(stage)
        self.mid = _Mid(block_in, kernel_size)
        self.conv_out = MPConv1d(block_in, 2 * embed_dim, kernel_size)
        self.learnable_gain = nn.Parameter(torch.zeros([]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for stage in self.down:
            for i, block in enumerate(stage.block):
                h = block(h)
                if len(stage.attn) > 0:
                    h = stage.attn[i](h)
                h = h.clamp(-self.clip_act, self.clip_act)
            if hasattr(stage, "downsample"):
                h = stage.downsample(h)
        h = self.mid(h).clamp(-self.clip_act, self.clip_act)
        return self.conv_out(mp_silu(h), gain=self.learnable_gain + 1)


class Decoder1D(nn.Module):
    """Latent (B, embed_dim, T') → normalised log-mel (B, data_dim, T'·2^len(down_layers))."""

    def __init__(
        self,
        *,
        out_dim: int,
        embed_dim: int,
        dim: int,
        ch_mult: Sequence[int],
        num_res_blocks: int,
        attn_layers: Sequence[int],
        down_layers: Sequence[int],
        kernel_size: int,
        clip_act: float,
    ) -> None:
        super().__init__()
        self.clip_act = clip_act
        # The encoder downsamples after level i; the decoder mirrors it by upsampling after level i + 1.
        up_layers = {i + 1 for i in down_layers}
        block_in = dim * ch_mult[-1]
        self.conv_in = MPConv1d(embed_dim, block_in, kernel_size)
        # MMAudio builds the decoder's residual blocks with 3-tap convs whatever kernel_size says; so do we.
        self.mid = _Mid(block_in, 3)
        levels: list[_Level] = []
        for level in reversed(range(len(ch_mult))):
            block_out = dim * ch_mult[level]
            blocks, attn = [], []
            for _ in range(num_res_blocks + 1):
                blocks.append(ResnetBlock1D(block_in, block_out, 3))
                block_in = block_out
                if level in attn_layers:
                    attn.append(AttnBlock1D(block_in))
            stage = _Level(blocks, attn)
            if level in up_layers:
                stage.upsample = Upsample1D(block_in)
            levels.insert(0, stage)
        self.up = nn.ModuleList(levels)
        self.conv_out = MPConv1d(block_in, out_dim, kernel_size)
        self.learnable_gain = nn.Parameter(torch.zeros([]))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z)).clamp(-self.clip_act, self.clip_act)
        for stage in reversed(self.up):
            for i, block in enumerate(stage.block):
                h = block(h)
                if len(stage.attn) > 0:
                    h = stage.attn[i](h)
                h = h.clamp(-self.clip_act, self.clip_act)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        return self.conv_out(mp_silu(h), gain=self.learnable_gain + 1)


@dataclass
class AudioVAEOutput(BaseOutput):
    """What `AudioVAE.forward` returns.

    Attributes:
        sample: reconstructed log10-mel (B, data_dim, T), un-normalised.
        mean: posterior mean (B, embed_dim, T / downsample_factor).
        logvar: posterior log-variance, clamped to [-30, 20], same shape as `mean`.
    """

    sample: torch.Tensor
    mean: torch.Tensor
    logvar: torch.Tensor


class AudioVAE(ModelMixin, ConfigMixin):
    """MMAudio's 1-D mel VAE; the defaults are the 16 kHz model Ovi uses (`v1-16.pth`).

    Shapes (T = mel frames, f = `downsample_factor` = 2 for the defaults):
        `encode(log_mel (B, data_dim, T))` → posterior mean (B, embed_dim, T // f), the audio latent Ovi
        diffuses (channels first; the transformer takes it transposed, (T // f, embed_dim)). No latent scaling.
        `encode_moments(log_mel)` → (mean, logvar), logvar clamped to [-30, 20].
        `decode(z (B, embed_dim, T'))` → log10-mel (B, data_dim, T'·f), un-normalised, ready for the vocoder.
        Inputs are log10-mel from `duetto.engine.audio_features.LogMelSpectrogram`; the encoder sees them
        standardised per bin with the `data_mean` / `data_std` buffers (part of the checkpoint).

    Loading: `from_mmaudio_state_dict(torch.load("v1-16.pth"))` takes MMAudio's raw weights and applies its
    `remove_weight_norm` (each filter normalised, then divided by sqrt(fan_in)); `save_pretrained` /
    `from_pretrained` store and read those effective weights.

    Training from scratch: put the model in train mode (each convolution then applies EDM2's forced weight
    normalisation, see `MPConv1d`), set `data_mean` / `data_std` to per-bin statistics of the training mels,
    and call `forward(log_mel)`, which samples the posterior and returns the reconstruction with the posterior
    moments. MMAudio publishes no VAE trainer; the usual recipe for this kind of latent autoencoder is an L1
    (or L2) reconstruction loss on the *normalised* mel, `normalize_mel(out.sample) - normalize_mel(log_mel)`,
    plus `kl_weight · kl_divergence(out.mean, out.logvar).mean()` with a small weight (1e-6 to 1e-4, enough to
    keep the latent smooth and bounded), optionally plus a spectral or adversarial term once the L1 plateaus.
    Use Adam without weight decay (forced normalisation makes decay meaningless) with `parameter_groups(lr)`,
    which scales each layer's rate by 1/sqrt(fan_in) so `lr` means what it means in EDM2.
    """

    @register_to_config
    def __init__(
        self,
        data_dim: int = 80,
        embed_dim: int = 20,
        hidden_dim: int = 384,
        ch_mult: tuple[int, ...] = (1, 2, 4),
        num_res_blocks: int = 2,
        attn_layers: tuple[int, ...] = (3,),
        down_layers: tuple[int, ...] = (0,),
        kernel_size: int = 3,
        clip_act: float = 256.0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd for 'same' padding, got {kernel_size}")
        if any(not 0 <= i < len(ch_mult) for i in down_layers):
            raise ValueError(
                f"down_layers {tuple(down_layers)} must index levels of ch_mult {tuple(ch_mult)}"
            )
        # Identity statistics until a checkpoint (or the trainer) provides the real per-bin ones.
        self.register_buffer("data_mean", torch.zeros(1, data_dim, 1))
        self.register_buffer("data_std", torch.ones(1, data_dim, 1))
        shared = dict(
            embed_dim=embed_dim,
            dim=hidden_dim,
            ch_mult=tuple(ch_mult),
            num_res_blocks=num_res_blocks,
            attn_layers=tuple(attn_layers),
            down_layers=tuple(down_layers),
            kernel_size=kernel_size,
            clip_act=clip_act,
        )
        self.encoder = Encoder1D(in_dim=data_dim, **shared)
        self.decoder = Decoder1D(out_dim=data_dim, **shared)

    @property
    def downsample_factor(self) -> int:
        """Mel frames per latent frame."""
        return 2 ** len(self.config.down_layers)

    def normalize_mel(self, log_mel: torch.Tensor) -> torch.Tensor:
        return (log_mel - self.data_mean) / self.data_std

    def unnormalize_mel(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.data_std + self.data_mean

    def _check_mel(self, log_mel: torch.Tensor) -> None:
        if log_mel.ndim != 3 or log_mel.shape[1] != self.config.data_dim:
            raise ValueError(
                f"log_mel must be (batch, {self.config.data_dim}, frames), got {tuple(log_mel.shape)}"
            )

    def encode_moments(self, log_mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """log10-mel (B, data_dim, T) → posterior (mean, logvar), each (B, embed_dim, T // f); logvar clamped."""
        self._check_mel(log_mel)
        moments = self.encoder(self.normalize_mel(log_mel))
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(LOGVAR_MIN, LOGVAR_MAX)

    def encode(self, log_mel: torch.Tensor) -> torch.Tensor:
        """log10-mel (B, data_dim, T) → posterior mean (B, embed_dim, T // f), the latent Ovi uses."""
        return self.encode_moments(log_mel)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (B, embed_dim, T') → log10-mel (B, data_dim, T'·f), un-normalised."""
        if z.ndim != 3 or z.shape[1] != self.config.embed_dim:
            raise ValueError(f"z must be (batch, {self.config.embed_dim}, frames), got {tuple(z.shape)}")
        return self.unnormalize_mel(self.decoder(z))

    def forward(
        self, log_mel: torch.Tensor, sample_posterior: bool = True, generator: torch.Generator | None = None
    ) -> AudioVAEOutput:
        """Encode, sample the posterior (or take its mean), decode. Differentiable; see the class docstring."""
        mean, logvar = self.encode_moments(log_mel)
        z = mean
        if sample_posterior:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = mean + torch.exp(0.5 * logvar) * noise
        return AudioVAEOutput(sample=self.decode(z), mean=mean, logvar=logvar)

    @staticmethod
    def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(N(mean, exp(logvar)) ‖ N(0, 1)) summed over channels and frames, one value per batch item."""
        return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=(1, 2))

    def parameter_groups(self, lr: float) -> list[dict]:
        """Optimizer groups giving each MP convolution lr / sqrt(fan_in) (EDM2's lr on its raw weights)."""
        by_fan_in: dict[int, list[nn.Parameter]] = {}
        conv_params = set()
        for module in self.modules():
            if isinstance(module, MPConv1d):
                by_fan_in.setdefault(module.fan_in, []).append(module.weight)
                conv_params.add(module.weight)
        groups = [{"params": params, "lr": lr / math.sqrt(fan_in)} for fan_in, params in by_fan_in.items()]
        others = [p for p in self.parameters() if p not in conv_params]
        if others:
            groups.append({"params": others, "lr": lr})
        return groups

    @classmethod
    def from_mmaudio_state_dict(cls, state_dict: Mapping[str, torch.Tensor], **config: object) -> AudioVAE:
        """Build an AudioVAE from an MMAudio checkpoint's raw state dict (e.g. `v1-16.pth`), loaded strictly.

        `config` overrides the constructor defaults (the 16 kHz model). Every convolution weight goes through
        MMAudio's `remove_weight_norm`; the model comes back in eval mode, holding effective weights.
        """
        model = cls(**config)
        conv_keys = {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, MPConv1d)}
        converted = {
            key: effective_from_raw(value) if key in conv_keys else value for key, value in state_dict.items()
        }
        load_strict(model, converted)
        return model.eval()

