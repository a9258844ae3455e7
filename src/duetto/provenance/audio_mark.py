"""Invisible audio watermark: a keyed clip id in tiny level changes of time-frequency tiles.

How it works, and why:

- The sound is split into 16 bands (80 Hz to 6 kHz, ERB-spaced, smooth crossovers) and 50 ms
  tiles; each tile's level is measured in dB. Levels are what perceptual codecs (MP3, AAC) keep, a
  multiplicative change hides under the content that carries it, and a level in dB ignores the fine
  waveform, so small misalignments and resampling hardly matter. Levels are measured at 16 kHz
  whatever the input rate, at both ends.
- Tiles more than 30 dB below the loudest band of their time slot are read as that floor: codecs
  drop them, so they carry nothing. Digital silence carries nothing either.
- One period is 20 tiles (1 s). In each period the bands that sound in at least 30 % of its tiles (at
  least 4 such bands) are the active set, which embedder and detector both work out from the sound itself. 48 keyed
  orthonormal patterns over the active levels, each with zero mean per band and per tile (so a volume
  or EQ change cancels), carry the payload + CRC by spread-transform dither modulation, the same
  lattice scheme as the video mark; the lattice step shrinks with fewer active bands so that the mark
  stays as quiet for a few steady tones as for broadband sound.
- The embedder finds per-tile gains (at most +-3 dB, most far smaller) by a few rounds of measure and
  correct, spending them preferably on quieter tiles, and scales them down if the mark would come
  within 30 dB of the sound.
- Every whole second carries the whole payload. Any excerpt of at least 2 s contains a whole period
  wherever the cut fell; the detector searches sub-tile and tile offsets (coarse, then fine around
  the best) and averages the periods it finds, each weighted by how much of it has usable sound.
"""

from __future__ import annotations

import functools
from math import gcd

import numpy as np
from scipy import fft
from scipy.ndimage import uniform_filter1d
from scipy.signal import resample_poly

from duetto.provenance.codes import (
    CODE_BITS,
    Detection,
    Key,
    key_bytes,
    keyed_rng,
    make_detection,
    not_found,
    payload_bits,
)

BANDS = 16


def _erb_edges(low: float, high: float, count: int) -> np.ndarray:
    """Band edges equally spaced on the ERB-rate scale: about 65 Hz wide at the bottom (a narrower band
    rings longer than a 50 ms tile) and a sixth of an octave near the top, roughly as hearing resolves."""
    rate = np.linspace(21.4 * np.log10(1 + 0.00437 * low), 21.4 * np.log10(1 + 0.00437 * high), count + 1)
    return (10 ** (rate / 21.4) - 1) / 0.00437


BAND_EDGES_HZ = _erb_edges(80.0, 6000.0, BANDS)
TILE_SECONDS = 0.05
PERIOD_TILES = 20
#: Levels are measured at this rate (the bands end at 6 kHz).
ANALYSIS_RATE = 16000
#: Tiles this far below the loudest band of their slot are clamped there (codecs drop them).
RELATIVE_FLOOR_DB = 30.0
#: Level of digital silence, in dB of mean power (full scale sine = -3 dB).
SILENCE_DB = -100.0
#: Lattice step in dB when all 16 bands carry sound (see `_step`).
DELTA_DB = 2.0
#: A period needs this many bands with sound to carry the 48 bits.
MIN_ACTIVE_BANDS = 4
#: How far (dB) a band must sit above the relative floor in a tile to count as sounding there; the
#: detector also tries the neighbours in case a codec moved a band across the line.
ACTIVE_MARGINS_DB = (6.0, 3.0, 9.0)
#: A band is active in a period when it sounds in at least this share of the period's tiles (speech and
#: impacts come and go; tiles where it is silent are clamped and carry nothing).
ACTIVE_SHARE = 0.3
MAX_GAIN_DB = 3.0
#: The mark stays at least this far below the sound (signal-to-mark ratio, dB).
MIN_SNR_DB = 30.5
#: Sub-tile offsets the detector can try per tile (50 ms / 64, so at most 0.4 ms off).
SYNC_STEPS = 64
_COARSE = 2  # the first pass tries every 2nd sub-tile offset
_REFINE = 4  # then every offset near the 4 best coarse ones
#: Longer inputs are read in windows of this many seconds (each a separate test, counted as such).
WINDOW_SECONDS = 12.0
MIN_SAMPLE_RATE = 14000
#: Periods cycle through this many dither sets; the detector tries each phase.
DITHER_CYCLE = 4
_RAMP_SECONDS = 0.004
_ROUNDS = 5
_QUIET_PREFERENCE = 0.5  # spend gain on a tile in proportion to power**-0.5 (quiet tiles first)


