"""Small stand-ins for Toybox sounds and pictures, so each measure can be tested on signals we control."""

from __future__ import annotations

import numpy as np
from scipy import signal

SR = 16_000

MATERIAL_PARTIALS = {
    "rubber": ([180.0], 0.060),
    "wood": ([700.0, 1150.0, 1900.0], 0.025),
    "metal": ([1200.0 * r for r in (1, 1.52, 2.31, 3.05, 3.92)], 0.250),
    "glass": ([3200.0, 4700.0, 6100.0], 0.060),
}


def impact(material: str, peak: float, rng: np.random.Generator) -> np.ndarray:
    """A damped-partials knock starting at sample 0 with random phases, scaled to `peak`.

    It lasts ten decay constants, so it fades out instead of stopping with a click.
    """
    partials, tau = MATERIAL_PARTIALS[material]
    t = np.arange(int(10 * tau * SR)) / SR
    wave = np.zeros_like(t)
    for i, f in enumerate(partials):
        glide = f * (1 + 0.3 * np.exp(-t / 0.02)) if material == "rubber" else f
        phase = 2 * np.pi * np.cumsum(glide) / SR + rng.uniform(0, 2 * np.pi)
        wave += np.sin(phase) / (i + 1)
    wave *= np.exp(-t / tau)
    return peak * wave / np.max(np.abs(wave))


def ambience(kind: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Spec-level background: silence, pink noise + droplets, low-passed modulated noise, or a 100 Hz hum."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if kind == "quiet":
        return np.zeros(n)
    if kind == "rain":
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / SR)
        spectrum[1:] /= np.sqrt(f[1:])
        spectrum[0] = 0
        pink = np.fft.irfft(spectrum, n)
        wave = pink / np.sqrt(np.mean(pink**2)) * 10 ** (-30 / 20)
        for start in rng.uniform(0, seconds - 0.01, size=int(20 * seconds)):
            i = int(start * SR)
            click = rng.standard_normal(48) * np.exp(-np.arange(48) / 10) * 0.05
            wave[i : i + 48] += click
        return wave
    if kind == "wind":
        sos = signal.butter(4, 500, fs=SR, output="sos")
        noise = signal.sosfilt(sos, rng.standard_normal(n))
        noise *= 1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t)
        return noise / np.sqrt(np.mean(noise**2)) * 10 ** (-28 / 20)
    if kind == "hum":
        wave = sum(np.sin(2 * np.pi * 100 * k * t) / k for k in range(1, 5))
        return wave / np.sqrt(np.mean(wave**2)) * 10 ** (-32 / 20)
    raise ValueError(kind)


def place(track: np.ndarray, sound: np.ndarray, time: float) -> None:
    """Add `sound` into `track` starting at `time` seconds (cut at the end)."""
    i = int(round(time * SR))
    end = min(len(track), i + len(sound))
    track[i:end] += sound[: end - i]


def vowel_speech(syllables: list[tuple[float, float]], f0: float, seconds: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A buzzy pulse train through one formant pair per syllable; returns (audio, amplitude at each sample)."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    amp = np.zeros(n)
    for start, end in syllables:
        inside = (t >= start) & (t < end)
        phase = (t[inside] - start) / (end - start)
        amp[inside] = np.sin(np.pi * phase) ** 0.5
    period = SR / f0
    pulses = np.zeros(n)
    pulses[(np.arange(0, n, period)).astype(int)] = 1.0
    voiced = np.zeros(n)
    for f1, f2 in [(730, 1090)]:
        for fc in (f1, f2):
            b, a = signal.iirpeak(fc, 8, fs=SR)
            voiced += signal.lfilter(b, a, pulses)
    voiced /= np.max(np.abs(voiced)) + 1e-9
    return 0.5 * voiced * amp + 1e-4 * rng.standard_normal(n), amp


def canvas(frames: int, size: int = 128, wall=(205, 190, 160), floor=(120, 80, 50)) -> np.ndarray:
    """Frames (T, size, size, 3) of a flat wall above y = 0.8 and floor below."""
    rows = (np.arange(size) + 0.5) / size >= 0.8
    image = np.empty((size, size, 3), np.uint8)
    image[~rows], image[rows] = wall, floor
    return np.repeat(image[None], frames, axis=0)


def draw(frames: np.ndarray, k: int, shape: str, x: float, y: float, r: float, colour) -> None:
    """Paint a disc or square (centre x in W, y in H, radius r in H) into frame k, pixel-centre sampled."""
    size_y, size_x = frames.shape[1:3]
    yy, xx = np.mgrid[0:size_y, 0:size_x]
    dy = ((yy + 0.5) / size_y - y) / r
    dx = ((xx + 0.5) / size_x - x) * size_x / size_y / r
    inside = dx**2 + dy**2 <= 1 if shape == "ball" else (np.abs(dx) <= 1) & (np.abs(dy) <= 1)
    frames[k][inside] = colour


def degrade(frames: np.ndarray, rng: np.random.Generator, shift: int = 12, noise: float = 4.0,
            blur: bool = True) -> np.ndarray:
    """What a generator might make of clean frames: a 3×3 blur, a colour shift and pixel noise."""
    from scipy import ndimage

    blurred = frames.astype(np.float32)
    if blur:
        blurred = ndimage.uniform_filter(blurred, size=(1, 3, 3, 1))
    out = blurred + shift + rng.normal(0.0, noise, frames.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
