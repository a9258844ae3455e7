"""Stage 1: the video VAE (diffusers `AutoencoderKLWan` at a small size) trained on Toybox frames.

Loss: L1 on pixels (Toybox is flat colours with hard edges, which L1 keeps sharp where L2 blurs), an optional
L2 term, and a KL term per pixel small enough (1e-6, Stable Diffusion's VAE weight) to keep the latent
smooth without costing detail. No GAN or perceptual loss: there is no pretrained network to measure
perception with, and flat synthetic frames reconstruct well without one. At the end the per-channel latent
mean and std are measured and stored in the VAE config, which is how the pipeline normalises latents.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan
from torch import Tensor, nn

from duetto.training.checkpoint import check_fresh_or_resume, load_checkpoint, save_checkpoint
from duetto.training.config import VIDEO_FRAME_STRIDE, TrainConfig, VideoVAEModel, VideoVAEStage
from duetto.training.data import ToyboxClips, collate, step_loader
from duetto.training.ddp import barrier, init_distributed, mean_over_ranks, unwrap, wrap
from duetto.training.loop import (
    MetricsLog,
    StageResult,
    autocast,
    seed_everything_for_step,
    set_lr,
    step_generator,
)

logger = logging.getLogger("duetto.training")
FINAL = "final"


def build_video_vae(m: VideoVAEModel) -> AutoencoderKLWan:
    """A fresh VAE; with patch_size p the first conv sees 3·p² channels (p×p pixels folded in)."""
    channels = 3 * (m.patch_size or 1) ** 2
    return AutoencoderKLWan(
        base_dim=m.base_dim, decoder_base_dim=m.decoder_base_dim, z_dim=m.z_dim, dim_mult=list(m.dim_mult),
        num_res_blocks=m.num_res_blocks, temperal_downsample=list(m.temporal_downsample),
        latents_mean=[0.0] * m.z_dim, latents_std=[1.0] * m.z_dim, in_channels=channels, out_channels=channels,
        patch_size=m.patch_size, scale_factor_temporal=VIDEO_FRAME_STRIDE, scale_factor_spatial=m.spatial_factor,
    )  # fmt: skip


class VideoVAEObjective(nn.Module):
    """Encode → sample the posterior → decode in one forward, so DDP sees every gradient in one pass."""

    def __init__(self, vae: AutoencoderKLWan, sample_posterior: bool = True) -> None:
        super().__init__()
        self.vae = vae
        self.sample_posterior = sample_posterior

    def forward(self, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        posterior = self.vae.encode(x).latent_dist
        z = posterior.mean
        if self.sample_posterior:
            noise = torch.randn(posterior.mean.shape, generator=generator).to(x.device, posterior.mean.dtype)
            z = z + posterior.std * noise
        return self.vae.decode(z).sample, posterior.mean, posterior.logvar


def to_video_tensor(frames: Tensor) -> Tensor:
    """uint8 (B, T, H, W, 3) → float (B, 3, T, H, W) in [-1, 1], as the pipeline feeds the VAE."""
    return frames.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def random_crops(frames: Tensor, clip_frames: int, crop: int, generator: torch.Generator) -> Tensor:
    """One random (time, y, x) window per clip: (B, T, H, W, 3) → (B, clip_frames, crop, crop, 3)."""
    b, t, h, w, _ = frames.shape
    out = []
    for i in range(b):
        t0 = int(torch.randint(0, t - clip_frames + 1, (1,), generator=generator))
        y0 = int(torch.randint(0, h - crop + 1, (1,), generator=generator))
        x0 = int(torch.randint(0, w - crop + 1, (1,), generator=generator))
        out.append(frames[i, t0 : t0 + clip_frames, y0 : y0 + crop, x0 : x0 + crop])
    return torch.stack(out)


def video_vae_loss(
    objective: nn.Module, frames: Tensor, stage: VideoVAEStage, generator: torch.Generator
) -> tuple[Tensor, dict[str, float]]:
    """L1 (+ L2) reconstruction plus KL per pixel, on uint8 frames (B, T, H, W, 3)."""
    x = to_video_tensor(frames)
    recon, mean, logvar = objective(x, generator)
    err = recon.float() - x
    l1, l2 = err.abs().mean(), err.pow(2).mean()
    kl = 0.5 * (mean.float().pow(2) + logvar.float().exp() - 1.0 - logvar.float()).sum() / x.numel()
    loss = l1 + stage.l2_weight * l2 + stage.kl_weight * kl
    return loss, {"l1": float(l1.detach()), "l2": float(l2.detach()), "kl": float(kl.detach())}


@torch.no_grad()
def latent_statistics(
    vae: AutoencoderKLWan, dataset: ToyboxClips, count: int, device: torch.device
) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the posterior means of the first `count` clips (whole clips)."""
    total = torch.zeros(vae.config.z_dim, dtype=torch.float64)
    squares = torch.zeros_like(total)
    n = 0
    for i in range(min(count, len(dataset))):
        x = to_video_tensor(collate([dataset[i]])["frames"]).to(device)
        z = vae.encode(x).latent_dist.mode().double().cpu().transpose(0, 1).flatten(1)  # (C, F·h·w)
        total += z.sum(1)
        squares += z.pow(2).sum(1)
        n += z.shape[1]
    mean = total / n
    std = (squares / n - mean.pow(2)).clamp(min=1e-8).sqrt()
    return mean.tolist(), std.tolist()