@functools.lru_cache(maxsize=256)
def _carriers(key: bytes, active: int) -> np.ndarray:
    """Keyed carriers (48 x 20*|A|) over the active bands A (a bit mask): orthonormal, zero mean per band
    and per tile, so a volume or EQ change cancels."""
    count = bin(active).count("1")
    raw = keyed_rng(key, f"duetto.amark.{active:04x}").normal(size=(PERIOD_TILES, count, CODE_BITS))
    raw -= raw.mean(axis=0, keepdims=True)
    raw -= raw.mean(axis=1, keepdims=True)
    carriers, _ = np.linalg.qr(raw.reshape(PERIOD_TILES * count, CODE_BITS))
    return carriers.T


def _dithers(key: Key) -> np.ndarray:
    """Dithers (DITHER_CYCLE, 48): period p uses row p % DITHER_CYCLE. Fresh dithers make the periods of
    unmarked sound independent of one another, which lets the false-alarm bound count every period."""
    return keyed_rng(key, "duetto.amark.d").random((DITHER_CYCLE, CODE_BITS))


def _band_list(active: int) -> np.ndarray:
    return np.array([b for b in range(BANDS) if active >> b & 1], dtype=int)


def _step(active: int) -> float:
    """Lattice step for a period with these bands: fewer bands share the same room, so the step shrinks
    to keep the distortion per tile, and hence the signal-to-mark ratio, the same."""
    return DELTA_DB * float(np.sqrt(bin(active).count("1") / BANDS))


def _window_share(flags: np.ndarray) -> np.ndarray:
    """For the period starting at each tile, the share of its tiles where each band's flag is set."""
    running = np.concatenate([np.zeros((1, flags.shape[1])), np.cumsum(flags, axis=0)])
    return (running[PERIOD_TILES:] - running[:-PERIOD_TILES]) / PERIOD_TILES


def _active_masks(levels: np.ndarray, margin: float) -> np.ndarray:
    """Bit mask, for the period starting at each tile, of the bands that sound (`margin` dB above the
    relative floor and well above silence) in at least `ACTIVE_SHARE` of its tiles. Both ends work the
    masks out from the sound itself, so no side channel is needed."""
    above = levels - (levels.max(axis=1, keepdims=True) - RELATIVE_FLOOR_DB)
    sounding = (above >= margin) & (levels > SILENCE_DB + 20.0)
    return (_window_share(sounding) >= ACTIVE_SHARE) @ (1 << np.arange(BANDS))


@functools.lru_cache(maxsize=8)
def _masks(n: int, sample_rate: int) -> np.ndarray:
    """Band masks (16, n//2+1) over the rfft bins: smooth steps in log frequency."""
    log_f = np.log(np.maximum(fft.rfftfreq(n, 1.0 / sample_rate), 1e-3))
    log_edges = np.log(BAND_EDGES_HZ)
    width = 0.075
    rise = 0.5 * (1 + np.tanh((log_f[None, :] - log_edges[:-1, None]) / width))
    fall = 0.5 * (1 - np.tanh((log_f[None, :] - log_edges[1:, None]) / width))
    return (rise * fall).astype(np.float32)


