"""Toy voices: source–filter syllables (glottal pulses through vowel formants) and the matching mouth opening.

The mouth opening is computed from the same envelopes that shape the sound, so it is the lip-sync
ground truth: it follows the speech amplitude, scaled by the vowel (a 1.0 … i 0.4), and is closed
in silence and on the lip consonants b, p, m.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# SciPy is imported in the functions that filter: importing it takes about a second, which every command that
# only imports the world (the `duetto` CLI at start-up, caption parsing) would otherwise pay.
from duetto.world import vocab
from duetto.world.scene import SyllablePlan, ToyPlan

# F3 and above are fixed: they give the voice its presence; bandwidths per formant (Hz).
_HIGH_FORMANTS, _BANDWIDTHS = (2500.0, 3500.0, 4500.0), (90.0, 110.0, 170.0, 250.0, 300.0)
_NASAL = {"m": (250.0, 1000.0), "n": (250.0, 2200.0)}
_LIQUID = (360.0, 1300.0, 2700.0, 3500.0, 4500.0)
_BURST_BAND = {"b": (400.0, 1500.0), "p": (400.0, 1500.0), "d": (2500.0, 5000.0), "t": (2500.0, 5000.0)}
# Mouth opening while the consonant sounds: lips shut for b, p, m; a little open otherwise.
_CONSONANT_OPENING = {"b": 0.0, "p": 0.0, "m": 0.0, "d": 0.15, "t": 0.15, "n": 0.15, "l": 0.3}
# Glottal pulse shape (Rosenberg): opening and closing phase as a share of the period. A fast
# closure makes a bright, buzzy source; a slow one a soft source.
_PULSE = {"soft": (0.50, 0.40), "buzzy": (0.35, 0.03)}
VOWEL_RMS = 0.12  # RMS of a full-gain vowel "a"; other vowels scale with their mouth opening
_ATTACK_S, _RELEASE_S = 0.025, 0.040


@lru_cache(maxsize=256)
def _resonators(formants: tuple[float, ...], sample_rate: int) -> np.ndarray | None:
    """Cascade of two-pole resonators with unit gain at 0 Hz, as second-order sections."""
    sections = []
    for f, bw in zip(formants, _BANDWIDTHS, strict=False):
        if f >= 0.45 * sample_rate:
            continue
        r = np.exp(-np.pi * bw / sample_rate)
        c = -2 * r * np.cos(2 * np.pi * f / sample_rate)
        sections.append([1 + c + r * r, 0.0, 0.0, 1.0, c, r * r])
    return np.array(sections) if sections else None


@lru_cache(maxsize=64)
def _butter(order: int, band: tuple[float, ...], btype: str, sample_rate: int) -> np.ndarray:
    from scipy import signal
    return signal.butter(order, band if len(band) > 1 else band[0], btype=btype, fs=sample_rate, output="sos")


def _filter(formants: tuple[float, ...], x: np.ndarray, sample_rate: int) -> np.ndarray:
    from scipy import signal
    sos = _resonators(formants, sample_rate)
    return x if sos is None else signal.sosfilt(sos, x).astype(np.float32)


def _glottal_source(n: int, f0: float, timbre: str, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Differentiated Rosenberg pulses at a jittered, gently falling f0."""
    from scipy import signal
    t = np.arange(n) / sample_rate
    # Natural jitter: slow random wobble of about 1.5 %, plus a 6 % fall over the utterance.
    wobble = signal.sosfilt(_butter(1, (8.0,), "lowpass", sample_rate), rng.standard_normal(n))
    wobble *= 0.015 / max(float(np.std(wobble)), 1e-9)
    f = f0 * (1.0 + wobble) * (1.0 - 0.06 * t / max(t[-1], 1e-9))
    p = np.cumsum(f / sample_rate) % 1.0
    rise, fall = _PULSE[timbre]
    flow = np.where(
        p < rise,
        0.5 * (1 - np.cos(np.pi * p / rise)),
        np.where(p < rise + fall, np.cos(0.5 * np.pi * (p - rise) / fall), 0.0),
    )
    source = np.diff(flow, prepend=0.0).astype(np.float32)
    if timbre == "soft":  # a little breath noise
        source += 0.02 * float(np.abs(source).max()) * rng.standard_normal(n).astype(np.float32)
    return source


