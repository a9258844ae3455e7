"""Stage 2: the audio VAE (log-mel ↔ latents) and the vocoder (log-mel → waveform), trained side by side.

Audio VAE: L1 between normalised mels plus a small KL (the recipe its docstring gives), Adam with EDM2's
per-fan-in rates. At the end its latents are scaled to unit std by the encoder's output gain: the decoder
starts with a per-frame pixel norm, so it does not notice, and the transformer gets latents on the same
scale as the video's.

Vocoder: mel L1 plus a multi-resolution STFT loss (spectral convergence + log magnitude at three window
sizes), trained on ground-truth mels. No GAN: BigVGAN's discriminators would cost more compute than the
small generator itself and double the memory, for a gain (less phase buzz on noisy textures) that matters
little for Toybox's damped partials, filtered noise and formant voices; the mel and STFT terms already pin
the spectrum at every resolution the evaluator listens to.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch
from torch import Tensor

from duetto.engine.audio_features import LogMelSpectrogram
from duetto.engine.models.audio_vae import AudioVAE, MPConv1d, unit_filters
from duetto.engine.models.vocoder import BigVGANVocoder
from duetto.training.checkpoint import check_fresh_or_resume, load_checkpoint, save_checkpoint
from duetto.training.config import MEL_HOP, AudioStage, AudioVAEModel, TrainConfig, VocoderModel
from duetto.training.data import ToyboxClips, step_loader
from duetto.training.ddp import barrier, init_distributed, mean_over_ranks, wrap
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
STFT_RESOLUTIONS = ((256, 64, 256), (512, 128, 512), (1024, 256, 1024))  # (n_fft, hop, window) at 16 kHz
# The log-mel front end's floor: quieter than this is silence, and the log-magnitude term should not
# chase the exact noise floor of a silent Toybox room.
_STFT_FLOOR = 1e-5


def build_audio_vae(m: AudioVAEModel) -> AudioVAE:
    return AudioVAE(
        data_dim=80,
        embed_dim=m.embed_dim,
        hidden_dim=m.hidden_dim,
        ch_mult=tuple(m.ch_mult),
        num_res_blocks=m.num_res_blocks,
        attn_layers=(),
        down_layers=(0,),
        kernel_size=m.kernel_size,
    )


def build_vocoder(m: VocoderModel) -> BigVGANVocoder:
    return BigVGANVocoder(
        num_mels=80, upsample_rates=tuple(m.upsample_rates), upsample_kernel_sizes=tuple(m.upsample_kernel_sizes),
        upsample_initial_channel=m.upsample_initial_channel, resblock=m.resblock,
        resblock_kernel_sizes=tuple(m.resblock_kernel_sizes),
        resblock_dilation_sizes=tuple(tuple(d) for d in m.resblock_dilation_sizes),
    )  # fmt: skip


def log_mel(sample_rate: int) -> LogMelSpectrogram:
    """The front end the pipeline uses (80 bins, hop 256)."""
    return LogMelSpectrogram(sample_rate=sample_rate, hop_length=MEL_HOP)


def multi_resolution_stft_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean over resolutions of spectral convergence + L1 of log magnitudes; waveforms (B, S)."""
    total = pred.new_zeros(())
    for n_fft, hop, win in STFT_RESOLUTIONS:
        window = torch.hann_window(win, device=pred.device)
        spec = [
            torch.stft(x, n_fft, hop, win, window, return_complex=True).abs().clamp(min=_STFT_FLOOR)
            for x in (pred, target)
        ]
        convergence = torch.linalg.norm(spec[1] - spec[0]) / torch.linalg.norm(spec[1])
        total = total + convergence + (spec[1].log() - spec[0].log()).abs().mean()
    return total / len(STFT_RESOLUTIONS)


def audio_vae_loss(
    vae: torch.nn.Module, mel: Tensor, stage: AudioStage, generator: torch.Generator
) -> tuple[Tensor, dict[str, float]]:
    """L1 between normalised mels + kl_weight × KL per latent element; mel (B, 80, T)."""
    out = vae(mel, generator=generator)
    inner = vae.module if hasattr(vae, "module") else vae
    rec = (inner.normalize_mel(out.sample.float()) - inner.normalize_mel(mel)).abs().mean()
    kl = AudioVAE.kl_divergence(out.mean.float(), out.logvar.float()).mean() / out.mean[0].numel()
    return rec + stage.kl_weight * kl, {"mel_rec": float(rec.detach()), "kl": float(kl.detach())}


