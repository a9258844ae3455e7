"""The vocoder: a BigVGAN (v1) generator turning log10-mel frames into a waveform (MMAudio's 16 kHz model).

BigVGAN (Lee et al. 2023) is HiFi-GAN with anti-aliased periodic activations: every Snake activation runs at
twice the sample rate, between a Kaiser-windowed sinc interpolator and a matching low-pass decimator
(StyleGAN3's alias-free recipe, in 1-D). Here both resamplers are written in polyphase form with depthwise
`conv1d`s, so the doubled-rate signal is kept as its two phases (even and odd samples) and never interleaved
in memory or padded by copying (depthwise convs are the fast path of CPU conv kernels; grouped ones with two
channels per group are not). The arithmetic is the reference's `conv_transpose1d` + strided `conv1d`,
including its replicate padding at the edges.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from duetto.engine.models.loading import load_strict

_SNAKE_EPS = 1e-9
_RESAMPLE_RATIO = 2
_RESAMPLE_KERNEL = 12


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Kaiser-windowed sinc low-pass filter (1, 1, kernel_size) with unit DC gain; cutoff in cycles/sample."""
    half = kernel_size // 2
    # Kaiser's formula: stop-band attenuation A (dB) from the transition width, then the window's beta.
    attenuation = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    if attenuation > 50.0:
        beta = 0.1102 * (attenuation - 8.7)
    elif attenuation >= 21.0:
        beta = 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, beta=beta, periodic=False)
    if kernel_size % 2 == 0:
        time = torch.arange(-half, half) + 0.5
    else:
        time = torch.arange(kernel_size) - half
    taps = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    return (taps / taps.sum()).view(1, 1, kernel_size)


@functools.cache
def _upsample_table(kernel: int) -> tuple[tuple[tuple[int, ...], ...], int, int]:
    """Filter index (or -1) per (phase, tap) and the (left, right) replicate padding of the input for the
    polyphase form of the reference 2× upsampler: 2·conv_transpose1d(stride 2) of the padded input, cropped.

    Output sample 2t + p is Σ_k x[t - k]·2f[2k + h + p] over valid filter indices, h = (kernel - 2) // 2 being
    the net shift the reference's padding and cropping leave.
    """
    h = (kernel - 2) // 2
    ks = [k for k in range(-kernel, kernel + 1) for p in (0, 1) if 0 <= 2 * k + h + p < kernel]
    k_min, k_max = min(ks), max(ks)
    taps = k_max - k_min + 1
    index = tuple(
        tuple(i if 0 <= (i := 2 * (k_max - d) + h + p) < kernel else -1 for d in range(taps)) for p in (0, 1)
    )
    return index, k_max, -k_min


