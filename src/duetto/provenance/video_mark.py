"""Invisible video watermark: a keyed clip id in the lowest spatial frequencies of every frame's luma.

How it works, and why:

- Each frame's luma is described by its 2-D cosine coefficients (p, q) with 2 <= p + q and
  p^2 + q^2 <= 64, measured on the frame's own pixel grid in normalised coordinates. These very low
  frequencies survive H.264 at low bitrates and any rescaling unchanged, so the detector needs no
  knowledge of the original size.
- 48 keyed orthonormal combinations of those 55 coefficients each carry one bit of the payload + CRC by
  spread-transform dither modulation: the projection is moved to the nearest point of a keyed, dithered
  lattice of step `DELTA` whose offset encodes the bit. Unlike additive spread spectrum the host image
  does not interfere, which matters for flat synthetic scenes whose edges dwarf any invisible signal.
- The same change is added to R, G and B, so chroma is untouched. A frame whose projection drifts
  keeps its lattice point while it stays within `HYSTERESIS` steps, which avoids flicker.
- Every frame carries the whole payload, so any excerpt, however trimmed, can be read; soft decisions
  are averaged over frames. The detector also tries the two common studio/full-range level mix-ups.
"""

from __future__ import annotations

import numpy as np

from duetto.provenance.codes import CODE_BITS, Detection, Key, keyed_rng, make_detection, payload_bits

#: Weights that make luma from RGB; any weights summing to one see the mark, these match most decoders.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
MAX_FREQUENCY = 8
MIN_ORDER = 2
#: Lattice step in luma levels (orthonormal coefficient units); sets strength: about 39.2 dB PSNR.
DELTA = 1.4
HYSTERESIS = 0.55
#: Per-frame distortion cap (39 dB PSNR before rounding); larger corrections are scaled down.
MAX_MSE = 255.0**2 / 10 ** (39.0 / 10)
#: Level gains tried by the detector: as is, limited range read as full, full read as limited.
GAINS = (1.0, 255.0 / 219.0, 219.0 / 255.0)
MIN_SIDE = 16
DETECT_FRAMES = 96
_CHUNK = 16


def _band() -> tuple[np.ndarray, np.ndarray]:
    pairs = [(p, q) for p in range(MAX_FREQUENCY + 1) for q in range(MAX_FREQUENCY + 1)
             if p + q >= MIN_ORDER and p * p + q * q <= MAX_FREQUENCY**2]
    return np.array([p for p, _ in pairs]), np.array([q for _, q in pairs])


_ROWS, _COLS = _band()


def _basis(n: int) -> np.ndarray:
    """Cosines cos(pi k (i + 1/2) / n) for k = 0..MAX_FREQUENCY, scaled to unit mean square."""
    grid = (np.arange(n) + 0.5) / n
    basis = np.cos(np.pi * np.outer(np.arange(MAX_FREQUENCY + 1), grid))
    basis[1:] *= np.sqrt(2.0)
    return basis.astype(np.float32)


def _code(key: Key) -> tuple[np.ndarray, np.ndarray]:
    """The keyed carriers (48 orthonormal rows over the band) and dithers (fractions of a step)."""
    carriers, _ = np.linalg.qr(keyed_rng(key, "duetto.vmark.u").normal(size=(_ROWS.size, CODE_BITS)))
    dithers = keyed_rng(key, "duetto.vmark.d").random(CODE_BITS)
    return carriers.T.astype(np.float64), dithers


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (T, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] == 0 or min(frames.shape[1:3]) < MIN_SIDE:
        raise ValueError(f"frames must be at least {MIN_SIDE}x{MIN_SIDE} and not empty, got {tuple(frames.shape)}")
    return frames


def _luma(frames: np.ndarray) -> np.ndarray:
    """Luma (t, H, W) float32 of uint8 RGB frames; per-channel products avoid a float copy of all of RGB."""
    return frames[..., 0] * LUMA[0] + frames[..., 1] * LUMA[1] + frames[..., 2] * LUMA[2]


