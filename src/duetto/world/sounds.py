"""Toybox sound effects at any sample rate: impacts by material and size, rumble, scrape and ambiences.

Everything is float32 NumPy; impact sounds are fixed templates (cached per material, size and rate)
that start at full amplitude on their first sample, so an impact's onset is exact to the sample.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# SciPy is imported in the functions that filter: importing it takes about a second, which every command that
# only imports the world (the `duetto` CLI at start-up, caption parsing) would otherwise pay.
from duetto.world import vocab

# (partial frequencies in Hz, their relative amplitudes, decay time constant in s), spec §3.
_PARTIALS = {
    "wood": ((700.0, 1150.0, 1900.0), (1.0, 0.6, 0.35), 0.025),
    "metal": (tuple(1200.0 * r for r in (1.0, 1.52, 2.31, 3.05, 3.92)), (1.0, 0.8, 0.6, 0.45, 0.3), 0.250),
    "glass": ((3200.0, 4700.0, 6100.0), (1.0, 0.6, 0.4), 0.060),
}
_RUBBER_BASE, _RUBBER_TAU = 180.0, 0.060
_SMALL_SCALE = {"rubber": 1.6, "wood": 1.4}  # small objects sound higher (spec §3)
_TEMPLATE_TAUS = 6.0  # a template lasts this many decay constants (−52 dB)
RUMBLE_GAIN = 0.25  # RMS per unit of speed (H/s)
SCRAPE_GAIN = 0.12
_FADE_S = 0.01


def _nyquist_ok(freq: float, sample_rate: int) -> bool:
    return freq < 0.45 * sample_rate


@lru_cache(maxsize=64)
def impact_template(material: str, size: str, sample_rate: int) -> np.ndarray:
    """The sound of one impact at unit peak amplitude, peak on sample 0 (read-only float32)."""
    scale = _SMALL_SCALE.get(material, 1.0) if size == "small" else 1.0
    if material == "rubber":
        tau = _RUBBER_TAU
        t = np.arange(int(_TEMPLATE_TAUS * tau * sample_rate)) / sample_rate
        base = _RUBBER_BASE * scale
        # Pitch glides down from 1.5× to the base: f(t) = base·(1 + 0.5·e^(−t/20 ms)), phase is its integral.
        phase = 2 * np.pi * base * (t + 0.5 * 0.02 * (1 - np.exp(-t / 0.02)))
        wave = np.cos(phase) * np.exp(-t / tau)
    else:
        freqs, amps, tau = _PARTIALS[material]
        t = np.arange(int(_TEMPLATE_TAUS * tau * sample_rate)) / sample_rate
        wave = np.zeros_like(t)
        partials = [
            (f * scale, a) for f, a in zip(freqs, amps, strict=True) if _nyquist_ok(f * scale, sample_rate)
        ]
        # At very low sample rates keep one partial just under Nyquist, so an impact is never silent.
        for f, a in partials or [(0.4 * sample_rate, 1.0)]:
            wave += a * np.cos(2 * np.pi * f * t)
        wave *= np.exp(-t / tau)
        if material == "wood":
            click = np.random.default_rng(7).standard_normal(max(1, int(0.003 * sample_rate)))
            wave[: len(click)] += 0.5 * click * np.linspace(1.0, 0.0, len(click))
    wave /= np.abs(wave).max()
    # Start at the peak so the onset sample carries the full amplitude.
    wave[0] = 1.0
    wave = wave.astype(np.float32)
    wave.flags.writeable = False
    return wave


def impact_peak(speed: float) -> float:
    """Peak amplitude of an impact at `speed` H/s (spec §3: proportional, clipped to [0.1, 0.9])."""
    lo, hi = vocab.IMPACT_PEAK_RANGE
    return float(np.clip(vocab.IMPACT_GAIN * speed, lo, hi))


def add_impact(out: np.ndarray, time: float, peak: float, material: str, size: str, sample_rate: int) -> int:
    """Mix one impact into `out` starting at the sample nearest `time`; returns that sample index."""
    start = int(round(time * sample_rate))
    if start >= len(out) or start < 0:
        return start
    tpl = impact_template(material, size, sample_rate)
    n = min(len(tpl), len(out) - start)
    out[start : start + n] += peak * tpl[:n]
    return start


@lru_cache(maxsize=32)
def _sos(kind: str, sample_rate: int) -> np.ndarray | None:
    from scipy import signal
    nyq = 0.45 * sample_rate
    if kind == "rumble":
        return signal.butter(4, min(300.0, nyq), btype="lowpass", fs=sample_rate, output="sos")
    if kind == "scrape":
        lo, hi = 1000.0, min(3000.0, nyq)
        return (
            None if lo >= hi else signal.butter(3, (lo, hi), btype="bandpass", fs=sample_rate, output="sos")
        )
    if kind == "wind":
        return signal.butter(4, min(500.0, nyq), btype="lowpass", fs=sample_rate, output="sos")
    raise KeyError(kind)


def _unit_rms(x: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return x / rms if rms > 0 else x


def moving_noise(kind: str, speed: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Rumble (rolling) or scrape (sliding) whose amplitude follows `speed` (H/s, one value per sample)."""
    from scipy import signal
    out = np.zeros(len(speed), dtype=np.float32)
    active = np.flatnonzero(speed > 0)
    sos = _sos(kind, sample_rate)
    if len(active) == 0 or sos is None:
        return out
    a, b = active[0], active[-1] + 1
    noise = rng.standard_normal(b - a).astype(np.float32)
    noise = _unit_rms(signal.sosfilt(sos, noise).astype(np.float32))
    gain = (RUMBLE_GAIN if kind == "rumble" else SCRAPE_GAIN) * speed[a:b]
    # Short fades keep the start and stop from clicking like an impact.
    fade = max(1, min(int(_FADE_S * sample_rate), (b - a) // 2))
    ramp = np.ones(b - a, dtype=np.float32)
    ramp[:fade] = np.linspace(0.0, 1.0, fade, dtype=np.float32)
    ramp[len(ramp) - fade :] = np.minimum(
        ramp[len(ramp) - fade :], np.linspace(1.0, 0.0, fade, dtype=np.float32)
    )
    out[a:b] = noise * gain * ramp
    return out


def _pink(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n).astype(np.float32))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))  # 1/f power, flat below 20 Hz
    return np.fft.irfft(spectrum, n).astype(np.float32)


