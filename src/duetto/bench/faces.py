"""Reading a talking toy from the frames: head and hat colour, eyes, and the mouth opening per frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from duetto.bench.vision import Palette, track_colour
from duetto.world import vocab
from duetto.world.facts import ToyFacts

#: A head's radius (H) must come out within this factor of the convention's 0.16 to count as found.
HEAD_RADIUS_TOLERANCE = 1.4
#: Least hat area (H²) that counts as a hat; the renderer's hat shows about 0.016 H².
MIN_HAT_AREA = 0.006


@dataclass
class Face:
    """What the frames show of one prompted toy.

    `mouth` is the dark area (H²) inside the lower half of the head in every frame, NaN where the
    head is not seen; it grows with the mouth's opening (spec §4), which is all lip sync needs.
    """

    found: bool
    cx: float = float("nan")  # W
    cy: float = float("nan")  # H
    radius: float = float("nan")  # H
    hat: str | None = None  # a colour name, "none", or None when the head is not found
    eyes: str | None = None  # "dots", "wide", "sleepy", or None when unreadable
    mouth: np.ndarray | None = None

    def speaking(self, threshold_share: float = 0.25) -> np.ndarray:
        """Frames where the mouth is clearly more open than its closed resting size."""
        if self.mouth is None:
            return np.zeros(0, bool)
        closed = float(np.nanpercentile(self.mouth, 10))
        top = float(np.nanmax(self.mouth))
        if top - closed < 1e-4:
            return np.zeros(len(self.mouth), bool)
        return np.nan_to_num(self.mouth, nan=closed) > closed + threshold_share * (top - closed)


def _region(labels: np.ndarray, cx: float, cy: float, half_w: float, top: float, bottom: float) -> np.ndarray:
    """Labels (T, h, w) inside a box given in normalised units (x in W, y in H)."""
    _, height, width = labels.shape
    x0, x1 = max(0, int(round((cx - half_w) * width))), min(width, int(round((cx + half_w) * width)))
    y0, y1 = max(0, int(round(top * height))), min(height, int(round(bottom * height)))
    return labels[:, y0:y1, x0:x1]


def _hat(labels: np.ndarray, palette: Palette, face: Face, head_colour: str, aspect: float) -> str:
    above = _region(labels, face.cx, face.cy - face.radius, 0.7 * face.radius / aspect,
                    face.cy - face.radius - 0.14, face.cy - face.radius + 0.03)
    height = labels.shape[1]
    best, best_area = "none", MIN_HAT_AREA
    for name in vocab.COLOURS:
        if name == head_colour:
            continue
        area = float(np.median((above == palette.index(name)).sum(axis=(1, 2)))) / height**2
        if area >= best_area:
            best, best_area = name, area
    return best


def _eyes(labels: np.ndarray, palette: Palette, face: Face, aspect: float) -> str | None:
    band = _region(labels, face.cx, face.cy, 0.7 * face.radius / aspect, face.cy - 0.45 * face.radius,
                   face.cy + 0.05 * face.radius)
    height = labels.shape[1]
    middle = band[len(band) // 2]
    # Blur turns eye white into "white" and a pupil on a coloured head into "mouth": count both.
    light = np.isin(middle, [palette.index("eye_white"), palette.index("white")])
    if float(light.sum()) / height**2 >= 0.002:
        return "wide"
    dark = np.isin(middle, [palette.index("eye_black"), palette.index("mouth")])
    blobs, count = ndimage.label(dark)
    if count == 0:
        return None
    sizes = ndimage.sum_labels(dark, blobs, np.arange(1, count + 1))
    ratios = []
    for k in np.argsort(sizes)[::-1][:2]:
        rows, cols = ndimage.find_objects(blobs)[k]
        ratios.append((cols.stop - cols.start) / (rows.stop - rows.start))
    # Dots are round; a sleepy lid is a line several times wider than tall.
    return "sleepy" if float(np.mean(ratios)) >= 2.5 else "dots"


def read_face(labels: np.ndarray, palette: Palette, toy: ToyFacts) -> Face:
    """Find the prompted toy's head by colour near its position and read its hat, eyes and mouth."""
    n, height, width = labels.shape
    aspect = width / height
    track = track_colour(labels, palette.index(toy.head_colour), near_x=vocab.POSITIONS[toy.position],
                         min_area_share=0.01)
    if track.frames_seen < max(1, n // 2):
        return Face(found=False)
    seen = track.present
    # The hat hides the top of the head and a neighbour may hide a side, so the larger extent wins.
    radius = float(np.median(np.maximum((track.right - track.left)[seen] * aspect,
                                        (track.bottom - track.top)[seen]))) / 2
    if not (vocab.TOY_HEAD_RADIUS / HEAD_RADIUS_TOLERANCE <= radius <= vocab.TOY_HEAD_RADIUS * HEAD_RADIUS_TOLERANCE):
        return Face(found=False)
    face = Face(found=True, cx=float(np.median(track.cx[seen])), cy=float(np.median(track.bottom[seen])) - radius,
                radius=radius)
    face.hat = _hat(labels, palette, face, toy.head_colour, aspect)
    face.eyes = _eyes(labels, palette, face, aspect)
    lower = _region(labels, face.cx, face.cy, 0.5 * face.radius / aspect, face.cy + 0.1 * face.radius,
                    face.cy + 0.9 * face.radius)
    dark = (lower == palette.index("mouth")) | (lower == palette.index("eye_black"))
    mouth = dark.sum(axis=(1, 2)).astype(np.float64) / height**2
    mouth[~seen] = np.nan
    face.mouth = mouth
    return face