def vocoder_loss(
    vocoder: torch.nn.Module, mel_fn: LogMelSpectrogram, wav: Tensor, stage: AudioStage
) -> tuple[Tensor, dict[str, float]]:
    """Mel L1 + multi-resolution STFT between the vocoded and the real waveform (B, S)."""
    mel = mel_fn(wav)
    pred = vocoder(mel)[:, 0].float()
    mel_l1 = (mel_fn(pred) - mel).abs().mean()
    stft = multi_resolution_stft_loss(pred, wav)
    return stage.mel_weight * mel_l1 + stage.stft_weight * stft, {
        "voc_mel": float(mel_l1.detach()),
        "voc_stft": float(stft.detach()),
    }


def random_segments(audio: Tensor, length: int, generator: torch.Generator) -> Tensor:
    """One random window of `length` samples per clip: (B, S) → (B, length)."""
    starts = torch.randint(0, audio.shape[1] - length + 1, (audio.shape[0],), generator=generator)
    return torch.stack([a[s : s + length] for a, s in zip(audio, starts.tolist(), strict=True)])


@torch.no_grad()
def mel_statistics(dataset: ToyboxClips, mel_fn: LogMelSpectrogram, count: int) -> tuple[Tensor, Tensor]:
    """Per-bin mean and std (1, 80, 1) of the log-mels of the first `count` clips."""
    mels = torch.cat([mel_fn(dataset[i]["audio"][None])[0] for i in range(min(count, len(dataset)))], dim=1)
    return mels.mean(dim=1).view(1, -1, 1), mels.std(dim=1).clamp(min=1e-3).view(1, -1, 1)


@torch.no_grad()
def normalize_latent_scale(
    vae: AudioVAE, dataset: ToyboxClips, mel_fn: LogMelSpectrogram, count: int, device: torch.device
) -> float:
    """Scale the encoder's output gain so the latents of the first `count` clips have unit std; returns the old std."""
    latents = torch.cat(
        [
            vae.encode(mel_fn(dataset[i]["audio"][None]).to(device)).float().cpu()
            for i in range(min(count, len(dataset)))
        ],
        dim=2,
    )  # (1, C, sum L)
    std = float(latents.std())
    gain = vae.encoder.learnable_gain
    gain.copy_((gain + 1) / std - 1)
    return std


@torch.no_grad()
def finalize_mp_weights(vae: AudioVAE) -> None:
    """In training, each MP convolution normalises its weight before use, so the optimiser's last update is
    not yet normalised; eval mode uses the stored weight as is, so normalise it once before saving."""
    for module in vae.modules():
        if isinstance(module, MPConv1d):
            module.weight.copy_(unit_filters(module.weight))


