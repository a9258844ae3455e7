"""Stage 3: the twin-tower transformer and its text encoder, by flow matching on cached latents.

The recipe, and why:
- Flow matching as the sampler expects: x_t = (1 − σ)·x0 + σ·ε, target v = ε − x0, timestep 1000·σ. One σ per
  sample shared by both towers (as Ovi), independent noise per modality. σ = shift(sigmoid(N(m, s))): the
  logit-normal puts training where the velocity is hardest to predict (mid noise), and the same shift as
  the generation config moves it towards the noisy end where sampling spends its steps.
- Loss = w_v·L_video + w_a·L_audio, each a mean over its noisy latent elements. Ovi's 0.85/0.15 suited an
  audio tower already pre-trained on its own and a video tower started from Wan; here both towers start
  from zero and the audio carries the sync events (impact onsets, syllables) the project is about, so the
  default is 0.5/0.5: both latents are normalised to unit std, so equal weights mean equal gradient shares.
- Caption dropout to the empty prompt (10 %) teaches the unconditional velocity classifier-free guidance
  needs; the shipped negative prompts are "" for that reason.
- Conditioning augmentation: a sample may hold latent frame 0 clean (image→AV), a time-aligned clean
  prefix of both modalities (extend), all video clean (video→audio) or all audio clean (audio→video).
  Clean frames get timestep 0, keep their clean values and are left out of the loss, which is exactly
  how the sampler treats them.
- Some steps train on a shorter window (from generation.min_seconds), so the model serves a range of
  durations rather than one.
- The text encoder trains jointly. No pretrained encoder can be downloaded, and a frozen random one is a
  fixed random mixing of tokens from which "the red ball and the blue box" must be unpicked downstream;
  trained, it learns the binding for about 2 % of the step's compute.
- An EMA of the weights (transformer and text encoder) is what ships.
- CPU presets (toybox-v2) go further to see more samples in a run: short windows at random offsets on most
  steps (offsets whose time falls within a few ms of an audio latent's, so picture and sound stay aligned),
  the video loss weighted on latent cells that show an object (a few percent of the cells, and all the
  benchmark reads), the cross-modal value projections started at zero, a run that stops at a wall-clock
  limit and the next one that starts from what it left in the model folder (`init_from`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase, UMT5EncoderModel

from duetto.engine.model_folder import CODEC_SLOTS, load_codecs
from duetto.engine.models.transformer_twin import ModalityInput, TwinDiT
from duetto.engine.sampling.schedules import shift_sigmas
from duetto.engine.text_encoder import small_umt5, train_tokenizer
from duetto.training.assemble import TRAINING_STATE, codec_parts, load_codecs_of_run
from duetto.training.audio_codec import log_mel
from duetto.training.checkpoint import check_fresh_or_resume, load_checkpoint, save_checkpoint
from duetto.training.config import MEL_HOP, VIDEO_FRAME_STRIDE, DataConfig, TrainConfig, TwinStage
from duetto.training.data import (
    LatentCache,
    ToyboxClips,
    build_latent_cache,
    object_mask,
    onset_tokens,
    step_indices,
)
from duetto.training.ddp import Dist, barrier, init_distributed, mean_over_ranks, wrap
from duetto.training.loop import (
    MetricsLog,
    StageResult,
    autocast,
    seed_everything_for_step,
    set_lr,
    step_generator,
)
from duetto.training.video_vae import to_video_tensor

logger = logging.getLogger("duetto.training")
FINAL = "final"
NUM_TRAIN_TIMESTEPS = 1000

# Conditioning modes, one per sample.
PLAIN, FIRST_FRAME, PREFIX, VIDEO_CLEAN, AUDIO_CLEAN = range(5)


# --- models -----------------------------------------------------------------------------------------------


def audio_rope_scale(data: DataConfig) -> float:
    """Audio positions in units of video latent frames, so equal rotary angles mean equal seconds
    (0.192 for 24 fps video and 31.25 audio latents/s; Ovi's 0.19676 is the same idea at its lengths)."""
    return (data.fps / VIDEO_FRAME_STRIDE) / (data.sample_rate / (2 * MEL_HOP))


def tower_configs(cfg: TrainConfig, video_channels: int, audio_channels: int) -> tuple[dict, dict]:
    """Ovi-style video.json / audio.json for the configured sizes."""
    m, text = cfg.twin.model, cfg.twin.text
    shared = {
        "dim": m.dim,
        "ffn_dim": m.ffn_dim,
        "freq_dim": m.freq_dim,
        "num_heads": m.num_heads,
        "num_layers": m.num_layers,
        "text_len": text.max_length,
        "text_dim": text.d_model,
        "window_size": [-1, -1],
        "qk_norm": True,
        "cross_attn_norm": True,
        "eps": m.eps,
    }
    video = {
        "model_type": "ti2v",
        "patch_size": list(m.patch_size),
        "in_dim": video_channels,
        "out_dim": video_channels,
        **shared,
    }
    audio = {
        "model_type": "t2a",
        "patch_size": [1],
        "in_dim": audio_channels,
        "out_dim": audio_channels,
        "temporal_rope_scaling_factor": audio_rope_scale(cfg.data),
        **shared,
    }
    return video, audio


def build_transformer(cfg: TrainConfig, video_channels: int, audio_channels: int) -> TwinDiT:
    video, audio = tower_configs(cfg, video_channels, audio_channels)
    m = cfg.twin.model
    transformer = TwinDiT(video_config=video, audio_config=audio, fusion=m.fusion, prediction_type=m.prediction_type)
    if m.fusion and m.fusion_zero_init:
        transformer.zero_fusion_values()
    return transformer


def build_text_encoder(cfg: TrainConfig, vocab_size: int) -> UMT5EncoderModel:
    t = cfg.twin.text
    return small_umt5(
        vocab_size, d_model=t.d_model, num_layers=t.num_layers, num_heads=t.num_heads, d_ff=t.d_ff
    )


class Denoiser(nn.Module):
    """Text encoder + transformer as one module, so DDP averages both sets of gradients in one pass."""

    def __init__(self, transformer: TwinDiT, text_encoder: UMT5EncoderModel, train_text: bool) -> None:
        super().__init__()
        self.transformer = transformer
        self.text_encoder = text_encoder
        self.train_text = train_text
        if not train_text:
            text_encoder.requires_grad_(False).eval()

    def encode_text(self, ids: Tensor, mask: Tensor) -> Tensor:
        """(B, n) tokens → (B, n, d), rows past each prompt's length zero: what `PromptEncoder` plus
        `pad_contexts` hand the transformer at inference."""
        with torch.set_grad_enabled(self.train_text and torch.is_grad_enabled()):
            hidden = self.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return hidden * mask[..., None].to(hidden.dtype)

    def forward(
        self, ids: Tensor, mask: Tensor, video: tuple[Tensor, Tensor], audio: tuple[Tensor, Tensor]
    ) -> tuple[Tensor, Tensor]:
        context = self.encode_text(ids, mask)
        return self.transformer(
            ModalityInput(latents=video[0], context=context, timestep=video[1]),
            ModalityInput(latents=audio[0], context=context, timestep=audio[1]),
        )


def tokenize(
    tokenizer: PreTrainedTokenizerBase, captions: list[str], max_length: int
) -> tuple[Tensor, Tensor]:
    batch = tokenizer(
        captions, padding="max_length", max_length=max_length, truncation=True, return_tensors="pt"
    )
    return batch["input_ids"], batch["attention_mask"]


# --- the pieces of one training step ----------------------------------------------------------------------


def sample_sigmas(generator: torch.Generator, batch: int, stage: TwinStage) -> Tensor:
    """σ (B,) in (0, 1): shift(sigmoid(N(logit_mean, logit_std)))."""
    u = torch.randn(batch, generator=generator) * stage.logit_std + stage.logit_mean
    return shift_sigmas(torch.sigmoid(u), stage.shift)


def drop_captions(captions: list[str], rate: float, generator: torch.Generator) -> list[str]:
    """Each caption becomes the empty prompt with probability `rate`."""
    drop = torch.rand(len(captions), generator=generator) < rate
    return ["" if d else c for c, d in zip(captions, drop.tolist(), strict=True)]


@dataclass(frozen=True)
class CleanMasks:
    """Which latent frames a sample holds clean: video (B, F) and audio (B, L) bools, and each sample's mode."""

    video: Tensor
    audio: Tensor
    mode: Tensor


def sample_conditioning(
    generator: torch.Generator,
    batch: int,
    video_frames: int,
    audio_frames: int,
    stage: TwinStage,
    data: DataConfig,
) -> CleanMasks:
    """Draw a conditioning mode per sample (see the module docstring) and the clean-frame masks it implies."""
    c = stage.conditioning
    edges = torch.tensor([c.first_frame, c.prefix, c.video_clean, c.audio_clean]).cumsum(0)
    u = torch.rand(batch, generator=generator)
    mode = torch.where(
        u < edges[-1],
        1 + torch.searchsorted(edges, u, right=True),
        torch.full_like(u, PLAIN, dtype=torch.long),
    )
    video = torch.zeros(batch, video_frames, dtype=torch.bool)
    audio = torch.zeros(batch, audio_frames, dtype=torch.bool)
    for i, m in enumerate(mode.tolist()):
        if m == FIRST_FRAME:
            video[i, 0] = True
        elif m == PREFIX and video_frames > 1:
            # k clean latent frames = 1 + 4(k − 1) video frames, and the audio latents of that time span.
            k = int(torch.randint(1, video_frames, (1,), generator=generator))
            video[i, :k] = True
            audio[i, : min(audio_frames, data.audio_latents(1 + VIDEO_FRAME_STRIDE * (k - 1)))] = True
        elif m == VIDEO_CLEAN:
            video[i] = True
        elif m == AUDIO_CLEAN:
            audio[i] = True
    return CleanMasks(video=video, audio=audio, mode=mode)


def noisy_inputs(
    x0: Tensor, noise: Tensor, sigma: Tensor, clean: Tensor, frame_axis: int
) -> tuple[Tensor, Tensor, Tensor]:
    """x_t, per-frame timesteps (B, frames) and the velocity target for one modality.

    Clean frames keep x0 and get timestep 0; `clean` is (B, frames) over `frame_axis` of x0.
    """
    shape = [x0.shape[0]] + [1] * (x0.ndim - 1)
    s = sigma.view(shape).to(x0.dtype)
    frame_shape = list(shape)
    frame_shape[frame_axis] = x0.shape[frame_axis]
    clean_b = clean.view(frame_shape)
    x_t = torch.where(clean_b, x0, (1 - s) * x0 + s * noise)
    noisy_t = (NUM_TRAIN_TIMESTEPS * sigma)[:, None].expand(clean.shape)
    timestep = torch.where(clean, torch.zeros_like(noisy_t), noisy_t)  # (B, frames)
    return x_t, timestep, noise - x0


def masked_mse(
    pred: Tensor, target: Tensor, clean: Tensor, frame_axis: int, weight: Tensor | None = None
) -> Tensor:
    """Mean squared error over the noisy frames only (0 when every frame is clean), each element weighted by
    `weight` (broadcast to `pred`; None: all 1) in a weighted mean."""
    reduce = [d for d in range(pred.ndim) if d not in (0, frame_axis)]
    error = (pred.float() - target.float()).pow(2)
    weight = torch.ones_like(error) if weight is None else weight.float().expand_as(error)
    keep = (~clean).to(error.dtype)  # (B, frames)
    total = ((error * weight).sum(dim=reduce) * keep).sum()
    return total / ((weight.sum(dim=reduce) * keep).sum()).clamp(min=1e-8)


def marked_weights(marks: Tensor | None, weight: float, channel_axis: int) -> Tensor | None:
    """Per-element loss weights from 0/1 marks: `weight` where marked, else 1, with a size-1 channel axis put
    at `channel_axis` so they broadcast against the prediction; None when unweighted.

    Video marks are the latent cells (B, F, h, w) that show an object (channels at 1); audio marks the latents
    (B, L) where an impact or a syllable starts (channels at 2). Both are a few in a hundred: unweighted, a model
    that leaves every object or impact out pays almost nothing for it (toybox-v2's runs 1–4 left impacts out)."""
    if marks is None or weight == 1.0:
        return None
    return (1.0 + (weight - 1.0) * marks.float()).unsqueeze(channel_axis)


def twin_loss(
    denoiser: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    video0: Tensor,
    audio0: Tensor,
    captions: list[str],
    cfg: TrainConfig,
    generator: torch.Generator,
    objects: Tensor | None = None,
    onsets: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """The flow-matching loss of one batch: video0 (B, C, F, h, w) and audio0 (B, L, C) clean latents, and
    optionally the latent cells (B, F, h, w) that show an object (weighted by `twin.object_weight`) and the
    audio latents (B, L) where a sound starts (weighted by `twin.onset_weight`)."""
    stage = cfg.twin
    batch, device = video0.shape[0], video0.device
    # 1. Captions (some dropped), one σ per sample shared by both towers, independent noise per tower.
    ids, mask = tokenize(
        tokenizer, drop_captions(captions, stage.caption_dropout, generator), stage.text.max_length
    )
    sigma = sample_sigmas(generator, batch, stage)
    video_noise = torch.randn(video0.shape, generator=generator)
    audio_noise = torch.randn(audio0.shape, generator=generator)
    masks = sample_conditioning(generator, batch, video0.shape[2], audio0.shape[1], stage, cfg.data)

    # 2. Noisy inputs, per-frame timesteps (0 on clean frames), targets.
    to = {"device": device}
    x_video, t_video, v_video = noisy_inputs(
        video0, video_noise.to(**to), sigma.to(**to), masks.video.to(**to), 2
    )
    x_audio, t_audio, v_audio = noisy_inputs(
        audio0, audio_noise.to(**to), sigma.to(**to), masks.audio.to(**to), 1
    )

    # 3. Predict and weigh the two losses; clean frames do not count.
    pred_video, pred_audio = denoiser(ids.to(**to), mask.to(**to), (x_video, t_video), (x_audio, t_audio))
    weights = marked_weights(objects, stage.object_weight, 1)
    loss_video = masked_mse(pred_video, v_video, masks.video.to(**to), 2, None if weights is None else weights.to(**to))
    weights = marked_weights(onsets, stage.onset_weight, 2)
    loss_audio = masked_mse(pred_audio, v_audio, masks.audio.to(**to), 1, None if weights is None else weights.to(**to))
    loss = stage.video_weight * loss_video + stage.audio_weight * loss_audio
    return loss, {"video": float(loss_video.detach()), "audio": float(loss_audio.detach())}


@dataclass(frozen=True)
class Window:
    """The stretch of a cached clip one step trains on: latent frames [offset, offset + frames) of the video
    and audio latents [audio_offset, audio_offset + audio_frames), which cover the same time."""

    offset: int
    frames: int
    audio_offset: int
    audio_frames: int


def aligned_offsets(cfg: TrainConfig, frames: int) -> list[int]:
    """Latent frames a window of `frames` may start at: 0, and (with `twin.window_offsets`) every later one
    whose start time lies within `offset_tolerance_ms` of an audio latent's start. Video latent k ≥ 1 starts
    at frame 1 + 4(k − 1); its time is matched to the audio latents of the same clip."""
    data, stage = cfg.data, cfg.twin
    offsets = [0]
    if not stage.window_offsets:
        return offsets
    audio_latent_s = 2 * MEL_HOP / data.sample_rate
    for k in range(1, data.latent_frames - frames + 1):
        start_s = k * VIDEO_FRAME_STRIDE / data.fps  # latent k's position on the RoPE clock of the full clip
        position = start_s / audio_latent_s
        if abs(position - round(position)) * audio_latent_s * 1000 <= stage.offset_tolerance_ms:
            offsets.append(k)
    return offsets


def draw_window(cfg: TrainConfig, step: int) -> Window:
    """The window this step trains on: usually the whole clip, with probability `short_clip_prob` a shorter one
    (`window_seconds` long, or drawn from min_seconds up), at an aligned offset. Drawn per step, not per rank,
    so every rank's batch has the same shape."""
    data, stage, full = cfg.data, cfg.twin, cfg.data.latent_frames
    generator = step_generator(cfg.seed, step, rank=0, stream=7)
    frames = full
    if float(torch.rand(1, generator=generator)) < stage.short_clip_prob and cfg.min_latent_frames < full:
        if stage.window_seconds > 0:
            frames = min(full, 1 + round(stage.window_seconds * data.fps / VIDEO_FRAME_STRIDE))
        else:
            frames = int(torch.randint(cfg.min_latent_frames, full, (1,), generator=generator))
    offsets = aligned_offsets(cfg, frames)
    offset = offsets[int(torch.randint(len(offsets), (1,), generator=generator))]
    audio_frames = data.audio_latents(1 + VIDEO_FRAME_STRIDE * (frames - 1))
    audio_latent_s = 2 * MEL_HOP / data.sample_rate
    audio_offset = min(round(offset * VIDEO_FRAME_STRIDE / data.fps / audio_latent_s), data.audio_latents() - audio_frames)
    return Window(offset, frames, audio_offset, audio_frames)


def window_lengths(cfg: TrainConfig, step: int) -> tuple[int, int]:
    """(latent frames, audio latents) of this step's window (see `draw_window`)."""
    window = draw_window(cfg, step)
    return window.frames, window.audio_frames


class EMA:
    """Exponential moving average of a module's floating-point parameters (fp32), warmed up over the first
    steps (decay min(d, (1 + step) / (10 + step))) so early weights do not linger."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: p.detach().float().clone() for k, p in module.named_parameters()}

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for k, p in module.named_parameters():
            self.shadow[k].lerp_(p.detach().float(), 1 - d)

    @torch.no_grad()
    def copy_to(self, module: nn.Module) -> None:
        for k, p in module.named_parameters():
            p.copy_(self.shadow[k].to(p.dtype))

    def state_dict(self) -> dict[str, Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.shadow = {k: v.clone() for k, v in state.items()}


# --- inputs of the stage ----------------------------------------------------------------------------------


def cache_key(cfg: TrainConfig, weight_dirs: tuple[Path, ...]) -> str:
    """Names the latent cache by everything the latents depend on: the codecs' weights and the data config."""
    digest = hashlib.sha256(cfg.data.model_dump_json(exclude={"workers"}).encode())
    for folder in weight_dirs:
        for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.json")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def object_cells(frames: Tensor, stride: tuple[int, int]) -> Tensor:
    """uint8 frames (B, T, H, W, 3), T = 1 + k·s_t → (B, 1 + k, H / s, W / s) uint8: 1 where a latent cell's
    frames show anything but the backdrop (the cells the video loss weights up)."""
    t_stride, s_stride = stride
    masks = torch.stack([torch.from_numpy(object_mask(clip.numpy())) for clip in frames]).float()  # (B, T, H, W)
    first, rest = masks[:, :1], masks[:, 1:].unflatten(1, (-1, t_stride)).amax(dim=2)
    cells = F.max_pool2d(torch.cat([first, rest], dim=1), s_stride)
    return cells.to(torch.uint8)


def encode_clips(cfg: TrainConfig, run_dir: Path, dist: Dist, codecs_dir: Path | None = None) -> LatentCache:
    """Every clip's latents (and object cells), written once per codec pair, encoded as the pipeline does.

    The codecs are the run's own finished ones, or those of `codecs_dir` (a model folder, or the codec-only
    folder `duetto train codecs` writes): a run that continues a model keeps that model's codecs."""
    if codecs_dir is not None:
        codecs = load_codecs(Path(codecs_dir))[0]
        parts = {name: Path(codecs_dir) / name for name in CODEC_SLOTS}
    else:
        codecs, parts = load_codecs_of_run(cfg, Path(run_dir)), codec_parts(cfg, Path(run_dir))
    vae, audio_vae = codecs["vae"].to(dist.device), codecs["audio_vae"].to(dist.device)
    stride = (int(vae.config.scale_factor_temporal), int(vae.config.scale_factor_spatial))
    mel_fn = log_mel(cfg.data.sample_rate).to(dist.device)
    mean = torch.tensor(vae.config.latents_mean, device=dist.device).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std, device=dist.device).view(1, -1, 1, 1, 1)

    def encode(batch: dict) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        z = vae.encode(to_video_tensor(batch["frames"]).to(dist.device)).latent_dist.mode()
        audio = audio_vae.encode(mel_fn(batch["audio"].to(dist.device))).transpose(1, 2)  # (B, L, C)
        # The clips' sound is cut to a whole number of audio latents (`ToyboxClips`), so this division is exact.
        onsets = onset_tokens(batch["onsets"], audio.shape[1], batch["audio"].shape[1] // audio.shape[1])
        return (z - mean) / std, audio, object_cells(batch["frames"], stride), onsets

    folder = Path(run_dir) / "latents" / cache_key(cfg, tuple(parts.values()))
    return build_latent_cache(folder, ToyboxClips(cfg.data), encode, dist, batch_size=4)


def prepare_tokenizer(
    folder: Path, captions: list[str], vocab_size: int, dist: Dist, kind: str = "unigram",
    source: Path | None = None,
) -> PreTrainedTokenizerBase:
    """The stage's tokenizer: copied from `source` (a run continuing a model keeps its vocabulary), else
    trained on the captions once (rank 0); then every rank loads the saved one."""
    path = folder / "tokenizer"
    if dist.is_main and not (path / "tokenizer.json").is_file():
        if source is not None:
            shutil.copytree(source, path)
        else:
            train_tokenizer(captions, vocab_size=vocab_size, kind=kind).save_pretrained(str(path))
    barrier(dist)
    return AutoTokenizer.from_pretrained(str(path))


# --- runs that continue each other --------------------------------------------------------------------------

@dataclass
class Progress:
    """How far training has come over all runs: optimiser steps, samples seen, and where this run began."""

    step: int = 0
    samples: int = 0
    run_start: int = 0


def load_training_state(model_dir: Path, denoiser: Denoiser, ema: EMA) -> Progress:
    """Continue from a model folder: raw weights from its training state, the EMA from the weights it ships
    (stored in fp16; one rounding of the average is far below what a run changes). The optimiser starts
    afresh, which the warm-up from `run_start` absorbs."""
    from transformers import UMT5EncoderModel

    state_dir = model_dir / TRAINING_STATE
    state = json.loads((state_dir / "state.json").read_text())
    raw = Denoiser(TwinDiT.from_pretrained(str(state_dir / "transformer")),
                   UMT5EncoderModel.from_pretrained(str(state_dir / "text_encoder")), denoiser.train_text)
    denoiser.load_state_dict(raw.state_dict())
    shipped = Denoiser(TwinDiT.from_pretrained(str(model_dir / "transformer")),
                       UMT5EncoderModel.from_pretrained(str(model_dir / "text_encoder")), denoiser.train_text)
    ema.load_state_dict({k: v.float() for k, v in shipped.state_dict().items() if k in ema.shadow})
    return Progress(step=state["steps"], samples=state["samples"], run_start=state["steps"])


def save_final(folder: Path, denoiser: Denoiser, ema: EMA, progress: Progress, clips: int) -> None:
    """final/ holds the EMA weights (what ships), final/raw/ the trained weights a next run continues from,
    and final/stage.json the progress."""
    raw = folder / FINAL / "raw"
    denoiser.transformer.save_pretrained(str(raw / "transformer"), safe_serialization=True)
    denoiser.text_encoder.save_pretrained(str(raw / "text_encoder"), safe_serialization=True)
    ema.copy_to(denoiser)
    denoiser.transformer.save_pretrained(str(folder / FINAL / "transformer"), safe_serialization=True)
    denoiser.text_encoder.save_pretrained(str(folder / FINAL / "text_encoder"), safe_serialization=True)
    (folder / FINAL / "stage.json").write_text(
        json.dumps({"steps": progress.step, "samples": progress.samples, "clips": clips})
    )


def out_of_time(started: float, minutes: float | None, dist: Dist) -> bool:
    """Whether the run's wall-clock budget is spent, as rank 0 sees it (all ranks stop at the same step)."""
    if minutes is None:
        return False
    flag = torch.tensor([float(time.monotonic() - started >= 60 * minutes)])
    if dist.enabled:
        torch_dist.broadcast(flag, src=0)
    return bool(flag.item())


def _checkpoint(step: int, progress: Progress, denoiser: Denoiser, optimizer, ema: EMA) -> dict:
    return {"step": step, "samples": progress.samples, "run_start": progress.run_start,
            "denoiser": denoiser.state_dict(), "optimizer": optimizer.state_dict(), "ema": ema.state_dict()}


def _starting_point(
    folder: Path,
    dist: Dist,
    resume: bool,
    init_from: Path | None,
    denoiser: Denoiser,
    optimizer: torch.optim.Optimizer,
    ema: EMA,
) -> Progress:
    """Where training stands, its weights loaded: the stage's own checkpoint when resuming (optimiser
    included), else the training state of the model folder `init_from`, else the very start."""
    state = load_checkpoint(folder, dist.device) if resume else None
    if state is not None:
        denoiser.load_state_dict(state["denoiser"])
        optimizer.load_state_dict(state["optimizer"])
        ema.load_state_dict(state["ema"])
        return Progress(state["step"], state.get("samples", 0), state.get("run_start", 0))
    if init_from is not None:
        return load_training_state(Path(init_from), denoiser, ema)
    return Progress()


# --- the stage --------------------------------------------------------------------------------------------


def _batch(
    cache: LatentCache, cfg: TrainConfig, step: int, dist: Dist
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, list[str]]:
    """The step's batch, drawn from the step number alone (so a resumed run draws the same): the clips'
    video and audio latents in one window of time, fp32 on the device, their object cells, onset latents
    and captions."""
    index = torch.tensor(
        step_indices(step, cfg.twin.batch_size, len(cache), cfg.seed + 3, dist.rank, dist.world_size)
    )
    window = draw_window(cfg, step)
    frames = slice(window.offset, window.offset + window.frames)
    video0 = cache.video[index, :, frames].to(dist.device, torch.float32)
    audio = slice(window.audio_offset, window.audio_offset + window.audio_frames)
    audio0 = cache.audio[index, audio]
    objects = cache.objects[index, frames] if cache.objects is not None else None
    onsets = cache.onsets[index, audio] if cache.onsets is not None else None
    captions = [cache.captions[i] for i in index.tolist()]
    return video0, audio0.to(dist.device, torch.float32), objects, onsets, captions


def train_twin(
    cfg: TrainConfig, run_dir: Path, *, resume: bool = False, stop_at: int | None = None,
    init_from: Path | None = None, codecs_dir: Path | None = None,
) -> StageResult:
    """Train (or resume) the twin transformer and text encoder on cached latents.

    `init_from` continues a model folder's training (see `load_training_state`) with its codecs; `codecs_dir`
    names the codecs otherwise (default: the run's own). `twin.max_minutes` ends the
    run at a wall-clock limit, which then counts as finishing. Writes run_dir/twin/{checkpoint.pt,
    metrics.jsonl, tokenizer/, final/} (see `save_final`; the returned modules hold the raw weights unless
    the stage finished).
    """
    stage, run_dir = cfg.twin, Path(run_dir)
    folder = run_dir / "twin"
    if init_from is not None and not (Path(init_from) / TRAINING_STATE / "state.json").is_file():
        raise ValueError(f"{init_from} has no {TRAINING_STATE}/state.json; it cannot be trained further")
    dist = init_distributed(cfg.device)
    check_fresh_or_resume(folder, resume)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    # 1. Latents (cached once per codec pair and data config) and the tokenizer.
    cache = encode_clips(cfg, run_dir, dist, codecs_dir if init_from is None else init_from)
    source = Path(init_from) / "tokenizer" if init_from is not None else None
    tokenizer = prepare_tokenizer(folder, cache.captions, stage.text.vocab_size, dist, stage.text.tokenizer, source)
    too_long = sum(len(ids) > stage.text.max_length for ids in tokenizer(cache.captions[:512])["input_ids"])
    if too_long:
        logger.warning("%d of the first 512 captions exceed twin.text.max_length and are truncated", too_long)

    # 2. Models, optimiser, EMA, and where training stands: a local checkpoint, a model folder, or nothing.
    torch.manual_seed(cfg.seed)
    transformer = build_transformer(cfg, cache.video.shape[1], cache.audio.shape[2])
    denoiser = Denoiser(transformer, build_text_encoder(cfg, len(tokenizer)), stage.text.train).to(dist.device)
    denoiser.train()
    if not stage.text.train:
        denoiser.text_encoder.eval()
    params = [p for p in denoiser.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=stage.lr, betas=stage.betas, weight_decay=stage.weight_decay)
    ema = EMA(denoiser, stage.ema_decay)
    progress = _starting_point(folder, dist, resume, init_from, denoiser, optimizer, ema)
    model = wrap(denoiser, dist)
    log = MetricsLog(folder, dist, stage.log_every)
    end = stage.steps if stop_at is None else min(stop_at, stage.steps)

    # 3. The loop: a window of each clip in the batch, the loss, a step, the EMA.
    step = progress.step
    while step < end and not out_of_time(started, stage.max_minutes, dist):
        seed_everything_for_step(cfg.seed, step, dist.rank)
        generator = step_generator(cfg.seed, step, dist.rank)
        video0, audio0, objects, onsets, captions = _batch(cache, cfg, step, dist)
        set_lr(optimizer, step - progress.run_start, stage)
        with autocast(dist.device, cfg.precision):
            loss, parts = twin_loss(model, tokenizer, video0, audio0, captions, cfg, generator, objects, onsets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, stage.grad_clip)
        optimizer.step()
        ema.update(denoiser, step)
        step += 1
        progress.step, progress.samples = step, progress.samples + stage.batch_size * dist.world_size
        log.record(step - 1, float(mean_over_ranks(loss.detach(), dist)), grad_norm=float(grad_norm),
                   samples=progress.samples, **parts)
        if dist.is_main and step % stage.ckpt_every == 0:
            save_checkpoint(folder, _checkpoint(step, progress, denoiser, optimizer, ema))

    # 4. Done (all steps, or the run's time is up): rank 0 saves the checkpoint, then the EMA and raw weights;
    #    every rank ends holding the EMA weights, so all end alike.
    if dist.is_main:
        save_checkpoint(folder, _checkpoint(step, progress, denoiser, optimizer, ema))
    if step == stage.steps or (stop_at is None and stage.max_minutes is not None):
        if dist.is_main:
            save_final(folder, denoiser, ema, progress, len(cache))
            logger.info("twin transformer and text encoder (EMA) saved to %s after %d samples",
                        folder / FINAL, progress.samples)
        else:
            ema.copy_to(denoiser)
    barrier(dist)
    return StageResult(
        log.losses, {"transformer": denoiser.transformer, "text_encoder": denoiser.text_encoder}
    )
