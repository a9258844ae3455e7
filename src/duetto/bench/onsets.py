"""Sound onsets to the millisecond: spectral-flux peaks over an adaptive threshold, refined in the bands that rose."""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np
from scipy import ndimage, signal

#: Every audio measure runs at this rate; other rates are resampled first.
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Resolution:
    """One time–frequency view for onset detection.

    The flux compares each frame with the frame `lag` hops back, a whole window earlier, so a knock's
    full rise counts rather than the sliver two overlapping windows differ by; the earlier frame is
    max-filtered across 3 bins (the "SuperFlux" trick), so stationary noise barely registers.
    `spread_s` is how far the true onset may lie from a flux peak's frame centre.
    """

    n_fft: int
    hop: int
    spread_s: float

    @property
    def lag(self) -> int:
        return self.n_fft // self.hop

    @property
    def hop_s(self) -> float:
        return self.hop / SAMPLE_RATE


#: 32 ms windows every 4 ms: onsets placed within a few ms before refinement.
FINE = Resolution(512, 64, 0.012)

_FLUX_COMPRESSION = 100.0
_FLUX_BIN_MARGIN = 0.5
_FLUX_BIN_SPREADS = 2.0
_FLUX_SPREADS = 6.0
#: Least flux over the local median for a peak; digital silence and AAC's faint noise stay under it.
FLUX_FLOOR = 2.0
#: The floor for the faint onsets looked for around visual impacts (see `evaluate`).
FAINT_FLUX_FLOOR = 0.0
_MIN_BAND_HZ = 200.0
# Onsets closer than this are one event (bounces are ≥ 150 ms apart, syllables ≥ 180 ms).
_MIN_ONSET_GAP_S = 0.03
# Rain droplets are clicks of a few ms; an impact carries at least this much in-band energy over
# the background in the 40 ms after its onset (a 0.1-peak wood knock carries about 2e-5).
_EVENT_ENERGY_WINDOW_S = 0.040
MIN_EVENT_ENERGY = 1.0e-5
MIN_EVENT_SNR = 4.0
# Flux peaks of ambience noise and droplets stay under ~8 over the threshold; knocks reach 20–800.
EVENT_STRENGTH = 12.0


@dataclass(frozen=True)
class Onset:
    """One detected sound onset.

    Attributes:
        time: onset instant in seconds, refined to about a millisecond.
        strength: spectral-flux peak height over the adaptive threshold.
        energy: energy (sum of squares / rate) in the bands that rose, within 40 ms after the onset,
            background removed.
        snr: power in those bands after the onset over the power before it.
    """

    time: float
    strength: float
    energy: float
    snr: float

    @property
    def is_event(self) -> bool:
        """Loud enough to be a sound event rather than an ambience droplet or a noise flicker."""
        # A strong flux peak is an event even when an earlier knock still rings in its bands.
        return self.strength >= EVENT_STRENGTH or (self.energy >= MIN_EVENT_ENERGY and self.snr >= MIN_EVENT_SNR)


