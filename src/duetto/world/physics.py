"""Object motion in continuous time: where each object is at any instant, and when and how hard it hits.

Units are normalised: x in W, y in H (downwards), speeds in H/s unless named otherwise. A canvas
that is not square changes only sideways motion (the walls are at x = 0 and x = 1 of W while sizes
are in H), so tracks take the aspect ratio W/H.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duetto.world import vocab
from duetto.world.scene import ObjectPlan

G = vocab.GRAVITY


@dataclass(frozen=True)
class Impact:
    """An instant of contact: `time` in seconds, `speed` (H/s) of approach, `surface` "floor" or "wall"."""

    time: float
    speed: float
    surface: str


@dataclass(frozen=True)
class Track:
    """The motion of one object, evaluable at any times.

    Vertical motion (bounces, falls) is a sequence of parabolic arcs between floor contacts;
    sideways motion (rolls, slides) is uniform or uniformly decelerated. `sound` names the
    continuous sound it makes while moving sideways ("rumble", "scrape") or is None.
    """

    plan: ObjectPlan
    aspect: float  # W / H
    contacts: np.ndarray  # floor contact times (s)
    rebound: np.ndarray  # upward speed just after each contact (H/s); 0 = stays down
    impacts: tuple[Impact, ...]
    decel: float = 0.0  # slides: friction deceleration, W/s²
    stop_time: float = np.inf  # when sideways motion ends (wall hit, or rolled off the canvas)
    sound: str | None = None

    @property
    def floor_y(self) -> float:
        """Centre height when resting on the floor."""
        return vocab.FLOOR_Y - self.plan.radius

    def position(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Centre (x in W, y in H) at times `t` (seconds), as float64 arrays shaped like `t`."""
        t = np.asarray(t, dtype=np.float64)
        return self._x(t), self._y(t)

    def _y(self, t: np.ndarray) -> np.ndarray:
        p = self.plan
        if len(self.contacts) == 0:
            return np.full_like(t, p.y0)
        k = np.searchsorted(self.contacts, t, side="right") - 1
        falling = p.y0 + 0.5 * G * t**2
        kk = np.clip(k, 0, None)
        tau = t - self.contacts[kk]
        up = self.rebound[kk]
        arc = self.floor_y - (up * tau - 0.5 * G * tau**2)
        y = np.where(k < 0, falling, np.where(up > 0, arc, self.floor_y))
        return np.minimum(y, self.floor_y)

    def _x(self, t: np.ndarray) -> np.ndarray:
        p = self.plan
        if p.direction == 0:
            return np.full_like(t, p.x0)
        tt = np.clip(t, 0.0, self.stop_time)
        return p.x0 + p.direction * (p.speed * tt - 0.5 * self.decel * tt**2)

    def sideways_speed(self, t: np.ndarray) -> np.ndarray:
        """Horizontal speed (H/s) at times `t`; zero once stopped or off the canvas."""
        p = self.plan
        t = np.asarray(t, dtype=np.float64)
        if p.direction == 0:
            return np.zeros_like(t)
        v = np.maximum(p.speed - self.decel * np.maximum(t, 0.0), 0.0) * self.aspect
        return np.where((t >= 0) & (t < self.stop_time), v, 0.0)


def _bounce_contacts(plan: ObjectPlan, restitution: float) -> tuple[np.ndarray, np.ndarray, list[Impact]]:
    drop = vocab.FLOOR_Y - plan.radius - plan.y0
    if drop <= 0:
        return np.zeros(0), np.zeros(0), []
    t = np.sqrt(2 * drop / G)
    v = G * t
    contacts, rebound, impacts = [], [], []
    while True:
        up = restitution * v
        keeps_bouncing = up**2 / (2 * G) >= vocab.MIN_BOUNCE_HEIGHT
        contacts.append(t)
        rebound.append(up if keeps_bouncing else 0.0)
        impacts.append(Impact(float(t), float(v), "floor"))
        if not keeps_bouncing:
            break
        t += 2 * up / G
        v = up
    return np.array(contacts), np.array(rebound), impacts


def track(plan: ObjectPlan, aspect: float = 1.0) -> Track:
    """The motion of `plan` on a canvas of aspect ratio W/H `aspect`."""
    motion = plan.facts.motion
    empty = np.zeros(0)
    if motion in ("bounces", "falls"):
        e = vocab.RESTITUTION[plan.facts.material] if motion == "bounces" else 0.0
        contacts, rebound, impacts = _bounce_contacts(plan, e)
        return Track(plan, aspect, contacts, rebound, tuple(impacts))
    if motion == "rolls":
        # Rolling goes on at constant speed until the ball has left the canvas entirely.
        half = plan.radius / aspect
        edge = (1.0 + half) if plan.direction > 0 else -half
        stop = max(plan.direction * (edge - plan.x0), 0.0) / plan.speed
        return Track(plan, aspect, empty, empty, (), stop_time=stop, sound="rumble")
    if motion == "slides":
        half = plan.radius / aspect
        wall_x = (1.0 - half) if plan.direction > 0 else half
        distance = max(plan.direction * (wall_x - plan.x0), 1e-6)
        v_hit = plan.wall_speed_ratio * plan.speed
        decel = (plan.speed**2 - v_hit**2) / (2 * distance)
        stop = (plan.speed - v_hit) / decel
        impact = Impact(float(stop), float(v_hit * aspect), "wall")
        return Track(plan, aspect, empty, empty, (impact,), decel=decel, stop_time=stop, sound="scrape")
    return Track(plan, aspect, empty, empty, ())
