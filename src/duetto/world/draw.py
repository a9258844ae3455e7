"""Drawing Toybox frames: flat-coloured backdrops, objects and toys, many frames at once with broadcasting.

A pixel (row i, column j) takes a shape's colour when its centre ((j + ½)/W, (i + ½)/H) lies inside the
shape; there is no anti-aliasing, so every pixel has exactly one of the scene's colours.
"""

from __future__ import annotations

import numpy as np

from duetto.world import vocab
from duetto.world.scene import ToyPlan

EYE_BLACK, EYE_WHITE, MOUTH = vocab.EYE_BLACK, vocab.EYE_WHITE, vocab.MOUTH_COLOUR
# Toy face layout, in H relative to the head centre (x to the right, y downwards).
EYE_DX, EYE_DY = 0.06, -0.04
MOUTH_DY, MOUTH_HALF_WIDTH, MOUTH_MAX_HALF_HEIGHT = 0.06, 0.055, 0.045
MOUTH_CLOSED_HALF_HEIGHT = 0.004
HAT_HALF_WIDTH, HAT_HEIGHT, HAT_SINK = 0.10, 0.10, 0.02


def backdrop(setting: str, height: int, width: int) -> np.ndarray:
    """The setting's wall above y = FLOOR_Y and floor below it, uint8 (H, W, 3)."""
    wall, floor = vocab.SETTINGS[setting]
    rows = (np.arange(height) + 0.5) / height >= vocab.FLOOR_Y
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[~rows] = wall
    image[rows] = floor
    return image


def paint(
    frames: np.ndarray,
    shape: str,
    cx: np.ndarray | float,
    cy: np.ndarray | float,
    rx: np.ndarray | float,
    ry: np.ndarray | float,
    colour: tuple[int, int, int],
) -> None:
    """Paint an ellipse or rectangle into every frame of `frames` (T, H, W, 3), in place.

    Centres and radii are in pixels and may be per-frame arrays (T,); `shape` is "ellipse" or "rect".
    Only the rectangle that the shape covers over all frames is touched.
    """
    n, height, width = frames.shape[:3]
    cx, cy, rx, ry = (np.broadcast_to(np.asarray(v, dtype=np.float32), (n,)) for v in (cx, cy, rx, ry))
    x0, x1 = max(int(np.floor((cx - rx).min())), 0), min(int(np.ceil((cx + rx).max())) + 1, width)
    y0, y1 = max(int(np.floor((cy - ry).min())), 0), min(int(np.ceil((cy + ry).max())) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return
    dx = (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx[:, None]) / rx[:, None]  # (T, w)
    dy = (np.arange(y0, y1, dtype=np.float32) + 0.5 - cy[:, None]) / ry[:, None]  # (T, h)
    if shape == "ellipse":
        mask = dy[:, :, None] ** 2 + dx[:, None, :] ** 2 <= 1.0
    else:
        mask = (np.abs(dy) <= 1.0)[:, :, None] & (np.abs(dx) <= 1.0)[:, None, :]
    region = frames[:, y0:y1, x0:x1]
    region[mask] = colour


def draw_object(
    frames: np.ndarray, shape: str, colour: str, x: np.ndarray, y: np.ndarray, radius: float
) -> None:
    """Draw a ball (disc) or box (square) centred at normalised (x, y) per frame, `radius` in H."""
    height, width = frames.shape[1:3]
    r = radius * height
    paint(
        frames, "ellipse" if shape == "ball" else "rect", x * width, y * height, r, r, vocab.COLOURS[colour]
    )


def toy_head_centre(toy: ToyPlan) -> tuple[float, float]:
    """Normalised centre of a toy's head, which stands on the floor."""
    return toy.x, vocab.FLOOR_Y - vocab.TOY_HEAD_RADIUS


def draw_toy(canvas: np.ndarray, toy: ToyPlan) -> None:
    """Draw a toy's head, hat and eyes (everything but the mouth) onto one image (H, W, 3)."""
    height, width = canvas.shape[:2]
    frames = canvas[None]
    hx, hy = toy_head_centre(toy)
    cx, cy, u = hx * width, hy * height, float(height)  # u: pixels per H
    r = vocab.TOY_HEAD_RADIUS * u
    paint(frames, "ellipse", cx, cy, r, r, vocab.COLOURS[toy.facts.head_colour])
    if toy.facts.hat != "none":
        top = cy - r - HAT_HEIGHT * u + HAT_SINK * u
        paint(
            frames,
            "rect",
            cx,
            top + 0.5 * HAT_HEIGHT * u,
            HAT_HALF_WIDTH * u,
            0.5 * HAT_HEIGHT * u,
            vocab.COLOURS[toy.facts.hat],
        )
    ey = cy + EYE_DY * u
    for side in (-1, 1):
        ex = cx + side * EYE_DX * u
        if toy.facts.eyes == "dots":
            paint(frames, "ellipse", ex, ey, 0.018 * u, 0.018 * u, EYE_BLACK)
        elif toy.facts.eyes == "wide":
            paint(frames, "ellipse", ex, ey, 0.038 * u, 0.038 * u, EYE_WHITE)
            paint(frames, "ellipse", ex, ey, 0.016 * u, 0.016 * u, EYE_BLACK)
        else:  # sleepy: a closed lid, drawn as a short horizontal line at least one pixel thick
            paint(frames, "rect", ex, np.floor(ey) + 0.5, 0.035 * u, max(0.008 * u, 0.5), EYE_BLACK)


def mouth_box(toy: ToyPlan, height: int, width: int) -> tuple[float, float, float]:
    """Pixel centre (x, y) of a toy's mouth and its half width; y sits on a pixel row so a closed mouth shows."""
    hx, hy = toy_head_centre(toy)
    return hx * width, np.floor((hy + MOUTH_DY) * height) + 0.5, MOUTH_HALF_WIDTH * height


def draw_mouths(frames: np.ndarray, toy: ToyPlan, opening: np.ndarray) -> None:
    """Draw the toy's mouth in every frame: a dark ellipse whose half height follows `opening` (T,)."""
    height, width = frames.shape[1:3]
    mx, my, half_w = mouth_box(toy, height, width)
    half_h = np.maximum(opening * MOUTH_MAX_HALF_HEIGHT * height, max(MOUTH_CLOSED_HALF_HEIGHT * height, 0.5))
    paint(frames, "ellipse", mx, my, half_w, half_h, MOUTH)
