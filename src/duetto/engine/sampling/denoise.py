"""The joint denoising loop: video and audio latents walk one sigma schedule together through the twin transformer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from duetto.engine.models.transformer_twin import ModalityInput, TwinDiT
from duetto.engine.sampling.guidance import GuidanceConfig, guided
from duetto.engine.sampling.schedules import timesteps_from_sigmas
from duetto.engine.sampling.solvers import FlowSolver, make_solver

# Where the frame axis sits: video latents are (B, C, F, h, w), audio latents (B, L, C).
VIDEO_FRAME_AXIS = 2
AUDIO_FRAME_AXIS = 1


@dataclass(frozen=True)
class LatentStream:
    """One modality's input to the loop.

    Attributes:
        latents: the starting noisy latents, video (B, C, F, h, w) or audio (B, L, C).
        context_pos: text embeddings for the positive pass, (B, n_text, text_dim) as the model takes them.
        context_neg: text embeddings for the negative pass; None turns guidance off for this modality.
        clean: known latent values, same shape as `latents`; only the frames in `clean_frames` are read.
        clean_frames: bool (F,) or (B, F) over the frame axis (F video frames, L audio frames). These
            frames are held at `clean` and told the model they are noise-free (timestep 0): a first frame
            for image-to-video, a prefix to extend, or every frame to condition the other modality on.
    """

    latents: Tensor
    context_pos: Tensor
    context_neg: Tensor | None = None
    clean: Tensor | None = None
    clean_frames: Tensor | None = None

    def __post_init__(self) -> None:
        if (self.clean is None) != (self.clean_frames is None):
            raise ValueError("give clean and clean_frames together (or neither)")
        if self.clean is not None and self.clean.shape != self.latents.shape:
            raise ValueError(
                f"clean {tuple(self.clean.shape)} must match latents {tuple(self.latents.shape)}"
            )
        if self.clean_frames is not None and self.clean_frames.dtype != torch.bool:
            raise ValueError("clean_frames must be a bool mask over the frame axis")


def _frame_mask(stream: LatentStream, axis: int) -> Tensor | None:
    """The clean-frame mask as (B or 1, F), or None when no frame is clean."""
    mask = stream.clean_frames
    if mask is None or not bool(mask.any()):
        return None
    frames = stream.latents.shape[axis]
    mask = mask.to(stream.latents.device)
    mask = mask[None] if mask.ndim == 1 else mask
    if mask.ndim != 2 or mask.shape[1] != frames or mask.shape[0] not in (1, stream.latents.shape[0]):
        raise ValueError(
            f"clean_frames must be ({frames},) or (batch, {frames}), got {tuple(stream.clean_frames.shape)}"
        )
    return mask


def _hold_clean(x: Tensor, stream: LatentStream, mask: Tensor | None, axis: int) -> Tensor:
    """`x` with its clean frames replaced by the known values."""
    if mask is None:
        return x
    # (B|1, F) -> (B|1, 1, F, 1, 1) for video, (B|1, L, 1) for audio.
    shape = [mask.shape[0]] + [1] * (x.ndim - 1)
    shape[axis] = mask.shape[1]
    return torch.where(mask.view(shape), stream.clean.to(x.dtype), x)


def _timestep(t: Tensor, batch: int, mask: Tensor | None) -> Tensor:
    """The model's timestep: (B,) when every frame is noisy, else per frame (B, F) with 0 on clean frames."""
    if mask is None:
        return t.expand(batch).contiguous()
    return torch.where(mask, torch.zeros_like(t), t).expand(batch, mask.shape[1]).contiguous()


