"""Visible watermark: a small translucent badge ("instance · @handle" and a logo) that tours the four corners.

The badge rests in each corner for `DWELL_SECONDS`, then glides to the next one clockwise, so no single
crop keeps the whole clip free of it. Its size depends only on the frame size, and its position only on
the frame index and rate, so `visible_mark_region` can say where it is without rendering it.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from duetto.clip import Clip

DWELL_SECONDS = 1.5
GLIDE_SECONDS = 0.5
#: Opacity of the badge's text and logo, and of its dark backing.
INK_ALPHA = 0.78
BACKING_ALPHA = 0.35
_CORNERS = ((0, 0), (1, 0), (1, 1), (0, 1))  # top-left, top-right, bottom-right, bottom-left
_MIN_FONT = 6


def _badge_size(height: int, width: int) -> tuple[int, int, int]:
    """Badge width, height and margin for a frame: about 5.5 % of the height tall, 42 % of the width wide
    (60 % on small frames, where text needs relatively more room)."""
    margin = max(1, round(0.025 * min(height, width)))
    badge_h = min(max(10, round(0.055 * height)), height - 2 * margin)
    badge_w = min(width - 2 * margin, max(5 * badge_h, round((0.6 if width < 480 else 0.42) * width)))
    return badge_w, badge_h, margin


def visible_mark_region(clip_shape: tuple[int, ...], frame_index: int, *, fps: float = 24.0) -> tuple[int, int, int, int]:
    """Where the badge is in frame `frame_index` of a clip of shape (T, H, W, 3): (x, y, width, height)."""
    if len(clip_shape) < 3:
        raise ValueError(f"clip_shape must be (T, H, W[, 3]), got {clip_shape}")
    height, width = int(clip_shape[1]), int(clip_shape[2])
    if height < 16 or width < 16:
        raise ValueError(f"frames must be at least 16x16 for a visible mark, got {width}x{height}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    badge_w, badge_h, margin = _badge_size(height, width)
    spots = [(margin + cx * (width - badge_w - 2 * margin), margin + cy * (height - badge_h - 2 * margin))
             for cx, cy in _CORNERS]
    leg = DWELL_SECONDS + GLIDE_SECONDS
    t = (frame_index / fps) % (leg * len(spots))
    here = int(t // leg)
    progress = max(0.0, (t - here * leg - DWELL_SECONDS) / GLIDE_SECONDS)
    progress = progress * progress * (3 - 2 * progress)  # ease in and out
    (x0, y0), (x1, y1) = spots[here], spots[(here + 1) % len(spots)]
    return round(x0 + (x1 - x0) * progress), round(y0 + (y1 - y0) * progress), badge_w, badge_h


def _fit_font(text: str, width: int, height: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, str]:
    """The largest default-font size that fits `text` in the box, shortening the text with an ellipsis if needed."""
    for size in range(max(_MIN_FONT, round(height * 0.72)), _MIN_FONT - 1, -1):
        font = ImageFont.load_default(size=size)
        if font.getlength(text) <= width:
            return font, text
    font = ImageFont.load_default(size=_MIN_FONT)
    while len(text) > 1 and font.getlength(text + "…") > width:
        text = text[:-1]
    return font, text + "…"


@functools.lru_cache(maxsize=32)
def _badge(text: str, badge_w: int, badge_h: int) -> tuple[np.ndarray, np.ndarray]:
    """The badge as premultiplied colour (h, w, 3) and alpha (h, w, 1), both float32 in [0, 1]."""
    scale = 4  # draw large and shrink, for smooth edges at small sizes
    image = Image.new("RGBA", (badge_w * scale, badge_h * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    w, h = image.size
    draw.rounded_rectangle((0, 0, w - 1, h - 1), radius=h // 3, fill=(0, 0, 0, round(255 * BACKING_ALPHA)))
    ink = (255, 255, 255, round(255 * INK_ALPHA))
    # Logo: a play triangle between two sound arcs, in a square at the left.
    side, pad = h, h // 6
    draw.polygon([(pad * 2.2, pad * 1.8), (pad * 2.2, h - pad * 1.8), (side - pad * 1.6, h / 2)], fill=ink)
    draw.arc((pad * 0.6, pad, side - pad * 0.2, h - pad), start=120, end=240, fill=ink, width=max(2, h // 12))
    draw.arc((pad * 1.4, pad, side + pad * 0.8, h - pad), start=-60, end=60, fill=ink, width=max(2, h // 12))
    font, shown = _fit_font(text, (badge_w - badge_h - max(3, badge_h // 3)) * scale, badge_h * scale)
    box = draw.textbbox((0, 0), shown, font=font)
    draw.text((side + pad - box[0], (h - (box[3] - box[1])) / 2 - box[1]), shown, font=font, fill=ink)
    small = np.asarray(image.resize((badge_w, badge_h), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    alpha = small[..., 3:4]
    return small[..., :3] * alpha, alpha


def badge_text(instance: str, handle: str) -> str:
    """The badge's words: "instance · @handle"."""
    instance, handle = instance.strip(), handle.strip().lstrip("@")
    if not instance or not handle:
        raise ValueError("stamp_visible needs a non-empty instance name and handle")
    return f"{instance} · @{handle}"


def stamp_visible(clip: Clip, *, instance: str, handle: str) -> Clip:
    """A copy of `clip` with the moving badge drawn into every frame; the sound is unchanged."""
    text = badge_text(instance, handle)
    frames = clip.frames.copy()
    for index in range(clip.num_frames):
        x, y, w, h = visible_mark_region(frames.shape, index, fps=clip.fps)
        colour, alpha = _badge(text, w, h)
        region = frames[index, y:y + h, x:x + w].astype(np.float32)
        frames[index, y:y + h, x:x + w] = np.clip(np.rint(region * (1 - alpha) + 255.0 * colour), 0, 255)
    return Clip(frames=frames, audio=clip.audio.copy(), fps=clip.fps, sample_rate=clip.sample_rate,
                metadata={**clip.metadata, "visible_mark": text})
