"""The twin-tower diffusion transformer (Ovi design): a video and an audio tower fused in every block.

Each tower is a Wan-style DiT. In every block the two towers exchange information through a fused
cross-attention that reads the text and the other tower's tokens with one shared query and output
projection. Parameter names follow the official Ovi checkpoints (`video_model.*`, `audio_model.*`), so
those load with `strict=True`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import Tensor, nn

from duetto.engine.attention import attention

ROPE_THETA = 10_000.0
SINUSOID_BASE = 10_000.0
_ROPE_CACHE_SIZE = 8
PREDICTION_TYPES = ("velocity", "sample")
#: Under x-prediction the velocity is (x_t − x̂0) / σ; σ is floored here so nearly clean frames stay finite.
SAMPLE_PREDICTION_MIN_SIGMA = 0.05

# Keys of Ovi's video.json / audio.json; the values the code does not implement are refused below.
_SIZE_KEYS = tuple("in_dim out_dim dim ffn_dim freq_dim num_heads num_layers text_dim text_len".split())
_CONFIG_KEYS = {*_SIZE_KEYS, *"model_type patch_size window_size qk_norm cross_attn_norm eps".split()}
_CONFIG_KEYS.add("temporal_rope_scaling_factor")
_OPTIONAL_NONE_KEYS = {"additional_emb_dim", "additional_emb_length"}


# --------------------------------------------------------------------------------------------------
# Inputs and per-tower state


@dataclass(frozen=True)
class ModalityInput:
    """One tower's inputs.

    Attributes:
        latents: video (B, C, F, h, w), channels first; audio (B, L, C), channels last.
        context: (B, n_text, text_dim) text embeddings with n_text <= text_len. Rows past a prompt's
            real length must be zero: the model zero-pads to text_len and attends every row, as Ovi.
        timestep: (B,) one value per sample, or one per latent frame, (B, F) video / (B, L) audio.
            Values in [0, 1000], int or float; a clean frame (an image first frame) has timestep 0.
    """

    latents: Tensor
    context: Tensor
    timestep: Tensor


@dataclass(frozen=True)
class TowerState:
    """What one tower's blocks read: hidden tokens plus the conditioning computed once per forward.

    Timestep conditioning is kept per *group* of consecutive tokens (G groups: 1 for one timestep per
    sample, F for one per video latent frame, L for one per audio token) instead of per token, which
    is the same arithmetic without materialising a (B, L, 6, D) table.
    """

    tokens: Tensor  # (B, L, D)
    time: Tensor  # (B, G, D): time-embedding MLP output, read by the head
    time_proj: Tensor  # (B, G, 6, D): time projection, before each block's modulation table
    context: Tensor  # (B, text_len, D): text MLP applied to the zero-padded context
    rope: tuple[Tensor, Tensor]  # cos, sin: (L, 1, head_dim / 2) float32
    grid: tuple[int, ...]  # token grid: (F', h', w') video, (L,) audio


# --------------------------------------------------------------------------------------------------
# Helpers


def timestep_sinusoid(timestep: Tensor, dim: int) -> Tensor:
    """Ovi's timestep features, cos first, computed in float64: (...,) -> (..., dim)."""
    half = dim // 2
    exponents = torch.arange(half, dtype=torch.float64, device=timestep.device) / half
    angles = timestep.to(torch.float64)[..., None] * torch.pow(SINUSOID_BASE, -exponents)
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


def rope_inverse_frequencies(channels: int, device: torch.device | None = None) -> Tensor:
    """theta^(-2k/channels) for k < channels/2, in float64 (one table of Ovi's `rope_params`)."""
    exponents = torch.arange(0, channels, 2, dtype=torch.float64, device=device) / channels
    return 1.0 / torch.pow(ROPE_THETA, exponents)


