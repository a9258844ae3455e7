"""Stage 1 (frame-group codec): the `FrameGroupAutoencoder` trained on groups of freshly rendered frames.

The recipe, and why:
- Every step renders new clips (about 15 ms each at 64×64), so the codec never sees a clip twice and cannot
  overfit a cache; a step takes `groups_per_clip` groups of each, some of them one still frame repeated
  (how a clip's first frame is coded).
- L1 on pixels (or, for a palette codec, cross-entropy on each pixel's colour), weighted `object_weight`
  times on pixels that are not the setting's two backdrop colours and on a one-pixel rim around them.
  Objects, toys and mouths are a few percent of the pixels and all of what the benchmark reads; unweighted, a short run learns the backdrop and blurs them away.
- The decoder is trained on latents plus noise of up to `latent_noise` times their spread, and a small L2
  keeps the latents from growing to drown that noise: the transformer's latents are never exact, and a
  decoder that only saw exact ones turns small errors into artefacts.
- At the end the per-channel latent statistics are measured on whole clips and stored in the codec's
  config; the pipeline normalises with them. A codec-only model folder (the codecs and the generation
  settings, no transformer) is written beside it so `duetto bench toybox --through-codecs` can gate it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from duetto.engine.models.video_codec import FrameGroupAutoencoder
from duetto.training.checkpoint import check_fresh_or_resume, load_checkpoint, save_checkpoint
from duetto.training.config import DataConfig, TrainConfig, VideoCodecModel, VideoCodecStage
from duetto.training.data import object_mask
from duetto.training.ddp import barrier, init_distributed, mean_over_ranks, unwrap, wrap
from duetto.training.loop import MetricsLog, StageResult, seed_everything_for_step, set_lr, step_generator
from duetto.world import vocab
from duetto.world.dataset import render_item

logger = logging.getLogger("duetto.training")
FINAL = "final"
#: Codec training renders clips from this index on, apart from the transformer's clips (its latent cache).
CODEC_CLIP_BASE = 1 << 40


def build_video_codec(m: VideoCodecModel) -> FrameGroupAutoencoder:
    return FrameGroupAutoencoder(
        frames_per_group=m.frames_per_group, patch_size=m.patch_size, block_out_channels=m.block_out_channels,
        latent_channels=m.latent_channels, layers_per_block=m.layers_per_block, frames_per_code=m.frames_per_code,
        palette=[list(colour) for colour in vocab.PALETTE] if m.palette else None,
    )


def load_matching_weights(codec: FrameGroupAutoencoder, folder: Path) -> list[str]:
    """Copy into `codec` every weight of the codec saved in `folder` that has the same name and shape; returns
    the names left as initialised (a new output layer, say)."""
    source = FrameGroupAutoencoder.from_pretrained(str(folder)).state_dict()
    own = codec.state_dict()
    kept = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    codec.load_state_dict(kept, strict=False)
    return sorted(set(own) - set(kept))


def render_params(data: DataConfig) -> dict:
    """What `render_item` needs to draw clip i of this data config."""
    return {"seed": data.seed, "width": data.width, "height": data.height, "fps": float(data.fps),
            "seconds": data.seconds, "sample_rate": data.sample_rate, "max_objects": data.max_objects,
            "allow_toys": data.allow_toys}  # fmt: skip


def to_unit(frames: np.ndarray | Tensor) -> Tensor:
    """uint8 (..., H, W, 3) → float in [-1, 1], channels before H."""
    x = torch.as_tensor(frames).float() / 127.5 - 1.0
    return x.movedim(-1, -3)


def face_mask(frames: np.ndarray) -> Tensor:
    """(H, W) bool: pixels showing a toy's eyes or mouth in any of `frames`, grown by one pixel."""
    face = np.zeros(frames.shape[1:3], bool)
    for colour in (vocab.EYE_BLACK, vocab.EYE_WHITE, vocab.MOUTH_COLOUR):
        face |= np.all(frames == np.asarray(colour, np.uint8), axis=-1).any(axis=0)
    return F.max_pool2d(torch.from_numpy(face).float()[None, None], 3, stride=1, padding=1)[0, 0] > 0