def prepare_audio(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """A waveform as mono float64 at `SAMPLE_RATE` (channels averaged, polyphase resampling)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=0)
    if x.ndim != 1:
        raise ValueError(f"audio must be (samples,) or (channels, samples), got shape {x.shape}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    if sample_rate != SAMPLE_RATE:
        g = gcd(int(sample_rate), SAMPLE_RATE)
        x = signal.resample_poly(x, SAMPLE_RATE // g, int(sample_rate) // g)
    return np.nan_to_num(x)


def frame_signal(x: np.ndarray, size: int, hop: int) -> np.ndarray:
    """Frames (n, size) starting every `hop` samples; the signal is zero-padded to fill the last one."""
    count = max(1, 1 + int(np.ceil((len(x) - size) / hop))) if len(x) > size else 1
    need = (count - 1) * hop + size
    padded = np.pad(x, (0, max(0, need - len(x))))
    return np.lib.stride_tricks.sliding_window_view(padded, size)[::hop][:count]


def spectrogram(x: np.ndarray, n_fft: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrogram (frames, bins) of Hann-windowed frames, and each frame's centre time in s."""
    frames = frame_signal(x, n_fft, hop) * signal.windows.hann(n_fft, sym=False)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    times = (np.arange(len(frames)) * hop + n_fft / 2) / SAMPLE_RATE
    return power, times


def spectral_flux(x: np.ndarray, res: Resolution = FINE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SuperFlux-style novelty curve of a 16 kHz waveform: (flux, frame centre times, power spectrogram).

    A bin counts only by how much it rose beyond a margin (in natural-log magnitude): at least
    `_FLUX_BIN_MARGIN`, and twice the bin's own typical rise, so ambience flickering in a noisy bin
    mostly vanishes while a knock's partials, far over the noise in their bins, count fully.
    """
    power, times = spectrogram(x, res.n_fft, res.hop)
    logmag = np.log1p(_FLUX_COMPRESSION * np.sqrt(power))
    reference = ndimage.maximum_filter1d(logmag, size=3, axis=1)
    flux = np.zeros(len(logmag))
    if len(logmag) > res.lag:
        rise = logmag[res.lag :] - reference[: -res.lag]
        spread = 1.4826 * np.median(np.abs(rise - np.median(rise, axis=0)), axis=0)
        margin = np.maximum(_FLUX_BIN_MARGIN, _FLUX_BIN_SPREADS * spread)
        flux[res.lag :] = np.maximum(rise - margin, 0.0).sum(axis=1)
    return flux, times, power


def _adaptive_threshold(flux: np.ndarray, hop_s: float, floor: float) -> np.ndarray:
    """Local median plus a multiple of the local median deviation (±0.3 s), plus a fixed floor."""
    width = max(3, int(round(0.6 / hop_s)) | 1)
    median = ndimage.median_filter(flux, size=width, mode="nearest")
    spread = ndimage.median_filter(np.abs(flux - median), size=width, mode="nearest")
    return median + _FLUX_SPREADS * spread + floor


def _rose_bands(power: np.ndarray, frame: int, res: Resolution) -> list[tuple[float, float]]:
    """Frequency bands (Hz) that got much louder at the onset near flux frame `frame`.

    The flux peaks when the onset is near the frame's centre, so the frames ending about half a
    window before it hold what came before and the frame half a window later holds the onset. A bin
    of noise exceeds 8× its mean power with probability e⁻⁸, so the 9 dB rule keeps ambience out; a
    knock on a still-ringing knock of the same partials rises less, hence the 3 dB fallback.
    """
    half = res.lag // 2
    before = power[max(0, frame - half - 7) : max(1, frame - half - 1)].mean(axis=0)
    after = power[min(len(power) - 1, frame + half - 1)]
    ratio = after / np.maximum(before, 1e-12)
    for factor in (8.0, 2.0):
        rose = (ratio > factor) & (after > 1e-6 * after.max())
        if rose.sum() >= 2:
            break
    else:
        return [(0.0, SAMPLE_RATE / 2)]
    labels, _ = ndimage.label(ndimage.binary_dilation(rose, iterations=2))
    bin_hz = SAMPLE_RATE / res.n_fft
    bands = []
    for found in ndimage.find_objects(labels):
        lo, hi = (found[0].start - 0.5) * bin_hz, (found[0].stop - 0.5) * bin_hz
        # A narrow band smears the onset over ~1/bandwidth; widen it so the smear stays under 5 ms.
        grow = max(0.0, _MIN_BAND_HZ - (hi - lo)) / 2
        bands.append((max(0.0, lo - grow), min(SAMPLE_RATE / 2, hi + grow)))
    return bands


def measure_onset(x: np.ndarray, approx: float, bands: list[tuple[float, float]] | None = None,
                  spread_s: float = FINE.spread_s) -> tuple[float, float, float]:
    """(time, energy, snr) of the onset within about `spread_s` of `approx` seconds.

    Each band that rose at the onset is isolated (so a tonal knock stands out of broadband ambience)
    and the band energies are summed into one envelope, so partials do not beat against each other.
    The onset is where that envelope's amplitude last climbs through 65 % of the way from the
    background before the onset to its peak after it (band-limiting blurs the step nearly
    symmetrically; 65 % offsets the skirt the analytic envelope has before a sudden start).
    `energy` is the in-band energy of the 40 ms after the onset minus the background's, and `snr`
    the ratio of the in-band power after the onset to the power before it.
    """
    spread = int(spread_s * SAMPLE_RATE)
    pre, post = spread + int(0.048 * SAMPLE_RATE), spread + int(0.048 * SAMPLE_RATE)
    centre = int(round(approx * SAMPLE_RATE))
    lo, hi = max(0, centre - pre), min(len(x), centre + post)
    snippet = x[lo:hi]
    at = centre - lo
    if at < spread + int(0.013 * SAMPLE_RATE) or hi - centre < spread + int(0.018 * SAMPLE_RATE):
        return approx, 0.0, 0.0
    n_fft = 1 << int(np.ceil(np.log2(2 * len(snippet))))
    spectrum = np.fft.fft(snippet, n_fft)
    freqs = np.fft.fftfreq(n_fft, 1 / SAMPLE_RATE)
    power = np.zeros(len(snippet))
    for f_lo, f_hi in bands or [(0.0, SAMPLE_RATE / 2)]:
        # Analytic signal of the band: its positive frequencies doubled, everything else dropped.
        mask = (freqs >= f_lo) & (freqs <= f_hi)
        power += np.abs(np.fft.ifft(spectrum * mask * 2.0)[: len(snippet)]) ** 2 / 2
    envelope = np.sqrt(ndimage.uniform_filter1d(power, size=17))
    background_power = float(np.median(power[: at - spread - int(0.008 * SAMPLE_RATE)]))
    background = float(np.sqrt(background_power))
    search = slice(at - spread, at + spread + int(0.013 * SAMPLE_RATE))
    peak_index = search.start + int(np.argmax(envelope[search]))
    peak = float(envelope[peak_index])
    onset = float(centre)
    if peak > background:
        level = background + 0.65 * (peak - background)
        below = np.flatnonzero(envelope[: peak_index + 1] < level)
        if len(below):
            i = int(below[-1])
            # Linear interpolation between the last sample below the level and the first above it.
            e0, e1 = envelope[i], envelope[i + 1]
            frac = (level - e0) / (e1 - e0) if e1 > e0 else 0.0
            onset = lo + i + float(np.clip(frac, 0.0, 1.0))
    start = int(onset) - lo
    width = int(_EVENT_ENERGY_WINDOW_S * SAMPLE_RATE)
    after = power[start : start + width]
    energy = max(0.0, float(np.sum(after)) - background_power * len(after)) / SAMPLE_RATE
    snr = float(np.mean(after)) / max(background_power, 1e-12) if len(after) else 0.0
    return onset / SAMPLE_RATE, energy, snr


def detect_onsets(x: np.ndarray, *, floor: float = FLUX_FLOOR, res: Resolution = FINE) -> list[Onset]:
    """Sound onsets of a 16 kHz waveform: spectral-flux peaks over an adaptive threshold, refined.

    Every peak over the threshold is returned, including faint ones such as rain droplets;
    `Onset.is_event` tells events from those. A lower `floor` lets fainter peaks through (they
    still have to pass `is_event`'s in-band energy and SNR tests).
    """
    if len(x) < res.n_fft:
        return []
    flux, times, power = spectral_flux(x, res)
    threshold = _adaptive_threshold(flux, res.hop_s, floor)
    distance = max(1, int(round(_MIN_ONSET_GAP_S / res.hop_s)))
    peaks, _ = signal.find_peaks(flux, distance=distance)
    onsets = []
    for p in peaks[flux[peaks] > threshold[peaks]]:
        # The flux peaks when the onset is within a few ms of the frame's centre (measured on knocks
        # of every material); `measure_onset` searches `spread_s` around it.
        t, energy, snr = measure_onset(x, float(times[p]), _rose_bands(power, int(p), res), res.spread_s)
        onsets.append(Onset(time=t, strength=float(flux[p] - threshold[p]), energy=energy, snr=snr))
    onsets.sort(key=lambda o: o.time)
    # Two peaks of one event can refine to the same instant; keep the stronger.
    merged: list[Onset] = []
    for onset in onsets:
        if merged and onset.time - merged[-1].time < _MIN_ONSET_GAP_S / 2:
            if onset.energy > merged[-1].energy:
                merged[-1] = onset
            continue
        merged.append(onset)
    return merged
