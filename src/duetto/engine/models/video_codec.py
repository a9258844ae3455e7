"""A frame-group autoencoder: each group of frames folded into channels and coded by a small 2-D conv net.

Toybox pictures are flat colours, and what the benchmark reads from them (an object's colour, size and
track, a mouth's opening) lives in a few pixels per frame. A causal 3-D VAE spends its capacity on
temporal convolutions whose receptive field outgrows any training crop; this codec instead codes every
group of `frames_per_group` frames on its own: the frames are stacked on the channel axis, `patch_size`
× `patch_size` pixels are folded into channels, and a 2-D conv net maps the result to one latent cell
per `scale_factor_spatial` pixels. Groups are independent, so training needs only single groups, and a
clip of 1 + k·F frames (the causal layout the pipeline and Ovi share) is coded as its first frame
repeated F times, then k groups.

The interface is the part of diffusers' `AutoencoderKLWan` the pipeline uses: `encode(x).latent_dist
.mode()`, `decode(z).sample`, `config.scale_factor_temporal`, `config.scale_factor_spatial`,
`config.latents_mean` and `config.latents_std` (per-channel statistics the pipeline normalises with).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import Tensor, nn


@dataclass
class DeterministicLatents:
    """The encoder's output in the shape diffusers' posteriors have: `mode()` and `sample()` are the latents."""

    latents: Tensor

    def mode(self) -> Tensor:
        return self.latents

    def sample(self, generator: torch.Generator | None = None) -> Tensor:
        return self.latents


@dataclass
class EncoderOutput:
    latent_dist: DeterministicLatents


@dataclass
class DecoderOutput:
    sample: Tensor


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, twice, plus the input (a 1×1 conv when the width changes)."""

    def __init__(self, channels_in: int, channels_out: int, groups: int = 8) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class GroupEncoder(nn.Module):
    """(N, F·3, H, W) → (N, z, H / s, W / s): pixel folding, then a ResBlock and a strided conv per level."""

    def __init__(self, in_channels: int, widths: Sequence[int], latent_channels: int, layers: int) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        blocks: list[nn.Module] = []
        for level, width in enumerate(widths):
            blocks += [ResBlock(width, width) for _ in range(layers)]
            if level + 1 < len(widths):
                blocks.append(nn.Conv2d(width, widths[level + 1], 3, stride=2, padding=1))
        self.blocks = nn.Sequential(*blocks)
        self.norm_out = nn.GroupNorm(8, widths[-1])
        self.conv_out = nn.Conv2d(widths[-1], latent_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(F.silu(self.norm_out(self.blocks(self.conv_in(x)))))


class GroupDecoder(nn.Module):
    """(N, z, h, w) → (N, F·3·p², H / p, W / p): the encoder's mirror, upsampling by nearest + conv."""

    def __init__(self, out_channels: int, widths: Sequence[int], latent_channels: int, layers: int) -> None:
        super().__init__()
        widths = list(reversed(widths))
        self.conv_in = nn.Conv2d(latent_channels, widths[0], 3, padding=1)
        blocks: list[nn.Module] = []
        for level, width in enumerate(widths):
            # One block more than the encoder per level: decoding is the harder direction.
            blocks += [ResBlock(width, width) for _ in range(layers + 1)]
            if level + 1 < len(widths):
                blocks += [nn.Upsample(scale_factor=2, mode="nearest"),
                           nn.Conv2d(width, widths[level + 1], 3, padding=1)]
        self.blocks = nn.Sequential(*blocks)
        self.norm_out = nn.GroupNorm(8, widths[-1])
        self.conv_out = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        return self.conv_out(F.silu(self.norm_out(self.blocks(self.conv_in(z)))))


class FrameGroupAutoencoder(ModelMixin, ConfigMixin):
    """Video (B, 3, 1 + k·F, H, W) in [-1, 1] ↔ latents (B, z, 1 + k, H / s, W / s), s = p · 2^(levels − 1).

    Args:
        frames_per_group: F, frames folded into one latent frame (the pipeline's temporal stride).
        patch_size: p, pixels folded into channels on each side before the first conv.
        block_out_channels: widths of the conv levels; each level after the first halves the size.
        latent_channels: z, channels per latent cell.
        layers_per_block: ResBlocks per level in the encoder (the decoder has one more).
        frames_per_code: how many of a group's frames the conv net codes at once; F (the default) codes the
            group as one image of F·3 channels, 1 codes each frame on its own and stacks their z / F latent
            channels. Trained on CPU budgets, a net that sees four frames at once learnt to repeat their
            average four times (motion is rare in Toybox groups: objects rest, toys stand); a net that sees one
            frame cannot, and the transformer still reads four frames per latent frame.
        palette: the RGB colours (0-255) a frame is made of, when it is made of a known few (Toybox renders
            are flat colours from 17). The decoder then gives each pixel a score per colour and draws the
            best-scoring one, trained as classification: edges come out as sharp as the colours are exact,
            where regressing RGB averaged a small box and a small ball into the same rounded blob.
        latents_mean, latents_std: per-channel statistics of the latents over training data, written
            once training ends; the pipeline normalises latents with them, as it does Wan's.
        scale_factor_temporal, scale_factor_spatial: what Wan's config calls the strides; derived from the
            arguments above (F and s) and checked against them when a saved config states them.
    """

    _supports_gradient_checkpointing = False

    @register_to_config
    def __init__(
        self,
        frames_per_group: int = 4,
        patch_size: int = 2,
        block_out_channels: Sequence[int] = (64, 96, 128),
        latent_channels: int = 16,
        layers_per_block: int = 1,
        frames_per_code: int | None = None,
        palette: Sequence[Sequence[int]] | None = None,
        latents_mean: Sequence[float] | None = None,
        latents_std: Sequence[float] | None = None,
        scale_factor_temporal: int | None = None,
        scale_factor_spatial: int | None = None,
    ) -> None:
        super().__init__()
        if frames_per_group < 1 or patch_size < 1 or not block_out_channels:
            raise ValueError("frames_per_group and patch_size must be positive and block_out_channels non-empty")
        spatial = patch_size * 2 ** (len(block_out_channels) - 1)
        if scale_factor_temporal not in (None, frames_per_group) or scale_factor_spatial not in (None, spatial):
            raise ValueError(f"the codec's strides are {frames_per_group} in time and {spatial} in space, "
                             f"not {scale_factor_temporal} and {scale_factor_spatial}")
        per_code = frames_per_group if frames_per_code is None else frames_per_code
        if per_code < 1 or frames_per_group % per_code or latent_channels % (frames_per_group // per_code):
            raise ValueError("frames_per_code must divide frames_per_group, and their ratio latent_channels")
        self.codes_per_group = frames_per_group // per_code
        folded = 3 * per_code * patch_size**2
        code_channels = latent_channels // self.codes_per_group
        outputs = (len(palette) if palette else 3) * per_code * patch_size**2
        self.encoder = GroupEncoder(folded, block_out_channels, code_channels, layers_per_block)
        self.decoder = GroupDecoder(outputs, block_out_channels, code_channels, layers_per_block)
        if palette:  # (K, 3) in [-1, 1], the colour drawn for each score
            self.register_buffer("palette_colours", torch.tensor(palette, dtype=torch.float32) / 127.5 - 1.0,
                                 persistent=False)
        self.register_to_config(
            scale_factor_temporal=frames_per_group,
            scale_factor_spatial=spatial,
            latents_mean=list(latents_mean) if latents_mean is not None else [0.0] * latent_channels,
            latents_std=list(latents_std) if latents_std is not None else [1.0] * latent_channels,
        )

    # -- folding ----------------------------------------------------------------------------------------
    def groups(self, video: Tensor) -> Tensor:
        """(B, 3, 1 + k·F, H, W) → (B·(1 + k), F·3, H, W): the first frame repeated F times, then each group,
        frame by frame on the channel axis (see `fold`)."""
        f = self.config.frames_per_group
        b, c, t, h, w = video.shape
        if (t - 1) % f:
            raise ValueError(f"the codec takes 1 + k·{f} frames, got {t}")
        first = video[:, :, :1].expand(b, c, f, h, w)
        video = torch.cat([first, video[:, :, 1:]], dim=2)  # (B, 3, (1 + k)·F, H, W)
        grouped = video.unflatten(2, (-1, f)).permute(0, 2, 3, 1, 4, 5)  # (B, G, F, 3, H, W)
        return self.fold(grouped.flatten(0, 1))

    @staticmethod
    def fold(frames: Tensor) -> Tensor:
        """(N, F, 3, H, W) → (N, F·3, H, W): a group's frames stacked on the channel axis, frame by frame."""
        return frames.flatten(1, 2)

    def ungroup(self, frames: Tensor, batch: int) -> Tensor:
        """(B·G, F·3, H, W) → (B, 3, 1 + (G − 1)·F, H, W): the first group stands for frame 0 alone."""
        f = self.config.frames_per_group
        n, _, h, w = frames.shape
        video = frames.reshape(batch, n // batch, f, 3, h, w).permute(0, 3, 1, 2, 4, 5).flatten(2, 3)
        return video[:, :, f - 1:]  # the first group's last frame is frame 0

    def encode_groups(self, groups: Tensor) -> Tensor:
        """(N, F·3, H, W) → (N, z, h, w): each code's channels, code after code."""
        n = groups.shape[0]
        codes = groups.unflatten(1, (self.codes_per_group, -1)).flatten(0, 1)  # (N·codes, F/codes·3, H, W)
        return self.encoder(F.pixel_unshuffle(codes, self.config.patch_size)).unflatten(0, (n, -1)).flatten(1, 2)

    def decode_groups(self, latents: Tensor) -> Tensor:
        """(N, z, h, w) → (N, F·3, H, W): RGB (unclamped), or with a palette each pixel's best colour."""
        if not self.config.palette:
            n = latents.shape[0]
            codes = latents.unflatten(1, (self.codes_per_group, -1)).flatten(0, 1)
            frames = F.pixel_shuffle(self.decoder(codes), self.config.patch_size)
            return frames.unflatten(0, (n, -1)).flatten(1, 2)
        best = self.decode_scores(latents).argmax(dim=2)  # (N, F, H, W)
        colours = self.palette_colours.to(latents.dtype)[best]  # (N, F, H, W, 3)
        return colours.permute(0, 1, 4, 2, 3).flatten(1, 2)

    def decode_scores(self, latents: Tensor) -> Tensor:
        """(N, z, h, w) → (N, F, K, H, W): each pixel's score for each palette colour (palette codecs only)."""
        n, f, k = latents.shape[0], self.config.frames_per_group, len(self.config.palette)
        codes = latents.unflatten(1, (self.codes_per_group, -1)).flatten(0, 1)
        scores = F.pixel_shuffle(self.decoder(codes), self.config.patch_size)  # (N·codes, F/codes·K, H, W)
        return scores.reshape(n, f, k, *scores.shape[2:])

    # -- the pipeline's interface -----------------------------------------------------------------------
    def encode(self, video: Tensor) -> EncoderOutput:
        b = video.shape[0]
        z = self.encode_groups(self.groups(video.to(self.dtype)))  # (B·G, z, h, w)
        z = z.unflatten(0, (b, -1)).transpose(1, 2)  # (B, z, G, h, w)
        return EncoderOutput(DeterministicLatents(z))

    def decode(self, latents: Tensor) -> DecoderOutput:
        b = latents.shape[0]
        groups = latents.to(self.dtype).transpose(1, 2).flatten(0, 1)  # (B·G, z, h, w)
        return DecoderOutput(self.ungroup(self.decode_groups(groups), b))