def _droplets(n: int, sample_rate: int, rng: np.random.Generator, per_second: float = 20.0) -> np.ndarray:
    from scipy import signal
    out = np.zeros(n, dtype=np.float32)
    count = rng.poisson(per_second * n / sample_rate)
    where = rng.integers(0, n, size=count)
    np.add.at(out, where, rng.uniform(0.3, 1.0, size=count).astype(np.float32))
    freq = min(3500.0, 0.4 * sample_rate)
    t = np.arange(int(0.008 * sample_rate)) / sample_rate
    kernel = (np.sin(2 * np.pi * freq * t) * np.exp(-t / 0.0015)).astype(np.float32)
    return signal.oaconvolve(out, kernel)[:n].astype(np.float32) if len(kernel) > 1 else out


def ambience(name: str, n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of the named background sound at its level in `vocab.AMBIENCE_DBFS`."""
    from scipy import signal
    level = vocab.AMBIENCE_DBFS[name]
    if level is None or n == 0:
        return np.zeros(n, dtype=np.float32)
    t = np.arange(n, dtype=np.float32) / sample_rate
    if name == "rain":
        bed = _unit_rms(_pink(n, sample_rate, rng))
        # Droplets sit ~6 dB above the bed's RMS at their peak: audible ticks, far below any impact.
        wave = bed + 2.0 * _droplets(n, sample_rate, rng)
    elif name == "wind":
        noise = signal.sosfilt(_sos("wind", sample_rate), rng.standard_normal(n).astype(np.float32))
        rate, phase = rng.uniform(0.2, 0.5), rng.uniform(0, 2 * np.pi)
        wave = _unit_rms(noise.astype(np.float32)) * (1.0 + 0.6 * np.sin(2 * np.pi * rate * t + phase))
    elif name == "hum":
        wave = np.zeros(n, dtype=np.float32)
        for k, a in zip((1, 2, 3, 4), (1.0, 0.5, 0.3, 0.2), strict=True):
            if _nyquist_ok(100.0 * k, sample_rate):
                wave += a * np.sin(2 * np.pi * 100.0 * k * t + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    else:
        raise ValueError(f"unknown ambience {name!r}; use one of: {', '.join(vocab.AMBIENCES)}")
    return (_unit_rms(wave) * 10 ** (level / 20)).astype(np.float32)