def _bands(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Band signals (..., 16, n) of waves (..., n), zero-padded so no band wraps around the ends."""
    pad = int(0.25 * sample_rate)
    n = fft.next_fast_len(wave.shape[-1] + 2 * pad, real=True)
    padded = np.zeros(wave.shape[:-1] + (n,), np.float32)
    padded[..., pad:pad + wave.shape[-1]] = wave
    spectrum = fft.rfft(padded)
    banded = fft.irfft(spectrum[..., None, :] * _masks(n, sample_rate), n=n)
    return banded[..., pad:pad + wave.shape[-1]]


def _to_analysis_rate(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate == ANALYSIS_RATE:
        return mono.astype(np.float32)
    common = gcd(ANALYSIS_RATE, sample_rate)
    return resample_poly(mono, ANALYSIS_RATE // common, sample_rate // common).astype(np.float32)


def _tile_edges(count: int, sample_rate: int, offset: int = 0) -> np.ndarray:
    # Rounded running edges keep tiles exactly 50 ms on average at rates where a tile is fractional.
    return offset + np.round(np.arange(count + 1) * TILE_SECONDS * sample_rate).astype(np.int64)


def _cumulative_energy(banded: np.ndarray) -> np.ndarray:
    energy = np.cumsum(banded.astype(np.float64) ** 2, axis=1)
    return np.concatenate([np.zeros((banded.shape[0], 1)), energy], axis=1)


def _tile_levels(cumulative: np.ndarray, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tile levels (tiles, 16) in dB, clamped to the relative floor and as measured, from the cumulative
    band energy at the analysis rate, with tiles starting `offset` samples in."""
    samples = cumulative.shape[1] - 1
    count = int((samples - offset) / (TILE_SECONDS * ANALYSIS_RATE))
    edges = _tile_edges(count, ANALYSIS_RATE, offset)
    edges = edges[edges <= samples]
    power = (cumulative[:, edges[1:]] - cumulative[:, edges[:-1]]).T / np.diff(edges)[:, None]
    levels = 10 * np.log10(np.maximum(power, 0.0) + 10 ** (SILENCE_DB / 10))
    return np.maximum(levels, levels.max(axis=1, keepdims=True) - RELATIVE_FLOOR_DB), levels


def _measure(mono: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    return _tile_levels(_cumulative_energy(_bands(_to_analysis_rate(mono, sample_rate), ANALYSIS_RATE)))


def _usable(levels: np.ndarray) -> np.ndarray:
    """Tiles that carry sound a codec keeps: above the relative floor (with margin) and above silence."""
    return (levels > levels.max(axis=1, keepdims=True) - RELATIVE_FLOOR_DB + 1.0) & (levels > SILENCE_DB + 20.0)


def _gain_curves(gain_db: np.ndarray, samples: int, sample_rate: int) -> np.ndarray:
    """Per-band amplitude gains minus one (16, samples): one value per tile, 4 ms ramps so nothing clicks."""
    edges = _tile_edges(gain_db.shape[0], sample_rate)
    curves = np.zeros((BANDS, samples), np.float32)
    curves[:, :edges[-1]] = np.repeat((10 ** (gain_db / 20) - 1).T, np.diff(edges), axis=1)
    return uniform_filter1d(curves, max(1, round(_RAMP_SECONDS * sample_rate)), axis=1)


def _check_wave(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    array = np.asarray(wave, dtype=np.float32)
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise ValueError(f"audio must be (samples,) or (channels, samples) and not empty, got {array.shape}")
    if int(sample_rate) < MIN_SAMPLE_RATE:
        raise ValueError(f"sample_rate must be at least {MIN_SAMPLE_RATE} Hz for the 6 kHz band, got {sample_rate}")
    return np.nan_to_num(array)


def embed_audio_mark(wave: np.ndarray, sample_rate: int, payload: int, key: Key) -> np.ndarray:
    """`wave` ((samples,) or (channels, samples)) carrying `payload` under `key`, as float32.

    Only whole seconds with enough sound carry the mark; audio shorter than a second, or silent, comes
    back unchanged.
    """
    array = _check_wave(wave, sample_rate)
    sample_rate = int(sample_rate)
    channels = array if array.ndim == 2 else array[None, :]
    bits = payload_bits(payload)
    secret, dithers = key_bytes(key), _dithers(key)

    # 1. Which whole periods (seconds) carry the mark: those whose first tile has enough active bands.
    measured, levels = _measure(channels.mean(axis=0), sample_rate)
    plans = _period_plans(levels, measured.shape[0] // PERIOD_TILES, secret)
    if not plans:
        return array.copy()

    # 2. Per-tile band gains that move each period's measured levels onto the lattice points of the bits.
    banded = _bands(channels, sample_rate)  # (channels, 16, n), the parts the gains scale
    gain_db, marked = _fit_gains(channels, banded, measured, levels, plans, bits, dithers, sample_rate)

    # 3. Too loud for this sound: weaken the mark rather than be heard.
    marked = _limit_loudness(channels, banded, gain_db, marked, sample_rate)
    out = marked.astype(np.float32)
    return out if array.ndim == 2 else out[0]


def _period_plans(
    levels: np.ndarray, periods: int, secret: bytes
) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    """(period, its bands, carriers, lattice step) for each period with at least `MIN_ACTIVE_BANDS` active
    bands in its first tile, where the detector looks for them."""
    plans = []
    if periods:
        masks = _active_masks(levels, ACTIVE_MARGINS_DB[0])
        for p in range(periods):
            active = int(masks[p * PERIOD_TILES])
            if bin(active).count("1") >= MIN_ACTIVE_BANDS:
                plans.append((p, _band_list(active), _carriers(secret, active), _step(active)))
    return plans


def _fit_gains(
    channels: np.ndarray,
    banded: np.ndarray,
    measured: np.ndarray,
    levels: np.ndarray,
    plans: list[tuple[int, np.ndarray, np.ndarray, float]],
    bits: np.ndarray,
    dithers: np.ndarray,
    sample_rate: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Gains in dB (tiles, 16) and the marked channels, refined over `_ROUNDS` rounds: each round measures
    the marked sound again and corrects the gains towards every period's targets."""
    periods = measured.shape[0] // PERIOD_TILES
    gain_db = np.zeros((periods * PERIOD_TILES, BANDS))
    targets: dict[int, np.ndarray] = {}
    marked = channels
    # How much a band's measured level moves per dB of gain: 1 inside a band, less for sound on a
    # crossover (shared with the neighbour). Learnt after the first round, it speeds convergence.
    # Only whole periods are marked: tiles past the last whole second are left out of every comparison (audio
    # a tile or more past a whole second, 3.5 s say, failed when the first round's levels kept them).
    measured, levels = measured[: gain_db.shape[0]], levels[: gain_db.shape[0]]
    effect, first_levels = np.ones(BANDS), levels
    for round_ in range(_ROUNDS):
        usable = _usable(levels)
        if round_ == 1:
            moved, applied = (levels - first_levels) * usable, gain_db * usable
            effect = np.clip((moved * applied).sum(axis=0) / np.maximum((applied**2).sum(axis=0), 1e-9), 0.25, 1.0)
        for p, bands, carriers, delta in plans:
            rows = slice(p * PERIOD_TILES, (p + 1) * PERIOD_TILES)
            x = carriers @ measured[rows][:, bands].ravel()
            if p not in targets:
                offsets = (dithers[p % DITHER_CYCLE] + bits / 2.0) * delta
                targets[p] = np.round((x - offsets) / delta) * delta + offsets
            free = usable[rows][:, bands].ravel()
            if not free.any():
                continue
            power = 10 ** (levels[rows][:, bands].ravel() / 10)
            cost = (power / power[free].mean()) ** _QUIET_PREFERENCE
            effective = carriers * np.tile(effect[bands], PERIOD_TILES)
            spread = effective * (free / np.maximum(cost, 1e-6))
            # Least weighted change of the free tiles that moves every projection onto its target.
            step = spread.T @ np.linalg.solve(effective @ spread.T + 0.02 * np.eye(CODE_BITS), targets[p] - x)
            gain_db[rows, bands] += step.reshape(PERIOD_TILES, bands.size)
        np.clip(gain_db, -MAX_GAIN_DB, MAX_GAIN_DB, out=gain_db)
        marked = channels + np.einsum("cbn,bn->cn", banded, _gain_curves(gain_db, channels.shape[-1], sample_rate))
        measured, levels = (a[:gain_db.shape[0]] for a in _measure(marked.mean(axis=0), sample_rate))
    return gain_db, marked


def _limit_loudness(
    channels: np.ndarray, banded: np.ndarray, gain_db: np.ndarray, marked: np.ndarray, sample_rate: int
) -> np.ndarray:
    """`marked`, or with its gains scaled down (at most three times) until the mark is `MIN_SNR_DB` below
    the sound. Scales `gain_db` in place."""
    signal_energy = float(np.sum(channels.astype(np.float64) ** 2))
    for _ in range(3):
        mark_energy = float(np.sum((marked - channels).astype(np.float64) ** 2))
        if mark_energy == 0 or 10 * np.log10(signal_energy / mark_energy) >= MIN_SNR_DB:
            break
        gain_db *= np.sqrt(signal_energy / mark_energy / 10 ** ((MIN_SNR_DB + 0.1) / 10))
        marked = channels + np.einsum("cbn,bn->cn", banded, _gain_curves(gain_db, channels.shape[-1], sample_rate))
    return marked

def _levels_at(cumulative: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    return _tile_levels(cumulative, round(step * TILE_SECONDS * ANALYSIS_RATE / SYNC_STEPS))


def _positions(measured: np.ndarray, levels: np.ndarray, margin: float, secret: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Lattice positions (K, 48), in steps, of the period starting at each tile, and each period's weight
    (the usable share of its active tiles; 0 with fewer than `MIN_ACTIVE_BANDS` active bands)."""
    if measured.shape[0] < PERIOD_TILES:
        return np.zeros((0, CODE_BITS)), np.zeros(0)
    usable = _window_share(_usable(levels))
    periods = np.lib.stride_tricks.sliding_window_view(measured, PERIOD_TILES, axis=0)  # (K, 16, 20)
    masks = _active_masks(levels, margin)
    positions, weight = np.zeros((masks.size, CODE_BITS)), np.zeros(masks.size)
    for active in np.unique(masks).tolist():
        bands = _band_list(active)
        if bands.size < MIN_ACTIVE_BANDS:
            continue
        ks = np.flatnonzero(masks == active)
        values = periods[ks][:, bands, :].transpose(0, 2, 1).reshape(ks.size, -1)
        positions[ks] = values @ _carriers(secret, active).T / _step(active)
        weight[ks] = usable[ks][:, bands].mean(axis=1)
    return positions, weight


def _chains(positions: np.ndarray, weight: np.ndarray, dithers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every first tile (20) and dither phase (4): cos values (4, periods, 20, 48) of the chain of whole
    periods from that tile, their weights (periods, 20), and the mean |cos| score (4, 20)."""
    count = -(-positions.shape[0] // PERIOD_TILES)
    padded = np.zeros((count * PERIOD_TILES, CODE_BITS))
    padded[:positions.shape[0]] = positions
    w = np.zeros(count * PERIOD_TILES)
    w[:weight.size] = weight
    positions, w = padded.reshape(count, PERIOD_TILES, CODE_BITS), w.reshape(count, PERIOD_TILES)
    order = np.arange(count)
    table = dithers[(np.arange(DITHER_CYCLE)[:, None] + order[None, :]) % DITHER_CYCLE]  # (4, periods, 48)
    cosines = np.cos(2 * np.pi * (positions[None] - table[:, :, None, :]))
    totals = w.sum(axis=0)
    score = np.einsum("js,cjs->cs", w, np.abs(cosines).mean(axis=3)) / np.maximum(totals, 1e-12)
    return cosines, w, np.where(totals > 0, score, -1.0)


def _scan(cumulative: np.ndarray, steps: list[int], secret: bytes, dithers: np.ndarray,
          scores: dict[tuple[int, float, int, int], float]) -> None:
    """Score every (sub-tile step, margin, dither phase, first tile) alignment with these steps into
    `scores`: the weighted mean |cos| over the chain's usable periods."""
    for step in steps:
        measured, levels = _levels_at(cumulative, step)
        for margin in ACTIVE_MARGINS_DB:
            positions, weight = _positions(measured, levels, margin, secret)
            if weight.sum() == 0:
                continue
            _, _, score = _chains(positions, weight, dithers)
            for cycle, start in zip(*np.nonzero(score >= 0), strict=True):
                scores[(step, margin, int(cycle), int(start))] = float(score[cycle, start])


def _detect_window(mono16: np.ndarray, secret: bytes, dithers: np.ndarray, windows: int, at: float) -> Detection:
    cumulative = _cumulative_energy(_bands(mono16, ANALYSIS_RATE))
    scores: dict[tuple[int, float, int, int], float] = {}
    _scan(cumulative, list(range(0, SYNC_STEPS, _COARSE)), secret, dithers, scores)
    if not scores:
        return not_found({"periods": 0})
    best_steps: list[int] = []
    for (step, *_), _value in sorted(scores.items(), key=lambda item: -item[1]):
        if step not in best_steps:
            best_steps.append(step)
        if len(best_steps) == _REFINE:
            break
    near = {(s + d) % SYNC_STEPS for s in best_steps for d in range(-_COARSE + 1, _COARSE)} - set(best_steps)
    _scan(cumulative, sorted(near), secret, dithers, scores)
    step, margin, cycle, start = max(scores, key=scores.__getitem__)
    cosines, weights, _ = _chains(*_positions(*_levels_at(cumulative, step), margin, secret), dithers)
    cosines, weights = cosines[cycle, :, start], weights[:, start]
    usable = weights > 0
    soft = weights @ cosines / weights.sum()
    offset = at + step * TILE_SECONDS / SYNC_STEPS + start * TILE_SECONDS
    # Every alignment the search could have picked counts, refined or not.
    candidates = SYNC_STEPS * PERIOD_TILES * len(ACTIVE_MARGINS_DB) * DITHER_CYCLE * windows
    return make_detection(soft, candidates, {"offset_seconds": offset, "periods": int(usable.sum()),
                                             "margin_db": margin, "phase": cycle},
                          groups=cosines[usable], weights=weights[usable])


def detect_audio_mark(wave: np.ndarray, sample_rate: int, key: Key) -> Detection:
    """Look for a mark made with `key` in `wave`, from any cut point; needs about 2 s of sound."""
    array = _check_wave(wave, sample_rate)
    mono = _to_analysis_rate(array if array.ndim == 1 else array.mean(axis=0), int(sample_rate))
    secret, dithers = key_bytes(key), _dithers(key)
    size = int(WINDOW_SECONDS * ANALYSIS_RATE)
    hop = size - int(2 * PERIOD_TILES * TILE_SECONDS * ANALYSIS_RATE)  # overlaps keep every 2 s excerpt whole
    starts = list(range(0, max(1, mono.size - size + hop), hop)) if mono.size > size else [0]
    best: Detection | None = None
    for start in starts:
        detection = _detect_window(mono[start:start + size], secret, dithers, len(starts), start / ANALYSIS_RATE)
        if best is None or detection.false_alarm < best.false_alarm or (
                detection.false_alarm == best.false_alarm and detection.strength > best.strength):
            best = detection
        if detection.found:
            break
    assert best is not None
    return best
