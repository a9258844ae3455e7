"""How a clip is prepared to leave the instance: enlarged to a size its marks survive, and, for a download,
the badge drawn in with both invisible marks written after it.

Why enlarge: a 128x128 clip exported at CRF 18 is 16-68 kb/s, and a quarter of that lies below what x264
can reach even at its worst quality (CRF 51) for 60 % of such clips; the picture is wrecked there and the
video mark with it (0.59 bit accuracy; 0.5 is chance). Stored at 256x256, the same clip's quarter-bitrate
re-encode is CRF 25-30, which the mark survives. The badge gets room too: 10 px tall with at most 7-px
type on a 128-pixel frame, 14 px with 10-px type on 256. The model's own size stays on the video's record.

Why mark after the badge: the badge is bright text on a dark backing that tours the corners, which moves
the lowest spatial frequencies the video mark lives in by about a lattice step; drawn over a marked clip
it erases a quarter to half of the mark's bits. Writing the mark last puts it on the final pixels.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from duetto.clip import Clip
from duetto.provenance.audio_mark import MIN_SAMPLE_RATE, embed_audio_mark
from duetto.provenance.codes import Key
from duetto.provenance.video_mark import MIN_SIDE, embed_video_mark
from duetto.provenance.visible import stamp_visible

#: Shortest side of any file the instance hands out; smaller clips are enlarged by a whole factor.
MIN_SHARED_SIDE = 256


def sharing_scale(height: int, width: int) -> int:
    """The whole factor that brings the shorter side to at least `MIN_SHARED_SIDE` (1 when it already is)."""
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size must be positive, got {width}x{height}")
    return max(1, math.ceil(MIN_SHARED_SIDE / min(height, width)))


def enlarge_for_sharing(clip: Clip) -> Clip:
    """`clip` with frames enlarged (Lanczos, whole factor) so the shorter side is at least `MIN_SHARED_SIDE`;
    the clip itself when it already is. Sound and metadata are kept."""
    factor = sharing_scale(clip.height, clip.width)
    if factor == 1:
        return clip
    size = (clip.width * factor, clip.height * factor)
    frames = np.stack([np.asarray(Image.fromarray(f).resize(size, Image.Resampling.LANCZOS)) for f in clip.frames])
    return Clip(frames=frames, audio=clip.audio, fps=clip.fps, sample_rate=clip.sample_rate,
                metadata={**clip.metadata, "enlarged_from": f"{clip.width}x{clip.height}"})


def can_carry_audio_mark(clip: Clip) -> bool:
    """Whether the clip's sound can hold the audio mark: a rate the mark supports, and not silence."""
    return clip.sample_rate >= MIN_SAMPLE_RATE and bool(clip.audio.size) and bool(clip.audio.any())


def embed_marks(clip: Clip, payload: int, key: Key) -> Clip:
    """`clip` with the video mark and the audio mark carrying `payload` under `key`, each where its track
    can hold one (frames at least `MIN_SIDE` on a side; sound that is not silence); changed in place."""
    if clip.num_frames and min(clip.height, clip.width) >= MIN_SIDE:
        clip.frames = embed_video_mark(clip.frames, payload, key)
    if can_carry_audio_mark(clip):
        clip.audio = embed_audio_mark(clip.audio, clip.sample_rate, payload, key)
    return clip


def download_rendition(clip: Clip, *, instance: str, handle: str, payload: int | None = None,
                       key: Key | None = None) -> Clip:
    """The clip as a download: enlarged for sharing, the moving badge drawn in, then both invisible marks
    carrying `payload` under `key` written again (skipped when either is None).

    `clip` is read back from the stored file, so its sound has been through AAC once already and the
    download encodes it a second time; writing the audio mark again puts it back on the lattice, so only
    the download's own encode stands between the mark and the file, as for the stored one.
    """
    shared = stamp_visible(enlarge_for_sharing(clip), instance=instance, handle=handle)
    return shared if payload is None or key is None else embed_marks(shared, payload, key)