def _coefficients(luma: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Band coefficients (t, K) of luma (t, H, W): the mean of luma times each basis image."""
    grid = rows @ luma @ cols.T / (luma.shape[1] * luma.shape[2])
    return grid[:, _ROWS, _COLS].astype(np.float64)


def _image(coefficients: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Luma change (t, H, W) for band coefficients (t, K)."""
    grid = np.zeros((coefficients.shape[0], MAX_FREQUENCY + 1, MAX_FREQUENCY + 1), np.float32)
    grid[:, _ROWS, _COLS] = coefficients
    return rows.T @ grid @ cols


def embed_video_mark(frames: np.ndarray, payload: int, key: Key) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 carrying `payload` (a 32-bit clip id) under the instance `key`."""
    frames = _check_frames(frames)
    bits = payload_bits(payload)
    carriers, dithers = _code(key)
    offsets = (dithers + bits / 2.0) * DELTA
    rows, cols = _basis(frames.shape[1]), _basis(frames.shape[2])
    out = np.empty_like(frames)
    previous: np.ndarray | None = None
    for start in range(0, frames.shape[0], _CHUNK):
        chunk = frames[start:start + _CHUNK]
        x = _coefficients(_luma(chunk), rows, cols) @ carriers.T
        targets = np.empty_like(x)
        for t in range(x.shape[0]):
            index = np.round((x[t] - offsets) / DELTA)
            if previous is not None:
                index = np.where(np.abs(x[t] - (previous * DELTA + offsets)) < HYSTERESIS * DELTA, previous, index)
            previous = index
            targets[t] = index * DELTA + offsets
        change = targets - x
        # The carriers are orthonormal, so the squared change is the frame's mean squared error.
        mse = (change**2).sum(axis=1, keepdims=True)
        change *= np.sqrt(np.minimum(1.0, MAX_MSE / np.maximum(mse, 1e-12)))
        # rint(pixel + change) == pixel + rint(change) for integer pixels, so int16 arithmetic suffices.
        steps = np.rint(_image(change @ carriers, rows, cols)).astype(np.int16)
        marked = np.add(chunk, steps[..., None], dtype=np.int16)
        clipped = ((marked < 0) | (marked > 255)).any(axis=(1, 2, 3))
        np.clip(marked, 0, 255, out=marked)
        for t in np.flatnonzero(clipped):
            # Saturated pixels could not take their share: push the rest of the frame a little further.
            for _ in range(2):
                got = _coefficients(_luma(marked[t:t + 1].astype(np.float32)), rows, cols) @ carriers.T
                fix = np.rint(_image((targets[t:t + 1] - got) @ carriers, rows, cols)[0]).astype(np.int16)
                marked[t] = np.clip(marked[t] + fix[..., None], 0, 255)
        out[start:start + _CHUNK] = marked.astype(np.uint8)
    return out


def detect_video_mark(frames: np.ndarray, key: Key) -> Detection:
    """Look for a mark made with `key` in frames (T, H, W, 3) uint8 of any size, re-encoded or trimmed."""
    frames = _check_frames(frames)
    carriers, dithers = _code(key)
    picks = np.unique(np.linspace(0, frames.shape[0] - 1, min(frames.shape[0], DETECT_FRAMES)).round().astype(int))
    rows, cols = _basis(frames.shape[1]), _basis(frames.shape[2])
    x = np.concatenate([
        _coefficients(_luma(frames[picks[i:i + _CHUNK]]), rows, cols) @ carriers.T
        for i in range(0, picks.size, _CHUNK)])
    best: tuple[float, np.ndarray, float] | None = None
    for gain in GAINS:
        soft = np.cos(2 * np.pi * (gain * x / DELTA - dithers)).mean(axis=0)
        score = float(np.abs(soft).sum())
        if best is None or score > best[0]:
            best = (score, soft, gain)
    assert best is not None
    return make_detection(best[1], len(GAINS), {"gain": best[2], "frames": int(picks.size)})
