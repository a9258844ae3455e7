"""Reading motion from an object track: floor and wall impacts to the millisecond, motion class, physics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from duetto.world import vocab

#: Heights (H) within this of the floor count as resting on it: about 0.6 px at 128 px.
REST_TOLERANCE = 0.005
#: A frame must sit this much (H) lower than the one before to start a contact (noise stays under).
_DESCENT = 0.003
#: Frames on each side of a contact used to fit its arcs.
_ARC_FRAMES = 8
_GRID_S = 1e-4


@dataclass(frozen=True)
class Contact:
    """A floor contact read from the track: its time, and whether the object rises again after it."""

    time: float
    rebounds: bool


@dataclass
class FloorMotion:
    """Everything the height track says: contacts, the flight arcs between them and their fit."""

    contacts: list[Contact] = field(default_factory=list)
    apex_heights: list[float] = field(default_factory=list)  # of each rebound arc, in H
    arc_residual: float | None = None  # RMS residual (H) of free parabola fits to the flight arcs


def _fit_pre(t: np.ndarray, y: np.ndarray, tc: np.ndarray) -> np.ndarray:
    """SSE of arcs (t − a)(tc − t) = y through (tc, 0), `a` fitted per candidate tc; rows = candidates."""
    d = tc[:, None] - t[None, :]  # > 0 for frames before the contact
    use = d > 0
    target = t[None, :] * d - y[None, :]
    a = np.sum(np.where(use, target * d, 0.0), axis=1) / np.maximum(np.sum(np.where(use, d * d, 0.0), axis=1), 1e-12)
    resid = y[None, :] - (t[None, :] - a[:, None]) * d
    return np.sum(np.where(use, resid**2, 0.0), axis=1)


def _fit_post(t: np.ndarray, y: np.ndarray, tc: np.ndarray, rests: bool) -> np.ndarray:
    """SSE of the arc after the contact: (t − tc)(b − t) = y with `b` fitted, or y = 0 when it rests."""
    d = t[None, :] - tc[:, None]  # ≥ 0 for frames after the contact
    use = d >= 0
    if rests:
        return np.sum(np.where(use, y[None, :] ** 2, 0.0), axis=1)
    target = y[None, :] + t[None, :] * d
    b = np.sum(np.where(use, target * d, 0.0), axis=1) / np.maximum(np.sum(np.where(use, d * d, 0.0), axis=1), 1e-12)
    resid = y[None, :] - d * (b[:, None] - t[None, :])
    return np.sum(np.where(use, resid**2, 0.0), axis=1)


def _contact_time(t: np.ndarray, h: np.ndarray, k: int, lo: int, hi: int, rests: bool, gravity: float) -> float:
    """Sub-frame contact time between frames k − 1 and k + 1 from parabolic arcs of curvature `gravity`.

    Both arcs meet the floor at the contact, so one unknown per arc remains once the contact time is
    fixed; the contact time with the smallest total squared error wins (0.1 ms grid, then a parabola
    through the best three grid points).
    """
    ts, ys = t[lo : hi + 1], 2.0 * h[lo : hi + 1] / gravity
    grid = np.arange(t[k - 1], t[min(k + 1, len(t) - 1)] + _GRID_S / 2, _GRID_S)
    sse = _fit_pre(ts, ys, grid) + _fit_post(ts, ys, grid, rests)
    # Both arcs need frames of their own.
    before = np.sum(ts[None, :] < grid[:, None], axis=1)
    sse = np.where((before >= 2) & (before <= len(ts) - 1), sse, np.inf)
    i = int(np.argmin(sse))
    if 0 < i < len(grid) - 1 and np.all(np.isfinite(sse[i - 1 : i + 2])):
        a, b, c = sse[i - 1], sse[i], sse[i + 1]
        denom = a - 2 * b + c
        if denom > 0:
            return float(grid[i] + 0.5 * (a - c) / denom * _GRID_S)
    return float(grid[i])


def _level_on_rest(h: np.ndarray) -> np.ndarray:
    """Heights measured from where the object finally rests, when it ends at rest near the floor line.

    The lowest point comes from the centroid plus a radius estimated from the blob's area, which can
    be off by a fraction of a pixel; an object lying still on the floor shows where zero really is.
    """
    tail = h[-4:]
    if np.all(np.isfinite(tail)) and np.ptp(tail) < 0.002 and abs(float(np.median(tail))) < 0.01:
        return h - float(np.median(tail))
    return h


def _is_contact(h: np.ndarray, k: int) -> bool:
    """Frame k is the frame nearest a floor contact: reached by a clear descent, not above the next frame,
    and no higher than one frame's travel (the object moves at least that far between a contact
    and the frames around it)."""
    drop, rise = h[k - 1] - h[k], h[k + 1] - h[k]
    return drop > _DESCENT and rise > -REST_TOLERANCE and h[k] <= max(drop, rise) + REST_TOLERANCE


def floor_motion(t: np.ndarray, h: np.ndarray, gravity: float = vocab.GRAVITY) -> FloorMotion:
    """Floor contacts of a height track `h` (lowest point above the floor line, in H; NaN = unseen).

    A contact is a frame lower than the previous one by more than noise and not higher than the
    next; its time comes from the parabolic arcs on either side (`_contact_time`). Where the object
    stays on the floor afterwards, the arc after the contact is flat.
    """
    result = FloorMotion()
    h = _level_on_rest(h)
    seen = np.isfinite(h)
    candidates: list[int] = []
    for k in range(1, len(h) - 1):
        if seen[k - 1] and seen[k] and seen[k + 1] and _is_contact(h, k):
            # Two neighbouring frames can both pass when the contact falls between them: keep the lower.
            if candidates and candidates[-1] == k - 1:
                if h[k] < h[k - 1]:
                    candidates[-1] = k
                continue
            candidates.append(k)
    for i, k in enumerate(candidates):
        lo = max(candidates[i - 1] + 1 if i else 0, k - _ARC_FRAMES)
        hi = min(candidates[i + 1] - 1 if i + 1 < len(candidates) else len(h) - 1, k + _ARC_FRAMES)
        while lo < k and not seen[lo]:
            lo += 1
        while hi > k and not seen[hi]:
            hi -= 1
        after = h[k + 1 : hi + 1]
        rests = bool(np.all(after <= REST_TOLERANCE)) if len(after) else True
        if k - lo < 2:
            continue
        result.contacts.append(Contact(_contact_time(t, h, k, lo, hi, rests, gravity), not rests))
    if len(result.contacts) >= 2:
        result.contacts = _joint_contacts(t, h, result.contacts, gravity)
    _describe_arcs(t, h, candidates, result)
    return result


def _joint_contacts(t: np.ndarray, h: np.ndarray, contacts: list[Contact], gravity: float) -> list[Contact]:
    """Contact times refined together: consecutive contacts bound one flight arc between them.

    The whole track from the first fall on is modelled as arcs h = (g/2)(t − a)(b − t) whose roots
    are the contacts (plus the fall's virtual earlier root and, if the object still flies at the end,
    the next landing), flat after a final landing; roots and g are fitted to every frame at once.
    A small late bounce, a pixel or two high, then borrows precision from the arcs around it.
    Contacts move at most one frame from their local estimates; g stays within 0.3–3× the convention.
    """
    seen = np.isfinite(h)
    first = contacts[0].time
    before = np.flatnonzero(seen & (t < first))
    if len(before) < 2:
        return contacts
    start = int(before[np.argmax(h[before])])  # the fall starts at its highest point
    use = seen & (np.arange(len(t)) >= start)
    ts, hs = t[use], h[use]
    frame = float(np.median(np.diff(t)))
    flies_on = contacts[-1].rebounds
    roots = [2 * t[start] - first, *(c.time for c in contacts)]
    if flies_on:
        roots.append(contacts[-1].time + 2 * max(t[-1] - contacts[-1].time, frame))
    lower = [roots[0] - 5.0, *(c.time - frame for c in contacts)] + ([contacts[-1].time] if flies_on else [])
    upper = [first, *(c.time + frame for c in contacts)] + ([contacts[-1].time + 10.0] if flies_on else [])

    def residual(params: np.ndarray) -> np.ndarray:
        g, r = params[0], np.sort(params[1:])
        k = np.clip(np.searchsorted(r, ts, side="right") - 1, 0, len(r) - 2)
        model = 0.5 * g * (ts - r[k]) * (r[k + 1] - ts)
        landed = ts >= r[-1] if not flies_on else np.zeros(len(ts), bool)
        return np.where(landed, 0.0, np.maximum(model, 0.0)) - hs

    x0 = np.array([gravity, *roots])
    bounds = (np.array([0.3 * gravity, *lower]), np.array([3.0 * gravity, *upper]))
    x0 = np.clip(x0, bounds[0] + 1e-9, bounds[1] - 1e-9)
    fit = optimize.least_squares(residual, x0, bounds=bounds, x_scale="jac")
    times = fit.x[2 : 2 + len(contacts)]
    return [Contact(float(time), c.rebounds) for time, c in zip(times, contacts, strict=True)]


def _describe_arcs(t: np.ndarray, h: np.ndarray, candidates: list[int], result: FloorMotion) -> None:
    """Apex heights of rebound arcs and the RMS residual of free parabola fits to every flight arc."""
    bounds = [0, *candidates, len(h) - 1]
    residuals: list[np.ndarray] = []
    for i in range(len(bounds) - 1):
        a, b = bounds[i], bounds[i + 1]
        inside = np.arange(a + 1 if i else a, b)
        inside = inside[np.isfinite(h[inside]) & (h[inside] > REST_TOLERANCE)]
        if i > 0 and len(inside):
            result.apex_heights.append(float(np.max(h[inside])))
        if len(inside) >= 4:
            coef = np.polyfit(t[inside], h[inside], 2)
            residuals.append(h[inside] - np.polyval(coef, t[inside]))
    if residuals:
        result.arc_residual = float(np.sqrt(np.mean(np.concatenate(residuals) ** 2)))


def wall_stop(t: np.ndarray, side: np.ndarray) -> tuple[float, float] | None:
    """When a sideways track stops abruptly: (stop time, speed just before it in units/s), or None.

    `side` is the leading edge's position per frame (NaN = unseen). Before the stop the motion is
    uniformly decelerated (a parabola in t), after it the edge stays put; the stop time with the
    smallest squared error is searched per frame interval, then on a 0.1 ms grid.
    """
    seen = np.isfinite(side)
    ts, xs = t[seen], side[seen]
    if len(ts) < 6:
        return None

    def sse(tc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = ts[None, :] - tc[:, None]
        before = d < 0
        # Columns: stop position, speed at the stop, deceleration; after the stop only the position.
        basis = np.stack([np.ones_like(d), np.where(before, d, 0.0), np.where(before, 0.5 * d * d, 0.0)], axis=2)
        gram = np.einsum("gni,gnj->gij", basis, basis) + 1e-12 * np.eye(3)
        rhs = np.einsum("gni,n->gi", basis, xs)
        coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
        resid = xs[None, :] - np.einsum("gni,gi->gn", basis, coef)
        n_before = before.sum(axis=1)
        err = np.where((n_before >= 3) & (n_before <= len(ts) - 2), np.sum(resid**2, axis=1), np.inf)
        return err, coef

    coarse = (ts[:-1] + ts[1:]) / 2
    err, _ = sse(coarse)
    i = int(np.argmin(err))
    if not np.isfinite(err[i]):
        return None
    step = ts[1] - ts[0] if len(ts) > 1 else 0.04
    grid = np.arange(coarse[i] - step, coarse[i] + step, _GRID_S)
    err, coef = sse(grid)
    j = int(np.argmin(err))
    return float(grid[j]), float(abs(coef[j, 1]))


@dataclass(frozen=True)
class SidewaysMotion:
    """A horizontal track in brief: how far it went, whether it stopped while in view, where."""

    distance: float  # W
    stopped: bool
    end_speed: float  # W/s over the last seen 0.25 s


def sideways_motion(t: np.ndarray, x: np.ndarray) -> SidewaysMotion:
    seen = np.isfinite(x)
    if seen.sum() < 2:
        return SidewaysMotion(0.0, False, 0.0)
    ts, xs = t[seen], x[seen]
    tail = ts >= ts[-1] - 0.25
    end_speed = float(abs(xs[tail][-1] - xs[tail][0]) / max(ts[tail][-1] - ts[tail][0], 1e-9)) if tail.sum() > 1 else 0.0
    visible_to_end = bool(seen[-1])
    return SidewaysMotion(float(np.ptp(xs)), visible_to_end and end_speed < 0.02, end_speed)


def classify_motion(t: np.ndarray, x: np.ndarray, h: np.ndarray, floor: FloorMotion | None = None) -> str:
    """One of the five Toybox motions (or "unseen") from a centroid x (W) and height-above-floor (H) track."""
    seen = np.isfinite(x) & np.isfinite(h)
    if seen.sum() < 3:
        return "unseen"
    vertical = float(np.ptp(h[seen]))
    if vertical > 0.03:
        floor = floor or floor_motion(t, h)
        return "bounces" if any(c.rebounds for c in floor.contacts) else "falls"
    sideways = sideways_motion(t, x)
    if sideways.distance > 0.03:
        return "slides" if sideways.stopped else "rolls"
    return "rests"