def rope_pair_split(head_dim: int) -> tuple[int, int, int]:
    """How the head_dim/2 rotary pairs split over (frame, row, column): (22, 21, 21) for 128."""
    pairs = head_dim // 2
    return pairs - 2 * (pairs // 3), pairs // 3, pairs // 3


def apply_rope(x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
    """Rotate adjacent channel pairs (2k, 2k+1) of x (B, L, H, D) by per-token angles."""
    cos, sin = rope
    dtype = torch.promote_types(x.dtype, torch.float32)
    cos, sin = cos.to(dtype), sin.to(dtype)
    pairs = x.to(dtype).unflatten(-1, (-1, 2))  # (B, L, H, D/2, 2)
    real, imag = pairs.unbind(-1)
    rotated = torch.stack((real * cos - imag * sin, real * sin + imag * cos), dim=-1)
    return rotated.flatten(-2).to(x.dtype)  # (B, L, H, D)


def _by_group(x: Tensor, groups: int) -> Tensor:
    """(B, L, D) -> (B, G, L/G, D): each timestep group's tokens side by side."""
    return x.unflatten(1, (groups, -1))


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN: x * (1 + scale) + shift, with (B, G, 1, D) tables over (B, L, D) tokens."""
    return torch.addcmul(shift, _by_group(x, shift.shape[1]), 1 + scale).flatten(1, 2)


def gated_residual(x: Tensor, y: Tensor, gate: Tensor) -> Tensor:
    """x + gate * y, with a (B, G, 1, D) gate over (B, L, D) tokens."""
    groups = gate.shape[1]
    return torch.addcmul(_by_group(x, groups), _by_group(y, groups), gate).flatten(1, 2)


def layer_norm(x: Tensor, eps: float) -> Tensor:
    """LayerNorm without affine parameters (Ovi's norm1, norm2 and head norm)."""
    return F.layer_norm(x, x.shape[-1:], eps=eps)


# --------------------------------------------------------------------------------------------------
# Attention modules


class SelfAttention(nn.Module):
    """Self-attention with q/k RMSNorm over the full width (before the head split) and RoPE."""

    def __init__(self, dim: int, num_heads: int, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = nn.RMSNorm(dim, eps=eps)
        self.norm_k = nn.RMSNorm(dim, eps=eps)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        heads = (self.num_heads, -1)
        q = self.norm_q(self.q(x)).unflatten(-1, heads)  # (B, L, H, Dh)
        k = self.norm_k(self.k(x)).unflatten(-1, heads)
        v = self.v(x).unflatten(-1, heads)
        out = attention(apply_rope(q, rope), apply_rope(k, rope), v)
        return self.o(out.flatten(2))  # (B, L, D)


class FusedCrossAttention(nn.Module):
    """Cross-attention to the text and (with fusion) to the other tower, sharing q and `o`.

    Text branch: no RoPE, every text_len row attended. Audio-video branch: the other tower's tokens go
    through their own LayerNorm, k/v projections and k RMSNorm; q is rotated with this tower's
    positions and k with the other tower's. The two attention outputs are summed before `o`.
    """

    def __init__(self, dim: int, num_heads: int, eps: float, fusion: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.fusion = fusion
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = nn.RMSNorm(dim, eps=eps)
        self.norm_k = nn.RMSNorm(dim, eps=eps)
        if fusion:
            self.k_fusion = nn.Linear(dim, dim)
            self.v_fusion = nn.Linear(dim, dim)
            self.pre_attn_norm_fusion = nn.LayerNorm(dim, eps=eps)
            self.norm_k_fusion = nn.RMSNorm(dim, eps=eps)

    def forward(
        self,
        x: Tensor,
        context: Tensor,
        other: Tensor | None = None,
        rope: tuple[Tensor, Tensor] | None = None,
        other_rope: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        heads = (self.num_heads, -1)
        q = self.norm_q(self.q(x)).unflatten(-1, heads)  # (B, L, H, Dh)
        k = self.norm_k(self.k(context)).unflatten(-1, heads)  # (B, text_len, H, Dh)
        v = self.v(context).unflatten(-1, heads)
        out = attention(q, k, v)
        if self.fusion:
            if other is None or rope is None or other_rope is None:
                raise ValueError("a fused cross-attention needs the other tower's tokens and both RoPEs")
            y = self.pre_attn_norm_fusion(other)
            k_other = self.norm_k_fusion(self.k_fusion(y)).unflatten(-1, heads)  # (B, L_other, H, Dh)
            v_other = self.v_fusion(y).unflatten(-1, heads)
            out = out + attention(apply_rope(q, rope), apply_rope(k_other, other_rope), v_other)
        return self.o(out.flatten(2))  # (B, L, D)


# --------------------------------------------------------------------------------------------------
# Embeddings and head


class VideoPatchEmbedding(nn.Conv3d):
    """Conv3d with kernel = stride = patch, computed as one matmul over flattened patches."""

    def forward(self, latents: Tensor) -> Tensor:
        b, c, f, h, w = latents.shape
        pt, ph, pw = self.kernel_size
        x = latents.reshape(b, c, f // pt, pt, h // ph, ph, w // pw, pw)
        # (B, F', h', w', C, pt, ph, pw): tokens in (frame, row, column) order, patches as the conv sees them
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(b, -1, c * pt * ph * pw)
        return F.linear(x, self.weight.flatten(1), self.bias)  # (B, L, D)


class GatedConvMLP(nn.Module):
    """MMAudio's bias-free gated conv-MLP, channels first: w2(SiLU(w1 x) * w3 x)."""

    def __init__(self, dim: int, hidden: int, kernel_size: int = 7) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.w1 = nn.Conv1d(dim, hidden, kernel_size, padding=padding, bias=False)
        self.w2 = nn.Conv1d(hidden, dim, kernel_size, padding=padding, bias=False)
        self.w3 = nn.Conv1d(dim, hidden, kernel_size, padding=padding, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class AudioPatchEmbedding(nn.Sequential):
    """Ovi's audio front end: Conv1d(k7) -> SiLU -> gated conv-MLP, one token per latent frame."""

    def __init__(self, in_dim: int, dim: int) -> None:
        # MMAudio's hidden width: 2/3 of 4*dim, rounded up to a multiple of 256.
        hidden = 256 * math.ceil((8 * dim // 3) / 256)
        super().__init__(nn.Conv1d(in_dim, dim, 7, padding=3), nn.SiLU(), GatedConvMLP(dim, hidden))

    def forward(self, latents: Tensor) -> Tensor:
        x = latents.transpose(1, 2)  # (B, C, L): convolve channels first, once
        x = self[2](self[1](self[0](x)))
        return x.transpose(1, 2)  # (B, L, D)


class Modulation(nn.Module):
    """A block's learned adaLN table, added to the tower's time projection."""

    def __init__(self, dim: int, num: int = 6) -> None:
        super().__init__()
        self.modulation = nn.Parameter(torch.randn(1, num, dim) / dim**0.5)

    def forward(self, time_proj: Tensor) -> tuple[Tensor, ...]:
        table = (self.modulation + time_proj).unsqueeze(2)  # (B, G, 1, 6, D)
        # shift_sa, scale_sa, gate_sa, shift_ffn, scale_ffn, gate_ffn, each (B, G, 1, D)
        return table.unbind(-2)


class Head(nn.Module):
    """Output head: LayerNorm -> adaLN from the time embedding e (not e0) -> Linear."""

    def __init__(self, dim: int, out_features: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.head = nn.Linear(dim, out_features)
        self.modulation = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)

    def forward(self, x: Tensor, time: Tensor) -> Tensor:
        table = self.modulation + time.unsqueeze(2)  # (B, G, 2, D)
        shift, scale = table.unsqueeze(2).unbind(-2)  # (B, G, 1, D) each
        return self.head(modulate(layer_norm(x, self.eps), shift, scale))


# --------------------------------------------------------------------------------------------------
# Block and towers


class TowerBlock(nn.Module):
    """One tower's half of a fused block; the two halves interleave in `TwinDiT.fused_block`."""

    def __init__(self, dim: int, ffn_dim: int, num_heads: int, eps: float, fusion: bool) -> None:
        super().__init__()
        self.eps = eps
        self.self_attn = SelfAttention(dim, num_heads, eps)
        self.norm3 = nn.LayerNorm(dim, eps=eps)
        self.cross_attn = FusedCrossAttention(dim, num_heads, eps, fusion)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(ffn_dim, dim)
        )
        self.modulation = Modulation(dim)

    def self_attention(self, x: Tensor, mod: Sequence[Tensor], rope: tuple[Tensor, Tensor]) -> Tensor:
        shift, scale, gate = mod[0], mod[1], mod[2]
        return gated_residual(x, self.self_attn(modulate(layer_norm(x, self.eps), shift, scale), rope), gate)

    def cross_attention_and_ffn(
        self,
        x: Tensor,
        mod: Sequence[Tensor],
        state: TowerState,
        other: TowerState,
    ) -> Tensor:
        # The cross-attention residual is un-gated, as in Wan.
        x = x + self.cross_attn(self.norm3(x), state.context, other.tokens, state.rope, other.rope)
        shift, scale, gate = mod[3], mod[4], mod[5]
        return gated_residual(x, self.ffn(modulate(layer_norm(x, self.eps), shift, scale)), gate)


class Tower(nn.Module):
    """One Wan-style DiT tower: embeddings, blocks and head; subclasses add the modality's geometry."""

    def __init__(
        self,
        *,
        in_dim: int,
        out_dim: int,
        dim: int,
        ffn_dim: int,
        freq_dim: int,
        num_heads: int,
        num_layers: int,
        text_dim: int,
        text_len: int,
        eps: float,
        fusion: bool,
        out_features: int,
    ) -> None:
        super().__init__()
        self.dim, self.num_heads, self.freq_dim = dim, num_heads, freq_dim
        self.in_dim, self.out_dim, self.text_len, self.text_dim = in_dim, out_dim, text_len, text_dim
        self.head_dim = dim // num_heads
        self.text_embedding = nn.Sequential(
            nn.Linear(text_dim, dim), nn.GELU(approximate="tanh"), nn.Linear(dim, dim)
        )
        self.time_embedding = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.blocks = nn.ModuleList(
            TowerBlock(dim, ffn_dim, num_heads, eps, fusion) for _ in range(num_layers)
        )
        self.head = Head(dim, out_features, eps)
        self._rope_cache: dict[tuple[Any, ...], tuple[Tensor, Tensor]] = {}

    # Modality geometry, supplied by the subclasses.
    def patchify(self, latents: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        raise NotImplementedError

    def unpatchify(self, x: Tensor, grid: tuple[int, ...]) -> Tensor:
        raise NotImplementedError

    def rope_angles(self, grid: tuple[int, ...], device: torch.device) -> Tensor:
        raise NotImplementedError

    def timestep_groups(self, timestep: Tensor, batch: int, grid: tuple[int, ...], name: str) -> Tensor:
        raise NotImplementedError

    def rope(self, grid: tuple[int, ...], device: torch.device) -> tuple[Tensor, Tensor]:
        """cos/sin tables (L, 1, head_dim/2), angles in float64, cached by grid and device."""
        key = (grid, device)
        cached = self._rope_cache.get(key)
        if cached is None:
            angles = self.rope_angles(grid, device)  # (L, head_dim/2) float64
            cached = (angles.cos().float()[:, None], angles.sin().float()[:, None])
            if len(self._rope_cache) >= _ROPE_CACHE_SIZE:
                self._rope_cache.clear()
            self._rope_cache[key] = cached
        return cached

    def embed(self, inputs: ModalityInput, name: str) -> TowerState:
        """Tokens and conditioning for the blocks."""
        dtype = self.text_embedding[0].weight.dtype
        batch = inputs.latents.shape[0]
        tokens, grid = self.patchify(inputs.latents.to(dtype))

        # 1. Time: sinusoid in float64 per group, then the tower's MLPs.
        # A timestep left on the CPU is moved here, which costs a host sync on GPUs.
        timestep = inputs.timestep.to(tokens.device)
        groups = self.timestep_groups(timestep, batch, grid, name)  # (B, G)
        time = self.time_embedding(timestep_sinusoid(groups, self.freq_dim).to(dtype))  # (B, G, D)
        time_proj = self.time_projection(time).unflatten(-1, (6, self.dim))  # (B, G, 6, D)

        # 2. Text: zero-pad to text_len, every row goes through the MLP and is attended.
        context = inputs.context
        if context.ndim != 3 or context.shape[0] != batch or context.shape[2] != self.text_dim:
            raise ValueError(
                f"{name}.context must be (B={batch}, n_text, {self.text_dim}), got {tuple(context.shape)}"
            )
        if context.shape[1] > self.text_len:
            raise ValueError(
                f"{name}.context has {context.shape[1]} rows but text_len is {self.text_len}; "
                "truncate the prompt embedding"
            )
        context = F.pad(context.to(dtype), (0, 0, 0, self.text_len - context.shape[1]))
        context = self.text_embedding(context)  # (B, text_len, D)

        rope = self.rope(grid, tokens.device)
        return TowerState(tokens, time, time_proj, context, rope, grid)

    def unembed(self, state: TowerState) -> Tensor:
        return self.unpatchify(self.head(state.tokens, state.time), state.grid)


def _per_sample_or_per_frame(timestep: Tensor, batch: int, frames: int, name: str) -> Tensor:
    if timestep.ndim == 1 and timestep.shape[0] == batch:
        return timestep[:, None]  # (B, 1): one group
    if timestep.ndim == 2 and timestep.shape == (batch, frames):
        return timestep
    raise ValueError(
        f"{name}.timestep must be ({batch},) or ({batch}, {frames}), got {tuple(timestep.shape)}"
    )


class VideoTower(Tower):
    """The video tower: 3-D patches, 3-D RoPE over (frame, row, column)."""

    def __init__(self, *, patch_size: Sequence[int], **kwargs: Any) -> None:
        self.patch_size = tuple(int(p) for p in patch_size)
        super().__init__(**kwargs, out_features=math.prod(self.patch_size) * kwargs["out_dim"])
        self.patch_embedding = VideoPatchEmbedding(
            self.in_dim, self.dim, kernel_size=self.patch_size, stride=self.patch_size
        )

    def patchify(self, latents: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        if latents.ndim != 5 or latents.shape[1] != self.in_dim:
            raise ValueError(f"video.latents must be (B, {self.in_dim}, F, h, w), got {tuple(latents.shape)}")
        sizes = latents.shape[2:]
        if any(s % p for s, p in zip(sizes, self.patch_size, strict=True)):
            raise ValueError(
                f"video.latents (F, h, w) = {tuple(sizes)} must be multiples of {self.patch_size}"
            )
        grid = tuple(s // p for s, p in zip(sizes, self.patch_size, strict=True))
        return self.patch_embedding(latents), grid

    def unpatchify(self, x: Tensor, grid: tuple[int, ...]) -> Tensor:
        (f, h, w), (pt, ph, pw) = grid, self.patch_size
        # (B, F', h', w', pt, ph, pw, C) -> (B, C, F', pt, h', ph, w', pw): channels fastest in the head output
        x = x.reshape(x.shape[0], f, h, w, pt, ph, pw, self.out_dim).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return x.reshape(x.shape[0], self.out_dim, f * pt, h * ph, w * pw)  # (B, C, F, h, w)

    def rope_angles(self, grid: tuple[int, ...], device: torch.device) -> Tensor:
        f, h, w = grid
        splits = rope_pair_split(self.head_dim)
        parts = []
        for axis, (size, pairs) in enumerate(zip(grid, splits, strict=True)):
            angles = torch.outer(
                torch.arange(size, dtype=torch.float64, device=device),
                rope_inverse_frequencies(2 * pairs, device),
            )  # (size, pairs)
            shape = [1, 1, 1, pairs]
            shape[axis] = size
            parts.append(angles.view(shape).expand(f, h, w, pairs))
        return torch.cat(parts, dim=-1).reshape(f * h * w, -1)  # (L, head_dim/2)

    def timestep_groups(self, timestep: Tensor, batch: int, grid: tuple[int, ...], name: str) -> Tensor:
        if timestep.ndim == 2 and self.patch_size[0] != 1:
            raise ValueError("per-frame video timesteps need a temporal patch size of 1; pass one per sample")
        return _per_sample_or_per_frame(timestep, batch, grid[0], name)


class AudioTower(Tower):
    """The audio tower: MMAudio conv front end, 1-D RoPE on the first pairs with scaled frequencies."""

    def __init__(self, *, temporal_rope_scaling_factor: float, **kwargs: Any) -> None:
        super().__init__(**kwargs, out_features=kwargs["out_dim"])
        self.rope_scale = float(temporal_rope_scaling_factor)
        self.patch_embedding = AudioPatchEmbedding(self.in_dim, self.dim)

    def patchify(self, latents: Tensor) -> tuple[Tensor, tuple[int, ...]]:
        if latents.ndim != 3 or latents.shape[2] != self.in_dim:
            raise ValueError(f"audio.latents must be (B, L, {self.in_dim}), got {tuple(latents.shape)}")
        return self.patch_embedding(latents), (latents.shape[1],)

    def unpatchify(self, x: Tensor, grid: tuple[int, ...]) -> Tensor:
        return x  # (B, L, C)

    def rope_angles(self, grid: tuple[int, ...], device: torch.device) -> Tensor:
        # Only the temporal share of the pairs rotates (the same frequencies as the video frame axis,
        # scaled); the rest get angle 0 and pass through unchanged.
        rotated = rope_pair_split(self.head_dim)[0]
        inverse = self.rope_scale * rope_inverse_frequencies(2 * rotated, device)
        angles = torch.outer(torch.arange(grid[0], dtype=torch.float64, device=device), inverse)
        return F.pad(angles, (0, self.head_dim // 2 - rotated))  # (L, head_dim/2)

    def timestep_groups(self, timestep: Tensor, batch: int, grid: tuple[int, ...], name: str) -> Tensor:
        return _per_sample_or_per_frame(timestep, batch, grid[0], name)


# --------------------------------------------------------------------------------------------------
# Config validation


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _tower_kwargs(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Check one Ovi tower config and turn it into constructor arguments."""
    _require(isinstance(config, Mapping), f"{name}_config must be a dict like Ovi's {name}.json")
    where = f"{name}_config"
    unknown = set(config) - _CONFIG_KEYS - _OPTIONAL_NONE_KEYS
    _require(not unknown, f"{where} has unsupported keys {sorted(unknown)}; remove them")
    missing = _CONFIG_KEYS - {"temporal_rope_scaling_factor"} - set(config)
    _require(not missing, f"{where} lacks {sorted(missing)}; use Ovi's {name}.json layout")
    for key in _OPTIONAL_NONE_KEYS & set(config):
        _require(config[key] is None, f"{where}.{key} (image embeddings) is not supported; set it to null")
    kwargs = {key: config[key] for key in _SIZE_KEYS}
    for key, value in kwargs.items():
        _require(type(value) is int and value > 0, f"{where}.{key} must be a positive integer, got {value!r}")
    head_dim, rest = divmod(config["dim"], config["num_heads"])
    checks = [
        (config["qk_norm"] is True, "qk_norm must be true (only RMSNorm on q/k is implemented)"),
        (
            config["cross_attn_norm"] is True,
            "cross_attn_norm must be true (only the affine norm3 is implemented)",
        ),
        (list(config["window_size"]) == [-1, -1], "window_size must be [-1, -1] (global attention)"),
        (float(config["eps"]) > 0, "eps must be positive"),
        (config["freq_dim"] % 2 == 0, "freq_dim must be even"),
        (rest == 0 and head_dim % 2 == 0 and head_dim >= 6, "dim / num_heads must be an even head size >= 6"),
    ]
    patch = [int(p) for p in config["patch_size"]]
    rope_scale = float(config.get("temporal_rope_scaling_factor", 1.0))
    if name == "video":
        checks += [
            (config["model_type"] in ("t2v", "ti2v"), "model_type must be 't2v' or 'ti2v'"),
            (len(patch) == 3 and min(patch) > 0, "patch_size must be three positive integers"),
            (rope_scale == 1.0, "temporal_rope_scaling_factor must be 1 (only the audio tower scales RoPE)"),
        ]
        kwargs["patch_size"] = patch
    else:
        checks += [
            (config["model_type"] == "t2a", "model_type must be 't2a'"),
            (patch == [1], "patch_size must be [1] (the audio tower does not patchify)"),
            (rope_scale > 0, "temporal_rope_scaling_factor must be positive"),
        ]
        kwargs["temporal_rope_scaling_factor"] = rope_scale
    for ok, message in checks:
        _require(ok, f"{where}.{message}")
    kwargs["eps"] = float(config["eps"])
    return kwargs


def _velocity_from_sample(x_t: Tensor, x0: Tensor, timestep: Tensor, frame_axis: int) -> Tensor:
    """v = (x_t − x̂0) / σ with σ = timestep / 1000, per sample (B,) or per frame (B, F) along `frame_axis`."""
    sigma = (timestep.to(x0.device, torch.float32) / 1000.0).clamp(min=SAMPLE_PREDICTION_MIN_SIGMA)
    shape = [x0.shape[0]] + [1] * (x0.ndim - 1)
    if sigma.ndim == 2:
        shape[frame_axis] = sigma.shape[1]
    return ((x_t.to(x0.dtype) - x0) / sigma.view(shape).to(x0.dtype)).to(x0.dtype)


# --------------------------------------------------------------------------------------------------
# The model


class TwinDiT(ModelMixin, ConfigMixin):
    """Ovi's fusion model: a video DiT and an audio DiT that read each other in every block.

    Args:
        video_config: Ovi's `video.json` (dim, ffn_dim, num_heads, num_layers, freq_dim, text_dim,
            text_len, in_dim, out_dim, patch_size, qk_norm, cross_attn_norm, eps, window_size, model_type).
        audio_config: Ovi's `audio.json` (the same keys plus temporal_rope_scaling_factor).
        fusion: False builds the towers without the cross-modal branch; they then share only the text.
        prediction_type: what the heads predict. "velocity" (Ovi): the flow-matching velocity itself.
            "sample": the clean latents x̂0, returned as the velocity (x_t − x̂0) / σ, so samplers and the
            training loss stay in velocity. A head narrower than its output (a 128-wide tower predicting
            160 mel values per audio token) cannot reproduce the noise inside a velocity, but can predict
            clean data, which lies on a low-dimensional set (Li and He, "Back to Basics: Let Denoising
            Generative Models Denoise", 2025).
    """

    _supports_gradient_checkpointing = True
    _no_split_modules = ["TowerBlock"]

    @register_to_config
    def __init__(
        self, video_config: dict, audio_config: dict, fusion: bool = True, prediction_type: str = "velocity"
    ) -> None:
        super().__init__()
        _require(prediction_type in PREDICTION_TYPES, f"prediction_type must be one of {PREDICTION_TYPES}")
        video, audio = _tower_kwargs(video_config, "video"), _tower_kwargs(audio_config, "audio")
        for key in ("dim", "num_heads", "num_layers"):
            _require(
                video[key] == audio[key],
                f"the towers must share {key} (video {video[key]}, audio {audio[key]})",
            )
        self.video_model = VideoTower(**video, fusion=fusion)
        self.audio_model = AudioTower(**audio, fusion=fusion)
        self.num_layers = video["num_layers"]
        self.gradient_checkpointing = False
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """Ovi's initialisation, so that a freshly built model trains well."""
        for tower in (self.video_model, self.audio_model):
            for module in tower.modules():
                if isinstance(module, nn.Linear):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)
            for mlp in (tower.text_embedding, tower.time_embedding):
                for module in mlp.modules():
                    if isinstance(module, nn.Linear):
                        nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(tower.head.head.weight)
        # Wan initialises the video patch conv as the linear map it is; the audio convs keep PyTorch's init.
        nn.init.xavier_uniform_(self.video_model.patch_embedding.weight.flatten(1))
        # Ovi starts the video tower's fusion projections ten times smaller.
        for name, module in self.video_model.named_modules():
            if "fusion" in name and isinstance(module, nn.Linear):
                module.weight.div_(10)
                module.bias.div_(10)

    def embed(self, video: ModalityInput, audio: ModalityInput) -> tuple[TowerState, TowerState]:
        """Patchify both towers and compute their time, text and RoPE conditioning."""
        if video.latents.shape[0] != audio.latents.shape[0]:
            raise ValueError(
                f"video and audio batch sizes differ ({video.latents.shape[0]} vs {audio.latents.shape[0]})"
            )
        return self.video_model.embed(video, "video"), self.audio_model.embed(audio, "audio")

    def fused_block(self, index: int, video: TowerState, audio: TowerState) -> tuple[TowerState, TowerState]:
        """Run fused block `index` (checkpointed when gradient checkpointing is on)."""
        if torch.is_grad_enabled() and self.gradient_checkpointing:
            video_tokens, audio_tokens = self._gradient_checkpointing_func(
                self._fused_block, index, video, audio
            )
        else:
            video_tokens, audio_tokens = self._fused_block(index, video, audio)
        return replace(video, tokens=video_tokens), replace(audio, tokens=audio_tokens)

    def _fused_block(self, index: int, video: TowerState, audio: TowerState) -> tuple[Tensor, Tensor]:
        v_block, a_block = self.video_model.blocks[index], self.audio_model.blocks[index]
        v_mod, a_mod = v_block.modulation(video.time_proj), a_block.modulation(audio.time_proj)
        # 1. Self-attention, audio then video.
        audio = replace(audio, tokens=a_block.self_attention(audio.tokens, a_mod, audio.rope))
        video = replace(video, tokens=v_block.self_attention(video.tokens, v_mod, video.rope))
        # 2. Text + cross-modal attention and FFN; each tower reads the other right after its
        #    self-attention (the video tower reads audio before audio's cross step).
        a_tokens = a_block.cross_attention_and_ffn(audio.tokens, a_mod, audio, video)
        v_tokens = v_block.cross_attention_and_ffn(video.tokens, v_mod, video, audio)
        return v_tokens, a_tokens

    def unembed(self, video: TowerState, audio: TowerState) -> tuple[Tensor, Tensor]:
        """Heads and unpatchify: video (B, C, F, h, w), audio (B, L, C)."""
        return self.video_model.unembed(video), self.audio_model.unembed(audio)

    @torch.no_grad()
    def zero_fusion_values(self) -> None:
        """Start the cross-modal branch silent (its value projections zero), so each tower first learns its own
        modality and the other tower's tokens come in as they begin to carry something: at random the
        branch adds noise that slowed toybox-v1's audio tower (loss 0.78 fused against 0.19 unfused)."""
        for tower in (self.video_model, self.audio_model):
            for block in tower.blocks:
                if block.cross_attn.fusion:
                    nn.init.zeros_(block.cross_attn.v_fusion.weight)
                    nn.init.zeros_(block.cross_attn.v_fusion.bias)

    def forward(
        self, video: ModalityInput, audio: ModalityInput, *, skip_blocks: Sequence[int] = ()
    ) -> tuple[Tensor, Tensor]:
        """Predict both velocities.

        Args:
            video, audio: each tower's latents, text context and timestep (see `ModalityInput`).
            skip_blocks: fused blocks to skip in both towers (Ovi's skip-layer negative pass).

        Returns:
            video velocity (B, C, F, h, w) and audio velocity (B, L, C), in the weights' dtype.
        """
        skip = self._check_skip_blocks(skip_blocks)
        video_state, audio_state = self.embed(video, audio)
        for index in range(self.num_layers):
            if index not in skip:
                video_state, audio_state = self.fused_block(index, video_state, audio_state)
        video_out, audio_out = self.unembed(video_state, audio_state)
        if self.config.prediction_type == "sample":
            video_out = _velocity_from_sample(video.latents, video_out, video.timestep, frame_axis=2)
            audio_out = _velocity_from_sample(audio.latents, audio_out, audio.timestep, frame_axis=1)
        return video_out, audio_out

    def _check_skip_blocks(self, skip_blocks: Sequence[int]) -> frozenset[int]:
        try:
            skip = frozenset(operator.index(i) for i in skip_blocks)
        except TypeError:
            raise ValueError(f"skip_blocks must be block indices, got {skip_blocks!r}") from None
        bad = sorted(i for i in skip if not 0 <= i < self.num_layers)
        if bad:
            raise ValueError(f"skip_blocks {bad} out of range; blocks are 0..{self.num_layers - 1}")
        return skip