def _both_passes(
    model: TwinDiT,
    positive: tuple[ModalityInput, ModalityInput],
    negative: tuple[ModalityInput, ModalityInput],
    skip_blocks: tuple[int, ...],
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """The positive and the negative pass. Without skipped blocks both run as one batch of twice the size,
    which is the same arithmetic per sample and faster on CPUs (larger matrix products); otherwise two calls."""
    if skip_blocks:
        return model(*positive), model(*negative, skip_blocks=skip_blocks)
    stacked = [_stack(pos, neg) for pos, neg in zip(positive, negative, strict=True)]
    video, audio = model(*stacked)
    return (video.chunk(2)[0], audio.chunk(2)[0]), (video.chunk(2)[1], audio.chunk(2)[1])


def _stack(a: ModalityInput, b: ModalityInput) -> ModalityInput:
    """Two inputs as one batch; text contexts zero-padded to the longer (the model zero-pads them anyway)."""
    rows = max(a.context.shape[1], b.context.shape[1])
    contexts = [torch.nn.functional.pad(x.context, (0, 0, 0, rows - x.context.shape[1])) for x in (a, b)]
    return ModalityInput(latents=torch.cat([a.latents, b.latents]), context=torch.cat(contexts),
                         timestep=torch.cat([a.timestep, b.timestep]))


def _guided_velocities(
    model: TwinDiT,
    positive: tuple[ModalityInput, ModalityInput],
    negative_contexts: tuple[Tensor, Tensor],
    guide: tuple[bool, bool],
    guidance: GuidanceConfig,
) -> tuple[Tensor, Tensor]:
    """The velocity per modality. Unguided, the positive pass alone; else the negative pass (negative prompts,
    skipped blocks) runs on the same latents and timesteps, and each guided modality mixes the two with its
    own scale (an unguided one keeps its positive prediction)."""
    guide_video, guide_audio = guide
    if not (guide_video or guide_audio):
        return model(*positive)
    (video_in, audio_in), (video_neg, audio_neg) = positive, negative_contexts
    negative = (
        ModalityInput(latents=video_in.latents, context=video_neg, timestep=video_in.timestep),
        ModalityInput(latents=audio_in.latents, context=audio_neg, timestep=audio_in.timestep),
    )
    (v_video, v_audio), (neg_video, neg_audio) = _both_passes(model, positive, negative, guidance.skip_blocks)
    if guide_video:
        v_video = guided(v_video, neg_video, guidance.video_scale)
    if guide_audio:
        v_audio = guided(v_audio, neg_audio, guidance.audio_scale)
    return v_video, v_audio


@torch.no_grad()
def denoise_joint(
    model: TwinDiT,
    video: LatentStream,
    audio: LatentStream,
    *,
    sigmas: Tensor,
    solver: str = "unipc",
    guidance: GuidanceConfig,
    start_step: int = 0,
    callback: Callable[[int, int], None] | None = None,
) -> tuple[Tensor, Tensor]:
    """Denoise video and audio latents jointly from `sigmas[start_step]` to the end of the schedule.

    Each step runs the model twice, as Ovi does (as one batch of two when no block is skipped): a positive
    pass (both towers on `context_pos`) and a negative pass (each tower on its own `context_neg`, with `guidance.skip_blocks` skipped), mixes the two
    per modality with its own scale, and advances each modality with its own solver. Both modalities see
    the same timestep. `latents` must already sit at `sigmas[start_step]` (pure noise for a fresh run, a
    re-noised clip for a remix from step k).

    `callback(done, total)` runs after every step with the steps done so far and the steps this call
    runs; an exception it raises (cancellation) propagates out of the loop.

    Returns:
        the final (video, audio) latents, clean frames holding their clean values.
    """
    # 1. The part of the schedule still to run, and one solver per modality that still has noise in it.
    timesteps = timesteps_from_sigmas(sigmas)
    if not 0 <= start_step < len(timesteps):
        raise ValueError(f"start_step must be in [0, {len(timesteps)}) for a {len(timesteps)}-step schedule")
    timesteps = timesteps[start_step:].to(video.latents.device)
    video_mask = _frame_mask(video, VIDEO_FRAME_AXIS)
    audio_mask = _frame_mask(audio, AUDIO_FRAME_AXIS)

    def solver_for(mask: Tensor | None) -> FlowSolver | None:
        fully_clean = mask is not None and bool(mask.all())
        return None if fully_clean else make_solver(solver, sigmas[start_step:])

    video_solver, audio_solver = solver_for(video_mask), solver_for(audio_mask)

    # 2. Guidance per modality; without any, the negative pass is skipped altogether.
    guide_video = guidance.video_scale != 1.0 and video.context_neg is not None
    guide_audio = guidance.audio_scale != 1.0 and audio.context_neg is not None
    dtype = model.dtype
    video_pos, audio_pos = video.context_pos.to(dtype), audio.context_pos.to(dtype)
    # A modality that is not guided still needs some context in the negative pass; its output is unused.
    video_neg = video.context_neg.to(dtype) if guide_video else video_pos
    audio_neg = audio.context_neg.to(dtype) if guide_audio else audio_pos

    x_video, x_audio = video.latents, audio.latents
    total = len(timesteps)
    for i, t in enumerate(timesteps):
        # 3. Hold the clean frames at their known values; they get timestep 0.
        x_video = _hold_clean(x_video, video, video_mask, VIDEO_FRAME_AXIS)
        x_audio = _hold_clean(x_audio, audio, audio_mask, AUDIO_FRAME_AXIS)
        t_video = _timestep(t, x_video.shape[0], video_mask)
        t_audio = _timestep(t, x_audio.shape[0], audio_mask)
        in_video, in_audio = x_video.to(dtype), x_audio.to(dtype)

        # 4. The velocity per modality: the positive pass, mixed with the negative one where guided.
        video_in = ModalityInput(latents=in_video, context=video_pos, timestep=t_video)
        audio_in = ModalityInput(latents=in_audio, context=audio_pos, timestep=t_audio)
        v_video, v_audio = _guided_velocities(
            model, (video_in, audio_in), (video_neg, audio_neg), (guide_video, guide_audio), guidance
        )

        # 5. Each modality's own solver advances it to the next sigma.
        if video_solver is not None:
            x_video = video_solver.step(v_video, x_video)
        if audio_solver is not None:
            x_audio = audio_solver.step(v_audio, x_audio)

        # 6. Report progress; a raising callback cancels the run.
        if callback is not None:
            callback(i + 1, total)

    # 7. The solvers moved the clean frames too; put the known values back once more.
    x_video = _hold_clean(x_video, video, video_mask, VIDEO_FRAME_AXIS)
    x_audio = _hold_clean(x_audio, audio, audio_mask, AUDIO_FRAME_AXIS)
    return x_video, x_audio