@functools.cache
def _downsample_table(kernel: int) -> tuple[tuple[tuple[int, ...], ...], int, int]:
    """Filter index (or -1) per (phase, tap) and the (left, right) padding of each phase for the polyphase form
    of the reference decimator: conv1d(replicate_pad(u), f, stride 2) on the interleaved signal u.

    Output t is Σ_k f[k]·u[2t + k - h] with h the reference's left padding; u[2t + k - h] is phase
    p = (k - h) mod 2 at index t + (k - h - p) / 2.
    """
    h = kernel // 2 - (kernel % 2 == 0)
    entries = [((k - h) % 2, (k - h - (k - h) % 2) // 2, k) for k in range(kernel)]
    j_min = min(j for _, j, _ in entries)
    j_max = max(j for _, j, _ in entries)
    index = [[-1] * (j_max - j_min + 1) for _ in (0, 1)]
    for p, j, k in entries:
        index[p][j - j_min] = k
    return tuple(tuple(row) for row in index), -j_min, j_max


def _gather_taps(filt: torch.Tensor, index: tuple[tuple[int, ...], ...], scale: float) -> torch.Tensor:
    """(2, taps) polyphase taps from a (1, 1, K) filter; index -1 marks a zero tap."""
    table = torch.tensor(index, device=filt.device)
    f = torch.cat([filt.reshape(-1), filt.new_zeros(1)])  # index -1 reads the appended zero
    return f[table] * scale


def _conv_edge_padded(
    x: torch.Tensor,
    weight: torch.Tensor,
    groups: int,
    left: torch.Tensor,
    right: torch.Tensor,
    left_pad: int,
    right_pad: int,
) -> torch.Tensor:
    """conv1d(cat([left × left_pad, x, right × right_pad]), weight, groups) without a padded copy of x.

    `left` / `right` are (B, C, 1) edge values. The convolution runs with zero padding, then the outputs that
    see the padding (`left_pad` at the start, `right_pad` at the end) are recomputed from short slices.
    """
    taps, length = weight.shape[-1], x.shape[-1]
    if left_pad != right_pad or taps != 2 * left_pad + 1 or length < taps:
        padded = torch.cat([left.expand(-1, -1, left_pad), x, right.expand(-1, -1, right_pad)], dim=-1)
        return F.conv1d(padded, weight, groups=groups)
    pad = left_pad
    out = F.conv1d(x, weight, groups=groups, padding=pad)
    head = torch.cat([left.expand(-1, -1, pad), x[..., : taps - 1]], dim=-1)
    tail = torch.cat([x[..., length - taps + 1 :], right.expand(-1, -1, pad)], dim=-1)
    out[..., :pad] = F.conv1d(head, weight, groups=groups)
    out[..., length - pad :] = F.conv1d(tail, weight, groups=groups)
    return out


class Snake(nn.Module):
    """x + sin²(αx)/α, per channel; α stored as log α when `logscale`."""

    def __init__(self, channels: int, logscale: bool = True) -> None:
        super().__init__()
        self.logscale = logscale
        self.alpha = nn.Parameter(torch.zeros(channels) if logscale else torch.ones(channels))

    def frequency_and_inverse_magnitude(self) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = self.alpha.exp() if self.logscale else self.alpha
        return alpha, 1.0 / (alpha + _SNAKE_EPS)


class SnakeBeta(nn.Module):
    """x + sin²(αx)/β, per channel, with separate frequency α and magnitude β (log-scale when `logscale`)."""

    def __init__(self, channels: int, logscale: bool = True) -> None:
        super().__init__()
        self.logscale = logscale
        init = torch.zeros(channels) if logscale else torch.ones(channels)
        self.alpha = nn.Parameter(init.clone())
        self.beta = nn.Parameter(init.clone())

    def frequency_and_inverse_magnitude(self) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = self.alpha.exp() if self.logscale else self.alpha
        beta = self.beta.exp() if self.logscale else self.beta
        return alpha, 1.0 / (beta + _SNAKE_EPS)


class _FilterBuffer(nn.Module):
    """Holds one resampling filter as the buffer `filter`, under the reference's state-dict name."""

    def __init__(self, filt: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("filter", filt)


class _Decimator(nn.Module):
    def __init__(self, filt: torch.Tensor) -> None:
        super().__init__()
        self.lowpass = _FilterBuffer(filt)


class AntiAliasedActivation(nn.Module):
    """2× Kaiser-sinc upsample → Snake(-beta) → 2× low-pass decimate, (B, C, T) → (B, C, T).

    The doubled-rate signal is kept as its two phases (even and odd samples), each a (B, C, T) tensor made by
    one depthwise conv of the input, and the decimator is the sum of one depthwise conv per phase; depthwise
    convs are the fast path of CPU conv kernels. With log-scale parameters α = exp(·) > 0, so the per-channel
    factor α can move through both linear resamplers: the upsampler yields v = α·u, the activation becomes
    v + (α/β)·sin²(v), and the decimator divides by α, two passes fewer over the doubled-rate signal.
    """

    def __init__(self, channels: int, activation: str = "snakebeta", logscale: bool = True) -> None:
        super().__init__()
        if activation == "snakebeta":
            self.act: Snake | SnakeBeta = SnakeBeta(channels, logscale)
        elif activation == "snake":
            self.act = Snake(channels, logscale)
        else:
            raise ValueError(f"activation must be 'snake' or 'snakebeta', got {activation!r}")
        cutoff, half_width = 0.5 / _RESAMPLE_RATIO, 0.6 / _RESAMPLE_RATIO
        self.upsample = _FilterBuffer(kaiser_sinc_filter(cutoff, half_width, _RESAMPLE_KERNEL))
        self.downsample = _Decimator(kaiser_sinc_filter(cutoff, half_width, _RESAMPLE_KERNEL))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        up_index, up_left, up_right = _upsample_table(self.upsample.filter.numel())
        down_index, down_left, down_right = _downsample_table(self.downsample.lowpass.filter.numel())
        up_taps = _gather_taps(self.upsample.filter, up_index, _RESAMPLE_RATIO).to(x.dtype)  # (2, taps)
        down_taps = _gather_taps(self.downsample.lowpass.filter, down_index, 1.0).to(x.dtype)  # (2, taps)
        alpha, inv_magnitude = self.act.frequency_and_inverse_magnitude()  # (C,) each
        alpha, inv_magnitude = alpha.to(x.dtype), inv_magnitude.to(x.dtype)
        fold = self.act.logscale
        in_place = not (torch.is_grad_enabled() and (x.requires_grad or alpha.requires_grad))

        # 1. Interpolate and activate, one phase at a time: phase p holds samples 2t + p of the doubled rate.
        phases = []
        for p in (0, 1):
            weight = up_taps[p].expand(channels, 1, -1)  # (C, 1, taps)
            if fold:
                weight = weight * alpha[:, None, None]
            v = _conv_edge_padded(x, weight, channels, x[..., :1], x[..., -1:], up_left, up_right)
            phases.append(_snake(v, alpha, inv_magnitude, fold, in_place))

        # 2. Decimate. The reference replicate-pads the interleaved signal, so both phases are padded with its
        # first sample (even phase, t = 0) on the left and its last (odd phase, t = T-1) on the right.
        left, right = phases[0][..., :1], phases[1][..., -1:]
        out = None
        for p, v in enumerate(phases):
            weight = down_taps[p].expand(channels, 1, -1)  # (C, 1, taps)
            if fold:
                weight = weight / alpha[:, None, None]
            y = _conv_edge_padded(v, weight, channels, left, right, down_left, down_right)
            out = y if out is None else (out.add_(y) if in_place else out + y)
        return out


def _snake(
    v: torch.Tensor, alpha: torch.Tensor, inv_magnitude: torch.Tensor, folded: bool, in_place: bool
) -> torch.Tensor:
    """Snake on v = u (or v = α·u when `folded`, returning α·snake(u)); parameters are (C,)."""
    alpha, inv_magnitude = alpha[:, None], inv_magnitude[:, None]  # (C, 1): broadcast over (B, C, T)
    if not folded:
        return v + inv_magnitude * torch.sin(v * alpha).pow(2)
    ratio = alpha * inv_magnitude
    s = torch.sin(v)
    return v.addcmul_(s.square_(), ratio) if in_place else v + ratio * s.square()


def _same_padding(kernel_size: int, dilation: int = 1) -> int:
    return (kernel_size * dilation - dilation) // 2


class AMPBlock1(nn.Module):
    """BigVGAN's type-1 block: per dilation, act → dilated conv → act → conv, added to the input."""

    def __init__(
        self, channels: int, kernel_size: int, dilations: Sequence[int], activation: str, logscale: bool
    ) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=_same_padding(kernel_size)) for _ in dilations
        )
        self.activations = nn.ModuleList(
            AntiAliasedActivation(channels, activation, logscale) for _ in range(2 * len(dilations))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2, act1, act2 in zip(
            self.convs1, self.convs2, self.activations[::2], self.activations[1::2], strict=True
        ):
            x = conv2(act2(conv1(act1(x)))) + x
        return x


class AMPBlock2(nn.Module):
    """BigVGAN's type-2 block: per dilation, act → dilated conv, added to the input."""

    def __init__(
        self, channels: int, kernel_size: int, dilations: Sequence[int], activation: str, logscale: bool
    ) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same_padding(kernel_size, d))
            for d in dilations
        )
        self.activations = nn.ModuleList(
            AntiAliasedActivation(channels, activation, logscale) for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, act in zip(self.convs, self.activations, strict=True):
            x = conv(act(x)) + x
        return x


class BigVGANVocoder(ModelMixin, ConfigMixin):
    """BigVGAN v1 generator: log10-mel (B, num_mels, T) → waveform (B, 1, T·hop) in [-1, 1].

    hop = prod(upsample_rates) (256 for the defaults: 16 kHz audio from 62.5 mel frames/s). The defaults are
    MMAudio's 16 kHz vocoder (`best_netG.pt`, generator under the key "generator") that Ovi uses.

    Loading: `from_bigvgan_state_dict(torch.load("best_netG.pt"))` folds the weight norm of a checkpoint
    (`weight_g`/`weight_v`, or torch's `parametrizations.weight.original0/1`) into plain weights,
    w = g·v/‖v‖ with the norm over every axis but 0 (for the transposed convolutions, axis 0 is the input
    channel). `save_pretrained` / `from_pretrained` store those plain weights.

    Training: BigVGAN is trained with weight norm on every convolution. `apply_weight_norm()` re-parametrises
    them in place (torch's `parametrizations.weight_norm`, same function as the checkpoint's), and
    `remove_weight_norm()` folds them back before `save_pretrained`. The forward is differentiable either way.
    The usual losses (BigVGAN / HiFi-GAN) are: a mel L1 loss between `LogMelSpectrogram` of the target and of
    the output (weight 45), multi-period and multi-resolution discriminators with least-squares GAN losses, and
    a feature-matching loss (weight 2).
    """

    @register_to_config
    def __init__(
        self,
        num_mels: int = 80,
        upsample_rates: tuple[int, ...] = (4, 4, 2, 2, 2, 2),
        upsample_kernel_sizes: tuple[int, ...] = (8, 8, 4, 4, 4, 4),
        upsample_initial_channel: int = 1536,
        resblock: str = "1",
        resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11),
        resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5)),
        activation: str = "snakebeta",
        snake_logscale: bool = True,
        use_bias_at_final: bool = True,
        use_tanh_at_final: bool = True,
    ) -> None:
        super().__init__()
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ValueError("upsample_rates and upsample_kernel_sizes must have the same length")
        if len(resblock_kernel_sizes) != len(resblock_dilation_sizes):
            raise ValueError("resblock_kernel_sizes and resblock_dilation_sizes must have the same length")
        if str(resblock) not in ("1", "2"):
            raise ValueError(f"resblock must be '1' or '2', got {resblock!r}")
        if upsample_initial_channel % 2 ** len(upsample_rates):
            raise ValueError("upsample_initial_channel must be divisible by 2 ** len(upsample_rates)")
        block_cls = AMPBlock1 if str(resblock) == "1" else AMPBlock2
        self.num_kernels = len(resblock_kernel_sizes)

        self.conv_pre = nn.Conv1d(num_mels, upsample_initial_channel, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        channels = upsample_initial_channel
        for rate, kernel in zip(upsample_rates, upsample_kernel_sizes, strict=True):
            # Wrapped in a list only to keep the reference's key names (`ups.<i>.0.weight`).
            up = nn.ConvTranspose1d(channels, channels // 2, kernel, rate, padding=(kernel - rate) // 2)
            self.ups.append(nn.ModuleList([up]))
            channels //= 2
            for block_kernel, dilations in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True):
                self.resblocks.append(
                    block_cls(channels, block_kernel, dilations, activation, snake_logscale)
                )
        self.activation_post = AntiAliasedActivation(channels, activation, snake_logscale)
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3, bias=use_bias_at_final)
        self._init_weights()

    def _init_weights(self) -> None:
        # HiFi-GAN's init for the upsamplers, residual convs and output conv; conv_pre keeps torch's default.
        for module in [*self.ups.modules(), *self.resblocks.modules(), self.conv_post]:
            if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
                nn.init.normal_(module.weight, 0.0, 0.01)

    @property
    def hop_length(self) -> int:
        """Waveform samples per mel frame."""
        return math.prod(self.config.upsample_rates)

    def forward(
        self, mel: torch.Tensor, return_hidden_states: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """log10-mel (B, num_mels, T) → waveform (B, 1, T·hop_length).

        With `return_hidden_states`, also returns [after conv_pre, after stage 0, ..., after the last stage]
        (each stage: its transposed conv, then the mean of its AMP blocks).
        """
        if mel.ndim != 3 or mel.shape[1] != self.config.num_mels:
            raise ValueError(f"mel must be (batch, {self.config.num_mels}, frames), got {tuple(mel.shape)}")
        x = self.conv_pre(mel)
        hidden = [x]
        for stage, up in enumerate(self.ups):
            x = up[0](x)
            blocks = self.resblocks[stage * self.num_kernels : (stage + 1) * self.num_kernels]
            total = blocks[0](x)
            for block in blocks[1:]:
                total = total + block(x)
            x = total / self.num_kernels
            hidden.append(x)
        x = self.conv_post(self.activation_post(x))
        waveform = torch.tanh(x) if self.config.use_tanh_at_final else x.clamp(-1.0, 1.0)
        return (waveform, hidden) if return_hidden_states else waveform

    def _convolutions(self) -> list[nn.Module]:
        return [m for m in self.modules() if isinstance(m, (nn.Conv1d, nn.ConvTranspose1d))]

    @property
    def has_weight_norm(self) -> bool:
        return any(parametrize.is_parametrized(m, "weight") for m in self._convolutions())

    def apply_weight_norm(self) -> BigVGANVocoder:
        """Re-parametrise every convolution as g·v/‖v‖ (dim 0) for training; the function is unchanged."""
        for module in self._convolutions():
            if not parametrize.is_parametrized(module, "weight"):
                weight_norm(module, name="weight", dim=0)
        return self

    def remove_weight_norm(self) -> BigVGANVocoder:
        """Fold the weight norm back into plain weights (needed before `save_pretrained`)."""
        for module in self._convolutions():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        return self

    def save_pretrained(self, *args: object, **kwargs: object) -> None:
        if self.has_weight_norm:
            raise ValueError(
                "call remove_weight_norm() before save_pretrained so the plain weights are saved"
            )
        super().save_pretrained(*args, **kwargs)

    @classmethod
    def from_bigvgan_state_dict(cls, state_dict: Mapping[str, object], **config: object) -> BigVGANVocoder:
        """Build a vocoder from a BigVGAN checkpoint's state dict, loaded strictly, in eval mode.

        Accepts the whole `best_netG.pt` dict (the generator sits under "generator") or the generator's own
        state dict, with weight-norm pairs under either naming. `config` overrides the defaults.
        """
        if "generator" in state_dict:
            state_dict = state_dict["generator"]
        model = cls(**config)
        load_strict(model, fold_weight_norm(state_dict))
        return model.eval()


_WEIGHT_NORM_PAIRS = (
    (".weight_g", ".weight_v"),
    (".parametrizations.weight.original0", ".parametrizations.weight.original1"),
)


def fold_weight_norm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace every weight-norm pair (g, v) in a state dict by `<conv>.weight` = g·v/‖v‖, norm over dims ≥ 1."""
    folded: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        for g_suffix, v_suffix in _WEIGHT_NORM_PAIRS:
            if key.endswith(v_suffix):
                prefix = key[: -len(v_suffix)]
                g = state_dict.get(prefix + g_suffix)
                if g is None:
                    raise ValueError(
                        f"checkpoint has {key} without {prefix + g_suffix}; it is not a weight-norm pair"
                    )
                v = value.to(torch.float32)
                norm = torch.linalg.vector_norm(v, dim=list(range(1, v.ndim)), keepdim=True)
                folded[prefix + ".weight"] = (g.to(torch.float32) * v / norm).to(value.dtype)
                break
            if key.endswith(g_suffix):
                break
        else:
            folded[key] = value
    return folded

