"""Background and voice measures: ambience class, speech envelope, pitch track and syllable nuclei."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from duetto.bench.onsets import SAMPLE_RATE, frame_signal, spectrogram

#: Hop of the lip-sync speech envelope (spec §7: 20 ms frames).
ENVELOPE_HOP_S = 0.020
#: Hop of the pitch track.
PITCH_HOP_S = 0.010
_VOICE_BAND = signal.butter(6, [500.0, 4000.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")

# --- Ambience ----------------------------------------------------------------------------------------

#: Classes the ambience classifier returns (spec §3).
AMBIENCE_CLASSES = ("quiet", "rain", "wind", "hum")
# The background is what every frequency falls back to between events: the 15th percentile of each
# bin's power over time. For noise, a bin's power is exponentially distributed, so that percentile is
# −ln(0.85) ≈ 0.16 of its mean; dividing by it recovers the mean level.
_FLOOR_PERCENTILE = 15.0
_FLOOR_BIAS = -np.log(0.85)
_AMBIENCE_FFT, _AMBIENCE_HOP = 2048, 512


@dataclass(frozen=True)
class AmbienceFeatures:
    """Levels (dBFS, as 20·log10 RMS) of the background spectrum in a few bands, and hum tonality."""

    level: float  # everything
    low: float  # 50–450 Hz
    mid: float  # 600–1500 Hz
    high: float  # 2–6 kHz
    hum_db: float  # mean prominence (dB) of 100–400 Hz harmonics over their neighbourhood


def _band_db(floor: np.ndarray, freqs: np.ndarray, lo: float, hi: float, scale: float) -> float:
    inside = (freqs >= lo) & (freqs < hi)
    return float(10 * np.log10(floor[inside].sum() * scale + 1e-12))


def ambience_features(x: np.ndarray) -> AmbienceFeatures:
    """Spectral statistics of the background of a 16 kHz waveform (robust to sparse events)."""
    power, _ = spectrogram(x, _AMBIENCE_FFT, _AMBIENCE_HOP)
    floor = np.percentile(power, _FLOOR_PERCENTILE, axis=0) / _FLOOR_BIAS
    freqs = np.fft.rfftfreq(_AMBIENCE_FFT, 1 / SAMPLE_RATE)
    # Parseval: one-sided bin powers sum to N/2 · Σw² · (mean square of the signal).
    window = signal.windows.hann(_AMBIENCE_FFT, sym=False)
    scale = 2.0 / (_AMBIENCE_FFT * np.sum(window**2))
    prominences = []
    for harmonic in (100.0, 200.0, 300.0, 400.0):
        k = int(round(harmonic / freqs[1]))
        tone = floor[k - 2 : k + 3].sum()
        around = np.concatenate([floor[k - 12 : k - 4], floor[k + 5 : k + 13]])
        prominences.append(10 * np.log10((tone + 1e-20) / (5 * np.median(around) + 1e-20)))
    return AmbienceFeatures(
        level=_band_db(floor, freqs, 0, SAMPLE_RATE / 2, scale),
        low=_band_db(floor, freqs, 50, 450, scale),
        mid=_band_db(floor, freqs, 600, 1500, scale),
        high=_band_db(floor, freqs, 2000, 6000, scale),
        hum_db=float(np.mean(prominences)),
    )


def classify_ambience(f: AmbienceFeatures) -> str:
    """Quiet, hum, wind or rain: tonality first, then where the background's energy lies.

    On Toybox renders the classes sit far apart (hum harmonics stand ~50 dB over their neighbours,
    rain's pink noise reaches −37 dBFS at 2–6 kHz where wind is under −80, wind's low band is near
    −30 dBFS where silence is under −90), so the thresholds sit midway and tolerate a model's
    approximations.
    """
    if f.hum_db > 15.0 and f.low > -55.0:
        return "hum"
    if f.high > -52.0 and f.high - f.low > -15.0:
        return "rain"  # pink noise reaches far up; wind, hum and rolling rumble do not
    if f.low > -48.0:
        return "wind"
    return "quiet"


# --- Speech ------------------------------------------------------------------------------------------


def voice_band_envelope(x: np.ndarray, hop_s: float = ENVELOPE_HOP_S) -> tuple[np.ndarray, np.ndarray]:
    """RMS of consecutive `hop_s` frames of the 500–4000 Hz band, and the frames' centre times.

    The band keeps vowels' F1/F2 region and leaves out what sounds below it: wind, hum and a
    rolling ball's rumble (all under 500 Hz) would otherwise swamp the speech envelope.
    """
    y = signal.sosfiltfilt(_VOICE_BAND, x)
    hop = int(round(hop_s * SAMPLE_RATE))
    count = len(y) // hop
    frames = y[: count * hop].reshape(count, hop)
    return np.sqrt(np.mean(frames**2, axis=1)), (np.arange(count) + 0.5) * hop_s


def pitch_track(x: np.ndarray, *, fmin: float = 70.0, fmax: float = 400.0,
                threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """f0 (Hz) of 40 ms frames every 10 ms by YIN, NaN where unvoiced; and the frames' centre times.

    YIN (de Cheveigné & Kawahara 2002): the cumulative-mean-normalised difference function, its first
    dip under `threshold`, refined by a parabola through the neighbouring lags.
    """
    # Above 500 Hz the voice's harmonics still repeat every period, while wind, hum, rumble and rubber
    # knocks, all below it, would otherwise mask or impose their own periodicity.
    x = signal.sosfiltfilt(_VOICE_BAND, x)
    size, hop = int(0.040 * SAMPLE_RATE), int(PITCH_HOP_S * SAMPLE_RATE)
    tau_min, tau_max = int(SAMPLE_RATE / fmax), int(np.ceil(SAMPLE_RATE / fmin))
    frames = frame_signal(x, size + tau_max + 1, hop)
    times = (np.arange(len(frames)) * hop + size / 2) / SAMPLE_RATE
    f0 = np.full(len(frames), np.nan)
    energy = np.mean(frames[:, :size] ** 2, axis=1)
    loud = energy > max(1e-6, 1e-3 * float(energy.max()))
    if not loud.any():
        return f0, times
    work = frames[loud]
    # d(τ) = Σ x_j² + Σ x_{j+τ}² − 2 Σ x_j x_{j+τ} over j < size, the cross term by FFT.
    n_fft = 1 << int(np.ceil(np.log2(2 * (size + tau_max))))
    cross = np.fft.irfft(np.conj(np.fft.rfft(work[:, :size], n_fft)) * np.fft.rfft(work, n_fft), n_fft)
    cross = cross[:, : tau_max + 2]
    squares = np.cumsum(np.pad(work**2, ((0, 0), (1, 0))), axis=1)
    lags = np.arange(tau_max + 2)
    diff = squares[:, size][:, None] + (squares[:, lags + size] - squares[:, lags]) - 2 * cross
    cmndf = np.ones_like(diff)
    cmndf[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(np.cumsum(diff[:, 1:], axis=1), 1e-12)
    estimates = np.full(len(work), np.nan)
    for row_index, row in enumerate(cmndf):
        under = np.flatnonzero(row[tau_min : tau_max + 1] < threshold)
        if len(under) == 0:
            continue
        tau = int(under[0]) + tau_min
        while tau + 1 <= tau_max and row[tau + 1] < row[tau]:
            tau += 1
        a, b, c = row[tau - 1], row[tau], row[tau + 1]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom > 0 else 0.0
        estimates[row_index] = SAMPLE_RATE / (tau + float(np.clip(shift, -1, 1)))
    f0[loud] = estimates
    return f0, times


def syllable_nuclei(envelope: np.ndarray, times: np.ndarray, voiced: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """Times of syllable nuclei: voiced peaks of the voice-band level (dB) that stand out of their dips.

    Each Toybox syllable is a vowel plateau between a consonant and a release, so its level dips by
    tens of dB at syllable edges but ripples by only a few dB along the vowel (de Jong & Wempe's
    intensity-peak idea). A nucleus is a peak at least 6 dB over the dips around it, within 25 dB
    of the loudest, 120 ms from the next, and voiced within 30 ms. `usable` masks out stretches
    that hold other sounds.
    """
    hop = float(times[1] - times[0]) if len(times) > 1 else 0.005
    level = 10 * np.log10(ndimage.gaussian_filter1d(envelope**2, 0.010 / hop) + 1e-12)
    if not usable.any():
        return np.zeros(0)
    level = np.where(usable, level, level.min())
    peaks, _ = signal.find_peaks(level, distance=max(1, int(0.12 / hop)), prominence=6.0,
                                 height=float(level.max()) - 25.0)
    near_voice = ndimage.binary_dilation(voiced, iterations=max(1, int(0.03 / hop)))
    return times[peaks[near_voice[peaks] & usable[peaks]]]