def _envelope(n: int, sample_rate: int, attack_s: float, release_s: float) -> np.ndarray:
    env = np.ones(n, dtype=np.float32)
    a = min(int(attack_s * sample_rate), n // 2)
    r = min(int(release_s * sample_rate), n - a)
    if a:
        env[:a] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, a, dtype=np.float32))
    if r:
        env[n - r :] = np.minimum(
            env[n - r :], 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, r, dtype=np.float32))
        )
    return env


def _consonant(
    syl: SyllablePlan, source: np.ndarray, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """The consonant part of a syllable: `source` is the glottal source over the same samples."""
    from scipy import signal
    n = len(source)
    c = syl.consonant
    if c in _NASAL:
        return 0.35 * _filter(_NASAL[c], source, sample_rate) * _envelope(n, sample_rate, 0.01, 0.005)
    if c == "l":
        return 0.5 * _filter(_LIQUID, source, sample_rate) * _envelope(n, sample_rate, 0.01, 0.0)
    # Plosives: a closure, then a burst of band noise; voiced ones (b, d) murmur through the closure.
    out = np.zeros(n, dtype=np.float32)
    burst_at = int(0.6 * n)
    if c in ("b", "d"):
        out[:burst_at] = 0.08 * _filter((250.0,), source[:burst_at], sample_rate)
    lo, hi = _BURST_BAND[c]
    hi = min(hi, 0.45 * sample_rate)
    burst = rng.standard_normal(n - burst_at).astype(np.float32)
    if lo < hi and len(burst) > 12:
        burst = signal.sosfilt(_butter(2, (lo, hi), "bandpass", sample_rate), burst)
    decay = np.exp(-np.arange(len(burst)) / (0.008 * sample_rate)).astype(np.float32)
    strength = 0.5 if c in ("p", "t") else 0.3
    out[burst_at:] = strength * burst * decay
    return out


def synthesize(
    toy: ToyPlan, n: int, sample_rate: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The toy's speech and its mouth opening (0–1), both `n` samples long at `sample_rate`."""
    audio = np.zeros(n, dtype=np.float32)
    opening = np.zeros(n, dtype=np.float32)
    if not toy.syllables:
        return audio, opening
    first = int(round(toy.syllables[0].start * sample_rate))
    last = int(round(toy.syllables[-1].end * sample_rate))
    if first >= n:
        return audio, opening
    source = _glottal_source(last - first, toy.f0, toy.facts.timbre, sample_rate, rng)
    source /= max(float(np.sqrt(np.mean(source**2))), 1e-9)
    for syl in toy.syllables:
        a = int(round(syl.start * sample_rate))
        v = int(round(syl.vowel_start * sample_rate))
        b = int(round(syl.end * sample_rate))
        if a >= n:
            break
        # 1. Consonant onset.
        cons = _consonant(syl, source[a - first : v - first], sample_rate, rng)
        # 2. Vowel: the source through the vowel's formants, levelled so louder means wider open.
        f1, f2 = vocab.FORMANTS[syl.vowel]
        warm = min(int(0.01 * sample_rate), v - a)  # let the resonators ring up on the consonant's tail
        vowel = _filter((f1, f2, *_HIGH_FORMANTS), source[v - warm - first : b - first], sample_rate)[warm:]
        env = _envelope(b - v, sample_rate, _ATTACK_S, _RELEASE_S)
        open_v = vocab.MOUTH_OPENING[syl.vowel]
        level = VOWEL_RMS * syl.gain * (0.5 + 0.5 * open_v)
        vowel = vowel / max(float(np.sqrt(np.mean(vowel**2))), 1e-9) * level * env
        cons_level = VOWEL_RMS * syl.gain
        seg = np.concatenate([cons * cons_level, vowel])
        mouth = np.concatenate(
            [np.full(v - a, _CONSONANT_OPENING[syl.consonant], dtype=np.float32), open_v * syl.gain * env]
        )
        end = min(b, n)
        audio[a:end] += seg[: end - a]
        opening[a:end] = mouth[: end - a]
    return audio, opening


def mouth_per_frame(opening: np.ndarray, sample_rate: int, fps: float, num_frames: int) -> np.ndarray:
    """Mouth opening per video frame: the mean over one frame period centred on the frame's time i/fps."""
    edges = np.round((np.arange(num_frames + 1) - 0.5) * sample_rate / fps).astype(np.int64)
    edges = np.clip(edges, 0, len(opening))
    csum = np.concatenate([[0.0], np.cumsum(opening, dtype=np.float64)])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    return ((csum[edges[1:]] - csum[edges[:-1]]) / counts).astype(np.float32)
