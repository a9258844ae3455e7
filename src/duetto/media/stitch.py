"""Joining clips end to end into one, the picture cut at each join and the sound continuous across it.

A clip that continues the one before it starts with a copy of that one's last frames (its overlap: the tail it
was generated from). The joined clip keeps the earlier clip's picture up to the cut and drops the repeated
frames, so it lasts the sum of the clips minus the overlaps. The two sounds of an overlap describe the same
moment, so the earlier one is crossfaded into the later one over the end of the overlap: the sound after the
cut is the later clip's own, reached without a step. A join with no overlap (a fresh start) gets a short fade
out and in, so that it cannot click either.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from duetto.clip import Clip
from duetto.media._audio import as_channels, fit_length

# The longest crossfade inside an overlap, and the fade at a join without one.
CROSSFADE_S = 0.25
FADE_S = 0.01


def stitched_frames(num_frames: Sequence[int], overlaps: Sequence[int]) -> int:
    """The joined length in frames: every clip's frames, less each later clip's overlap."""
    return int(sum(num_frames) - sum(overlaps[1:]))


def stitch(clips: Sequence[Clip], overlaps: Sequence[int], *, crossfade_s: float = CROSSFADE_S,
           fade_s: float = FADE_S) -> Clip:
    """One clip from `clips` in order; `overlaps[i]` is how many first frames of clip i repeat the end of clip
    i − 1 (`overlaps[0]` is ignored). Clips must share frame size, frame rate and sample rate."""
    if not clips:
        raise ValueError("nothing to stitch: give at least one clip")
    if len(overlaps) != len(clips):
        raise ValueError(f"give one overlap per clip ({len(clips)}), got {len(overlaps)}")
    first = clips[0]
    for i, clip in enumerate(clips[1:], start=1):
        if (clip.width, clip.height, clip.fps, clip.sample_rate) != (first.width, first.height, first.fps,
                                                                     first.sample_rate):
            raise ValueError(f"clip {i} is {clip.width}x{clip.height} at {clip.fps:g} fps and {clip.sample_rate} Hz; "
                             f"clip 0 is {first.width}x{first.height} at {first.fps:g} fps and "
                             f"{first.sample_rate} Hz: make every shot the same way")
        if not 0 <= overlaps[i] < clip.num_frames:
            raise ValueError(f"overlap {overlaps[i]} of clip {i} must be shorter than its {clip.num_frames} frames")
    rate, fps = first.sample_rate, first.fps
    channels = max(as_channels(c.audio).shape[0] for c in clips)

    def sound(clip: Clip) -> np.ndarray:
        audio = as_channels(clip.audio)
        audio = np.repeat(audio, channels, axis=0) if audio.shape[0] < channels else audio
        return fit_length(audio, round(clip.num_frames / fps * rate))

    frames = [first.frames]
    audio = sound(first)
    for clip, overlap in zip(clips[1:], overlaps[1:], strict=True):
        frames.append(clip.frames[overlap:])
        later = sound(clip)
        start = round(overlap / fps * rate)  # where the later clip's own time begins: the cut
        if start > 0:
            n = min(start, round(crossfade_s * rate), audio.shape[1])
            ramp = np.linspace(0.0, 1.0, n + 1, dtype=np.float32)[1:]  # reaches the later sound at the cut
            audio[:, -n:] = audio[:, -n:] * (1 - ramp) + later[:, start - n:start] * ramp
            audio = np.concatenate([audio, later[:, start:]], axis=1)
        else:
            n = min(round(fade_s * rate), audio.shape[1], later.shape[1])
            fade = np.linspace(1.0, 0.0, n, dtype=np.float32)
            audio[:, -n:] *= fade
            later = later.copy()
            later[:, :n] *= fade[::-1]
            audio = np.concatenate([audio, later], axis=1)
    joined = np.concatenate(frames)
    audio = fit_length(audio, round(len(joined) / fps * rate))
    return Clip(frames=joined, audio=audio[0] if channels == 1 else audio, fps=fps, sample_rate=rate,
                metadata=dict(first.metadata or {}, seconds=len(joined) / fps))