def optimizer_step(
    optimizer: torch.optim.Optimizer, loss: Tensor, model: torch.nn.Module, grad_clip: float
) -> None:
    """One optimiser step on `loss`, its gradients clipped to norm `grad_clip` (both stages' loops)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()


def _fresh_models(
    stage: AudioStage, dataset: ToyboxClips, mel_fn: LogMelSpectrogram, device: torch.device
) -> tuple[AudioVAE, BigVGANVocoder]:
    """A new audio VAE, which normalises mels with the data's per-bin statistics, and a new vocoder with
    weight norm, both on `device` in training mode."""
    vae = build_audio_vae(stage.audio_vae)
    mean, std = mel_statistics(dataset, mel_fn, stage.stats_clips)
    vae.data_mean.copy_(mean)
    vae.data_std.copy_(std)
    vae = vae.to(device).train()
    vocoder = build_vocoder(stage.vocoder).apply_weight_norm().to(device).train()
    return vae, vocoder


def _load_state(
    folder: Path,
    device: torch.device,
    vae: AudioVAE,
    vocoder: BigVGANVocoder,
    vae_opt: torch.optim.Optimizer,
    voc_opt: torch.optim.Optimizer,
) -> int:
    """Load the stage's checkpoint, if it has one, into the models and optimisers; the step it reached (0
    without one)."""
    state = load_checkpoint(folder, device)
    if state is None:
        return 0
    vae.load_state_dict(state["audio_vae"])
    vocoder.load_state_dict(state["vocoder"])
    vae_opt.load_state_dict(state["vae_optimizer"])
    voc_opt.load_state_dict(state["vocoder_optimizer"])
    return state["step"]


def _checkpoint(
    step: int,
    vae: AudioVAE,
    vocoder: BigVGANVocoder,
    vae_opt: torch.optim.Optimizer,
    voc_opt: torch.optim.Optimizer,
) -> dict:
    return {
        "step": step,
        "audio_vae": vae.state_dict(),
        "vocoder": vocoder.state_dict(),
        "vae_optimizer": vae_opt.state_dict(),
        "vocoder_optimizer": voc_opt.state_dict(),
    }


def train_audio(
    cfg: TrainConfig, run_dir: Path, *, resume: bool = False, stop_at: int | None = None
) -> StageResult:
    """Train (or resume) the audio VAE and the vocoder; writes run_dir/audio/{checkpoint.pt, final/{audio_vae,vocoder}}.

    The recorded loss of a step is the sum of the audio VAE's and the vocoder's.
    """
    stage, folder = cfg.audio, Path(run_dir) / "audio"
    dist = init_distributed(cfg.device)
    check_fresh_or_resume(folder, resume)
    dataset = ToyboxClips(cfg.data)
    mel_fn = log_mel(cfg.data.sample_rate)

    # 1. Models, seeded, so a fresh run starts from the same weights every time.
    torch.manual_seed(cfg.seed)
    vae, vocoder = _fresh_models(stage, dataset, mel_fn, dist.device)
    mel_fn = mel_fn.to(dist.device)

    # 2. Optimisers, and the step training stands at: 0, or the checkpoint's when resuming.
    vae_opt = torch.optim.Adam(vae.parameter_groups(stage.lr), betas=stage.betas)
    voc_opt = torch.optim.AdamW(
        vocoder.parameters(), lr=stage.vocoder_lr, betas=(0.8, 0.99), weight_decay=stage.weight_decay
    )
    start = _load_state(folder, dist.device, vae, vocoder, vae_opt, voc_opt) if resume else 0
    vae_ddp, voc_ddp = wrap(vae, dist), wrap(vocoder, dist)
    log = MetricsLog(folder, dist, stage.log_every)
    folder.mkdir(parents=True, exist_ok=True)
    end = stage.steps if stop_at is None else min(stop_at, stage.steps)

    # 3. The loop: one random window per clip; the VAE reconstructs its mel, the vocoder its first part.
    batches = step_loader(dataset, stage.batch_size, cfg.seed + 2, dist, start, end)
    for step, batch in zip(range(start, end), batches, strict=True):
        seed_everything_for_step(cfg.seed, step, dist.rank)
        generator = step_generator(cfg.seed, step, dist.rank)
        wav = random_segments(batch["audio"], stage.segment_samples, generator).to(dist.device)
        set_lr(vae_opt, step, stage)
        set_lr(voc_opt, step, stage)
        with autocast(dist.device, cfg.precision):
            # The posterior noise is drawn where the VAE runs, so its generator lives there too.
            posterior_gen = step_generator(cfg.seed, step, dist.rank, stream=1, device=dist.device)
            vae_loss, vae_parts = audio_vae_loss(vae_ddp, mel_fn(wav), stage, posterior_gen)
            voc_loss, voc_parts = vocoder_loss(
                voc_ddp, mel_fn, wav[:, : stage.vocoder_segment_samples], stage
            )
        optimizer_step(vae_opt, vae_loss, vae, stage.grad_clip)
        optimizer_step(voc_opt, voc_loss, vocoder, stage.grad_clip)
        total = mean_over_ranks((vae_loss + voc_loss).detach(), dist)
        log.record(step, float(total), **vae_parts, **voc_parts)
        if dist.is_main and ((step + 1) % stage.ckpt_every == 0 or step + 1 == end):
            save_checkpoint(folder, _checkpoint(step + 1, vae, vocoder, vae_opt, voc_opt))

    # 4. Done (on every rank, so all end alike): normalised MP weights, unit-std latents, plain
    #    (un-parametrised) vocoder weights; rank 0 saves both.
    if end == stage.steps:
        vae.eval()
        finalize_mp_weights(vae)
        std = normalize_latent_scale(vae, dataset, mel_fn, stage.stats_clips, dist.device)
        vocoder.eval().remove_weight_norm()
        if dist.is_main:
            vae.save_pretrained(str(folder / FINAL / "audio_vae"), safe_serialization=True)
            vocoder.save_pretrained(str(folder / FINAL / "vocoder"), safe_serialization=True)
            logger.info("audio VAE (latent std was %.3f) and vocoder saved to %s", std, folder / FINAL)
    barrier(dist)
    return StageResult(log.losses, {"audio_vae": vae, "vocoder": vocoder})


def finetune_vocoder(cfg: TrainConfig, run_dir: Path, *, steps: int, lr: float) -> StageResult:
    """Go on training the finished vocoder alone, in place (run_dir/audio/final/vocoder).

    The vocoder is the slowest part of the audio stage to converge, and nothing downstream depends on its
    weights: the latent cache and the transformer see only the audio VAE, which stays as it is. So a run
    whose vocoder came out thin can give it more steps while the transformer trains. The learning rate
    warms up over 5 % of the steps, then follows a cosine to a tenth of its peak (audio.min_lr_ratio).
    """
    stage, target = cfg.audio, Path(run_dir) / "audio" / FINAL / "vocoder"
    if not (target / "config.json").is_file():
        raise ValueError(f"no finished vocoder in {target}; run `duetto train audio` with this --out first")
    if steps < 1 or lr <= 0:
        raise ValueError("--steps must be at least 1 and --lr positive")
    dist = init_distributed(cfg.device)
    dataset = ToyboxClips(cfg.data)
    mel_fn = log_mel(cfg.data.sample_rate).to(dist.device)
    vocoder = BigVGANVocoder.from_pretrained(str(target)).apply_weight_norm().to(dist.device).train()
    voc_ddp = wrap(vocoder, dist)
    optimizer = torch.optim.AdamW(vocoder.parameters(), lr=lr, betas=(0.8, 0.99), weight_decay=stage.weight_decay)
    schedule = stage.model_copy(update={"steps": steps, "warmup_steps": max(1, steps // 20)})
    log_folder = Path(run_dir) / "audio" / "vocoder_finetune"
    log_folder.mkdir(parents=True, exist_ok=True)
    log = MetricsLog(log_folder, dist, stage.log_every)
    # Batches other than the audio stage's: a different seed offset walks the clips in a new order.
    batches = step_loader(dataset, stage.batch_size, cfg.seed + 5, dist, 0, steps)
    for step, batch in zip(range(steps), batches, strict=True):
        generator = step_generator(cfg.seed + 5, step, dist.rank)
        wav = random_segments(batch["audio"], stage.vocoder_segment_samples, generator).to(dist.device)
        set_lr(optimizer, step, schedule)
        with autocast(dist.device, cfg.precision):
            loss, parts = vocoder_loss(voc_ddp, mel_fn, wav, stage)
        optimizer_step(optimizer, loss, vocoder, stage.grad_clip)
        log.record(step, float(mean_over_ranks(loss.detach(), dist)), **parts)
    vocoder.eval().remove_weight_norm()
    if dist.is_main:
        staging = target.with_name("vocoder.tmp")
        vocoder.save_pretrained(str(staging), safe_serialization=True)
        previous = target.with_name("vocoder.before-finetune")
        if previous.exists():
            shutil.rmtree(previous)
        target.rename(previous)
        staging.rename(target)
        logger.info("vocoder fine-tuned for %d steps; saved to %s (previous in %s)", steps, target, previous)
    barrier(dist)
    return StageResult(log.losses, {"vocoder": vocoder})