def moving_starts(frames: np.ndarray, f: int) -> np.ndarray:
    """Start frames of the groups of `f` frames in which some pixel changes."""
    changed = np.any(frames[1:] != frames[:-1], axis=(1, 2, 3))  # (T − 1,): frame t + 1 differs from t
    counts = np.convolve(changed.astype(int), np.ones(f - 1, int), mode="valid")  # changes inside [s, s + f)
    return np.flatnonzero(counts > 0)


def sample_groups(
    step: int, stage: VideoCodecStage, data: DataConfig, rank: int, world: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """This rank's batch: groups (N, F·3, H, W) in [-1, 1], folded as the codec folds them, and per-pixel loss
    weights (N, 1, H, W): `object_weight` on objects, `motion_weight` where the group changes, else 1."""
    f = stage.model.frames_per_group
    params = render_params(data)
    groups, weights = [], []
    for j in range(stage.clips_per_step):
        index = CODEC_CLIP_BASE + (step * world + rank) * stage.clips_per_step + j
        result = render_item(index, params)
        frames = result.clip.frames[: data.frames]
        mask = object_mask(frames)
        moving = moving_starts(frames, f)
        for _ in range(stage.groups_per_clip):
            still = float(torch.rand(1, generator=generator)) < stage.first_group_prob
            pool = moving if len(moving) and float(torch.rand(1, generator=generator)) < stage.moving_share else None
            start = (int(pool[int(torch.randint(len(pool), (1,), generator=generator))]) if pool is not None
                     else int(torch.randint(0, len(frames) - f + 1, (1,), generator=generator)))
            picked = [start] * f if still else list(range(start, start + f))
            groups.append(FrameGroupAutoencoder.fold(to_unit(frames[picked])[None])[0])  # (F·3, H, W)
            w = 1.0 + (stage.object_weight - 1.0) * torch.from_numpy(mask[picked].any(axis=0)).float()
            changes = torch.from_numpy(np.any(frames[picked] != frames[picked[0]], axis=(0, 3)))
            w = torch.maximum(w, changes.float() * stage.motion_weight)
            weights.append(torch.maximum(w, face_mask(frames[picked]).float() * stage.face_weight)[None])
    return torch.stack(groups), torch.stack(weights)


class CodecObjective(torch.nn.Module):
    """Encode, perturb, decode; the weighted reconstruction loss and the latent L2 as one differentiable
    forward (for DDP). Reconstruction is L1 on RGB, or for a palette codec cross-entropy on each pixel's
    colour."""

    def __init__(self, codec: FrameGroupAutoencoder, stage: VideoCodecStage) -> None:
        super().__init__()
        self.codec, self.stage = codec, stage

    def forward(self, groups: Tensor, weights: Tensor, noise: Tensor, level: Tensor) -> tuple[Tensor, Tensor]:
        z = self.codec.encode_groups(groups)
        spread = z.detach().std(dim=(0, 2, 3), keepdim=True)
        noisy = z + level.view(-1, 1, 1, 1) * spread * noise
        if self.codec.config.palette:
            scores = self.codec.decode_scores(noisy)  # (N, F, K, H, W)
            wanted = palette_indices(groups.unflatten(1, (scores.shape[1], 3)), self.codec.palette_colours)
            loss = F.cross_entropy(scores.flatten(0, 1), wanted.flatten(0, 1), reduction="none")  # (N·F, H, W)
            frame_weights = weights.expand(-1, scores.shape[1], -1, -1).flatten(0, 1)
            return (loss * frame_weights).sum() / frame_weights.sum(), z.pow(2).mean()
        out = self.codec.decode_groups(noisy)
        l1 = ((out - groups).abs() * weights).sum() / (weights.sum() * groups.shape[1])
        return l1, z.pow(2).mean()


def palette_indices(frames: Tensor, palette: Tensor) -> Tensor:
    """(..., 3, H, W) in [-1, 1] → (..., H, W): the index of each pixel's nearest palette colour (K, 3)."""
    distances = (frames.unsqueeze(-4) - palette.view(-1, 3, 1, 1).to(frames.dtype)).pow(2).sum(dim=-3)
    return distances.argmin(dim=-3)


def latent_statistics(codec: FrameGroupAutoencoder, data: DataConfig, count: int) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the latents of `count` whole clips (the first of the transformer's data)."""
    params = render_params(data)
    total = torch.zeros(codec.config.latent_channels, dtype=torch.float64)
    squares, n = torch.zeros_like(total), 0
    with torch.no_grad():
        for i in range(count):
            frames = render_item(i, params).clip.frames[: data.frames]
            video = to_unit(frames).movedim(0, 1)[None]  # (1, 3, T, H, W)
            z = codec.encode(video).latent_dist.mode().double().transpose(0, 1).flatten(1)  # (C, G·h·w)
            total += z.sum(1)
            squares += z.pow(2).sum(1)
            n += z.shape[1]
    mean = total / n
    return mean.tolist(), (squares / n - mean.pow(2)).clamp(min=1e-8).sqrt().tolist()


def train_video_codec(
    cfg: TrainConfig, run_dir: Path, *, resume: bool = False, stop_at: int | None = None
) -> StageResult:
    """Train (or resume) the frame-group codec; writes run_dir/video_codec/{checkpoint.pt, metrics.jsonl, final/}."""
    if cfg.video_codec is None:
        raise ValueError("this preset has no video_codec section; its video codec is `duetto train video-vae`")
    stage, folder = cfg.video_codec, Path(run_dir) / "video_codec"
    dist = init_distributed(cfg.device)
    check_fresh_or_resume(folder, resume)

    # 1. Model, optimiser, and the saved state when resuming.
    torch.manual_seed(cfg.seed)
    codec = build_video_codec(stage.model)
    if stage.init_from and not resume:
        fresh = load_matching_weights(codec, Path(stage.init_from))
        logger.info("video codec starts from %s; new: %s", stage.init_from, ", ".join(fresh) or "nothing")
    codec = codec.to(dist.device).train()
    optimizer = torch.optim.AdamW(codec.parameters(), lr=stage.lr, betas=stage.betas,
                                  weight_decay=stage.weight_decay)
    start = 0
    state = load_checkpoint(folder, dist.device) if resume else None
    if state is not None:
        codec.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    objective = wrap(CodecObjective(codec, stage), dist)
    log = MetricsLog(folder, dist, stage.log_every)
    folder.mkdir(parents=True, exist_ok=True)
    end = stage.steps if stop_at is None else min(stop_at, stage.steps)

    # 2. The loop: render, reconstruct, step.
    for step in range(start, end):
        seed_everything_for_step(cfg.seed, step, dist.rank)
        generator = step_generator(cfg.seed, step, dist.rank)
        groups, weights = sample_groups(step, stage, cfg.data, dist.rank, dist.world_size, generator)
        cells = [size // stage.model.spatial_factor for size in groups.shape[2:]]
        noise = torch.randn(groups.shape[0], stage.model.latent_channels, *cells, generator=generator)
        level = torch.rand(groups.shape[0], generator=generator) * stage.latent_noise
        set_lr(optimizer, step, stage)
        recon, l2 = objective(groups.to(dist.device), weights.to(dist.device), noise.to(dist.device),
                              level.to(dist.device))
        loss = recon + stage.latent_l2 * l2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(codec.parameters(), stage.grad_clip)
        optimizer.step()
        log.record(step, float(mean_over_ranks(loss.detach(), dist)), grad_norm=float(grad_norm),
                   reconstruction=float(recon.detach()), latent_l2=float(l2.detach()))
        if dist.is_main and ((step + 1) % stage.ckpt_every == 0 or step + 1 == end):
            save_checkpoint(folder, {"step": step + 1, "model": codec.state_dict(),
                                     "optimizer": optimizer.state_dict()})

    # 3. Done: the latent statistics the pipeline normalises with, then the codec (rank 0 saves).
    if end == stage.steps:
        codec.eval()
        mean, std = latent_statistics(codec, cfg.data, stage.stats_clips)
        codec.register_to_config(latents_mean=mean, latents_std=std)
        if dist.is_main:
            unwrap(objective).codec.save_pretrained(str(folder / FINAL), safe_serialization=True)
            logger.info("video codec saved to %s (latent std %s)", folder / FINAL, [round(s, 3) for s in std])
    barrier(dist)
    return StageResult(log.losses, {"vae": codec})