def train_video_vae(
    cfg: TrainConfig, run_dir: Path, *, resume: bool = False, stop_at: int | None = None
) -> StageResult:
    """Train (or resume) the video VAE; writes run_dir/video_vae/{checkpoint.pt, metrics.jsonl, final/}.

    `stop_at` ends the loop early at that step, as an interruption would (the learning-rate schedule still
    follows `steps`).
    """
    stage, folder = cfg.video_vae, Path(run_dir) / "video_vae"
    dist = init_distributed(cfg.device)
    check_fresh_or_resume(folder, resume)

    # 1. Model, optimiser, and the saved state when resuming.
    torch.manual_seed(cfg.seed)
    vae = build_video_vae(stage.model).to(dist.device).train()
    optimizer = torch.optim.AdamW(
        vae.parameters(), lr=stage.lr, betas=stage.betas, weight_decay=stage.weight_decay
    )
    start = 0
    state = load_checkpoint(folder, dist.device) if resume else None
    if state is not None:
        vae.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    objective = wrap(VideoVAEObjective(vae, stage.sample_posterior), dist)
    dataset = ToyboxClips(cfg.data)
    log = MetricsLog(folder, dist, stage.log_every)
    folder.mkdir(parents=True, exist_ok=True)
    end = stage.steps if stop_at is None else min(stop_at, stage.steps)

    # 2. The loop: crop, reconstruct, step.
    batches = step_loader(dataset, stage.batch_size, cfg.seed + 1, dist, start, end)
    for step, batch in zip(range(start, end), batches, strict=True):
        seed_everything_for_step(cfg.seed, step, dist.rank)
        generator = step_generator(cfg.seed, step, dist.rank)
        frames = random_crops(batch["frames"], stage.clip_frames, stage.crop, generator).to(dist.device)
        set_lr(optimizer, step, stage)
        with autocast(dist.device, cfg.precision):
            loss, parts = video_vae_loss(objective, frames, stage, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(vae.parameters(), stage.grad_clip)
        optimizer.step()
        log.record(step, float(mean_over_ranks(loss.detach(), dist)), grad_norm=float(grad_norm), **parts)
        if dist.is_main and ((step + 1) % stage.ckpt_every == 0 or step + 1 == end):
            save_checkpoint(
                folder, {"step": step + 1, "model": vae.state_dict(), "optimizer": optimizer.state_dict()}
            )

    # 3. Done: measure the latent statistics the pipeline normalises with (every rank, so all end alike),
    #    and save the VAE.
    if end == stage.steps:
        vae.eval()
        mean, std = latent_statistics(vae, dataset, stage.stats_clips, dist.device)
        vae.register_to_config(latents_mean=mean, latents_std=std)
        if dist.is_main:
            unwrap(objective).vae.save_pretrained(str(folder / FINAL), safe_serialization=True)
            logger.info("video VAE saved to %s (latent std %s)", folder / FINAL, [round(s, 3) for s in std])
    barrier(dist)
    return StageResult(log.losses, {"vae": vae})
