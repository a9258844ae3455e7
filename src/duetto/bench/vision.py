"""Colour segmentation of Toybox frames: nearest-colour labels, per-object tracks and shape measures."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import ndimage

from duetto.world import vocab

# Toy faces: the renderer's eye and mouth colours (any dark colour reads as the mouth below).
EYE_BLACK = (25, 25, 25)
EYE_WHITE = (255, 255, 255)
MOUTH = (70, 20, 30)
#: A pixel farther than this (Euclidean RGB) from every palette colour is left unlabelled. Generated
#: frames may be blurry or slightly off in colour; the closest pair of palette colours is ~100 apart.
MAX_COLOUR_DISTANCE = 90.0
#: A component smaller than this share of H² is noise, not an object (a small ball is ~0.008 H²).
MIN_AREA_SHARE = 0.002
UNLABELLED = -1

# Labels are 2-D per frame: pixels touching across frames are not one component.
_FRAME_STRUCTURE = np.zeros((3, 3, 3), dtype=bool)
_FRAME_STRUCTURE[1] = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class Palette:
    """The colours a scene may contain, by name: its backdrop, every object colour and the face colours."""

    setting: str
    names: tuple[str, ...]
    rgb: np.ndarray = field(compare=False, hash=False)  # (K, 3) float32; setting and names fix it

    def index(self, name: str) -> int:
        return self.names.index(name)


def scene_palette(setting: str) -> Palette:
    """The palette of a scene in `setting`: wall, floor, the six object colours, eye and mouth colours."""
    if setting not in vocab.SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; use one of: {', '.join(vocab.SETTINGS)}")
    wall, floor = vocab.SETTINGS[setting]
    named = {"wall": wall, "floor": floor, **vocab.COLOURS, "eye_black": EYE_BLACK,
             "eye_white": EYE_WHITE, "mouth": MOUTH}
    return Palette(setting, tuple(named), np.array(list(named.values()), dtype=np.float32))


@lru_cache(maxsize=16)
def _lookup(palette: Palette, max_distance: float) -> np.ndarray:
    """Nearest palette label for every colour quantised to 6 bits per channel (a 64³ table)."""
    levels = (np.arange(64, dtype=np.float32) * 4 + 1.5)[:, None]  # centre of each 4-level bin
    grid = np.stack(np.meshgrid(levels[:, 0], levels[:, 0], levels[:, 0], indexing="ij"), axis=-1).reshape(-1, 3)
    d2 = ((grid[:, None, :] - palette.rgb[None, :, :]) ** 2).sum(axis=2)
    nearest = np.argmin(d2, axis=1)
    table = nearest.astype(np.int8)
    table[d2[np.arange(len(grid)), nearest] > max_distance**2] = UNLABELLED
    return table


def label_pixels(frames: np.ndarray, palette: Palette, max_distance: float = MAX_COLOUR_DISTANCE) -> np.ndarray:
    """Nearest palette colour of every pixel, (T, H, W) int8, `UNLABELLED` where none is near enough."""
    table = _lookup(palette, float(max_distance))
    q = (frames >> 2).astype(np.int32)
    return table[(q[..., 0] << 12) | (q[..., 1] << 6) | q[..., 2]]


@dataclass
class Track:
    """One colour's main blob in every frame; NaN (or False) where it is not seen.

    Positions are normalised like the world's: x in W, y in H, origin top-left, y downwards.
    """

    present: np.ndarray  # (T,) bool
    cx: np.ndarray  # centroid x (W)
    cy: np.ndarray  # centroid y (H)
    top: np.ndarray  # top edge (H)
    bottom: np.ndarray  # bottom edge (H)
    left: np.ndarray  # left edge (W)
    right: np.ndarray  # right edge (W)
    area: np.ndarray  # pixels
    fill: np.ndarray  # area / bounding-box area
    clipped: np.ndarray  # (T,) bool: the blob touches the canvas edge, so its shape is cut

    @property
    def frames_seen(self) -> int:
        return int(self.present.sum())


def _empty_track(n: int) -> Track:
    nan = np.full(n, np.nan)
    return Track(np.zeros(n, bool), nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy(),
                 np.zeros(n), nan.copy(), np.zeros(n, bool))


def track_colour(labels: np.ndarray, colour: int, *, near_x: float | None = None,
                 min_area_share: float = MIN_AREA_SHARE) -> Track:
    """The largest blob of palette colour `colour` in every frame of `labels` (T, H, W).

    `near_x` (in W) prefers, among blobs of similar size, the one closest to that x.
    """
    n, height, width = labels.shape
    track = _empty_track(n)
    components, count = ndimage.label(labels == colour, structure=_FRAME_STRUCTURE)
    if count == 0:
        return track
    slices = ndimage.find_objects(components)
    ids = np.arange(1, count + 1)
    area = ndimage.sum_labels(np.ones_like(components, dtype=np.float32), components, ids)
    rows = np.arange(height, dtype=np.float32)[None, :, None]
    cols = np.arange(width, dtype=np.float32)[None, None, :]
    sum_y = ndimage.sum_labels(np.broadcast_to(rows, labels.shape), components, ids)
    sum_x = ndimage.sum_labels(np.broadcast_to(cols, labels.shape), components, ids)
    min_area = min_area_share * height * height
    best: dict[int, tuple[float, int]] = {}
    for k, sl in enumerate(slices):
        if area[k] < min_area:
            continue
        frame = sl[0].start
        score = float(area[k])
        if near_x is not None:
            # Within a frame, a blob twice as far from the expected x must be much larger to win.
            cx = (sum_x[k] / area[k] + 0.5) / width
            score /= 1.0 + 4.0 * abs(cx - near_x)
        if frame not in best or score > best[frame][0]:
            best[frame] = (score, k)
    for frame, (_, k) in best.items():
        sl = slices[k]
        y0, y1, x0, x1 = sl[1].start, sl[1].stop, sl[2].start, sl[2].stop
        track.present[frame] = True
        track.area[frame] = area[k]
        # Pixel (i, j) covers [i, i+1) × [j, j+1): its centre is at +0.5.
        track.cx[frame] = (sum_x[k] / area[k] + 0.5) / width
        track.cy[frame] = (sum_y[k] / area[k] + 0.5) / height
        track.top[frame], track.bottom[frame] = y0 / height, y1 / height
        track.left[frame], track.right[frame] = x0 / width, x1 / width
        track.fill[frame] = area[k] / ((y1 - y0) * (x1 - x0))
        track.clipped[frame] = y0 == 0 or x0 == 0 or y1 == height or x1 == width
    return track


@dataclass(frozen=True)
class BlobShape:
    """What a track says about its object's look, from the frames where it is seen whole."""

    shape: str  # "ball" or "box"
    radius: float  # radius or half side, in H
    size: str  # "small" or "big"
    fill: float


#: Fill ratio between a disc's π/4 and a square's 1.
BOX_FILL = 0.89


def blob_shape(track: Track, height: int) -> BlobShape | None:
    """Shape (fill ratio), radius (from the area) and size class of a tracked blob; None if never whole."""
    whole = track.present & ~track.clipped
    if not whole.any():
        whole = track.present
    if not whole.any():
        return None
    fill = float(np.median(track.fill[whole]))
    area = float(np.median(track.area[whole])) / height**2
    shape = "box" if fill >= BOX_FILL else "ball"
    radius = float(np.sqrt(area) / 2 if shape == "box" else np.sqrt(area / np.pi))
    small, big = vocab.SIZES["small"], vocab.SIZES["big"]
    size = "big" if radius >= np.sqrt(small * big) else "small"
    return BlobShape(shape, radius, size, fill)
