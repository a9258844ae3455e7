"""Audio–video agreement: one-to-one matching of impacts with onsets, and lip-sync correlation and lag."""

from __future__ import annotations

import numpy as np
from scipy import optimize

#: An onset farther than this from a visual impact cannot be its sound.
MATCH_WINDOW_S = 0.25
#: The error counted for a visual impact without any onset in the match window. Any value over the
#: window would do for the median; a full second keeps "no sound at all" visibly worse than "late".
MISS_MS = 1000.0
#: Lags searched for lip sync, and the envelope hop they are counted in.
MAX_LAG_S = 0.200


def match_events(visual: np.ndarray, audio: np.ndarray, window_s: float = MATCH_WINDOW_S) -> list[tuple[int, int]]:
    """Pairs (visual index, audio index), each event used once, |Δt| ≤ window, minimising the total
    |Δt| plus `window_s` for every visual event left without a partner.

    Leaving an impact unmatched costs as much as the worst allowed pair, so two impacts are not both
    paired badly (say with a syllable 100 ms off) just to avoid leaving one of them out.
    """
    visual, audio = np.asarray(visual, float), np.asarray(audio, float)
    if len(visual) == 0 or len(audio) == 0:
        return []
    cost = np.abs(visual[:, None] - audio[None, :])
    # Forbidden pairs cost more than leaving every impact out; one "no partner" column per impact.
    big = window_s * (len(visual) + 1)
    allowed = np.where(cost <= window_s, cost, big)
    alone = np.full((len(visual), len(visual)), big)
    np.fill_diagonal(alone, window_s)
    rows, cols = optimize.linear_sum_assignment(np.hstack([allowed, alone]))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if c < len(audio) and cost[r, c] <= window_s]


def sync_errors_ms(visual: np.ndarray, audio: np.ndarray, window_s: float = MATCH_WINDOW_S) -> np.ndarray:
    """|Δt| in ms for every visual impact: to its matched onset, or `MISS_MS` when it has none."""
    visual, audio = np.asarray(visual, float), np.asarray(audio, float)
    errors = np.full(len(visual), MISS_MS)
    for v, a in match_events(visual, audio, window_s):
        errors[v] = abs(visual[v] - audio[a]) * 1000.0
    return errors


def false_onsets(onsets: np.ndarray, causes: np.ndarray, tolerance_s: float = 0.1) -> int:
    """How many onsets lie more than `tolerance_s` from every visible cause of a sound."""
    onsets, causes = np.asarray(onsets, float), np.asarray(causes, float)
    if len(causes) == 0:
        return int(len(onsets))
    return int(np.sum(np.min(np.abs(onsets[:, None] - causes[None, :]), axis=1) > tolerance_s))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def lip_sync(mouth: np.ndarray, envelope: np.ndarray, usable: np.ndarray, hop_s: float,
             max_lag_s: float = MAX_LAG_S, min_frames: int = 15) -> tuple[float, float] | None:
    """(Pearson r at zero lag, best lag in ms) of a mouth-opening track and a speech envelope.

    Both are sampled on the same `hop_s` grid; `usable` marks the frames to compare (others hold an
    impact's sound or are unseen). A positive lag means the sound comes after the mouth; the best
    lag is refined between grid steps by a parabola. None when fewer than `min_frames` are usable.
    """
    n = len(envelope)
    if usable.sum() < min_frames or np.ptp(mouth[usable]) <= 0 or np.ptp(envelope[usable]) <= 0:
        return None
    r0 = _pearson(mouth[usable], envelope[usable])
    steps = int(round(max_lag_s / hop_s))
    scores = np.full(2 * steps + 1, -np.inf)
    for i, lag in enumerate(range(-steps, steps + 1)):
        # Compare mouth at frame k with the envelope at frame k + lag.
        k = np.arange(max(0, -lag), min(n, n - lag))
        both = usable[k] & usable[k + lag]
        if both.sum() >= min_frames:
            scores[i] = _pearson(mouth[k][both], envelope[k + lag][both])
    best = int(np.argmax(scores))
    lag = float(best - steps)
    if 0 < best < len(scores) - 1 and np.all(np.isfinite(scores[best - 1 : best + 2])):
        a, b, c = scores[best - 1 : best + 2]
        denom = a - 2 * b + c
        if denom < 0:
            lag += 0.5 * (a - c) / denom
    return r0, lag * hop_s * 1000.0
