"""A fully specified Toybox scene: `realize` fills in everything a caption leaves open."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from duetto.world import vocab
from duetto.world.facts import ObjectFacts, SceneFacts, ToyFacts, split_syllables


@dataclass(frozen=True)
class ObjectPlan:
    """One object with its motion fully specified.

    Attributes:
        facts: what the caption says about it.
        x0: starting centre, in W.
        y0: starting centre, in H (the drop height for bounces and falls).
        speed: starting horizontal speed for rolls and slides, in W/s (0 otherwise).
        direction: -1 moving left, +1 moving right, 0 not moving sideways.
        wall_speed_ratio: for slides, the share of its starting speed a box keeps when it reaches
            the wall; friction is whatever deceleration achieves that over the distance.
    """

    facts: ObjectFacts
    x0: float
    y0: float
    speed: float = 0.0
    direction: int = 0
    wall_speed_ratio: float = 0.0

    @property
    def radius(self) -> float:
        """Radius of a ball, half the side of a box, in H."""
        return vocab.SIZES[self.facts.size]


@dataclass(frozen=True)
class SyllablePlan:
    """One spoken syllable: the consonant runs from `start` to `vowel_start`, the vowel to `end` (seconds)."""

    text: str
    start: float
    vowel_start: float
    end: float
    gain: float  # relative loudness, 0.75–1

    @property
    def consonant(self) -> str:
        return self.text[0]

    @property
    def vowel(self) -> str:
        return self.text[1]


@dataclass(frozen=True)
class ToyPlan:
    """A toy with where it stands (centre x in W) and when each syllable is spoken."""

    facts: ToyFacts
    x: float
    syllables: tuple[SyllablePlan, ...] = ()

    @property
    def f0(self) -> float:
        return vocab.PITCHES[self.facts.pitch]


@dataclass(frozen=True)
class Scene:
    """Facts plus every choice a renderer needs; rendering a Scene involves no further scene choices."""

    facts: SceneFacts
    objects: tuple[ObjectPlan, ...] = ()
    toys: tuple[ToyPlan, ...] = field(default_factory=tuple)


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _jitter(position: str, toy_positions: list[str], rng: np.random.Generator) -> float:
    """A small random offset from a named position, never towards a neighbouring toy's wide head."""
    j = _uniform(rng, (-vocab.POSITION_JITTER, vocab.POSITION_JITTER))
    x = vocab.POSITIONS[position]
    toy_left = any(vocab.POSITIONS[p] < x for p in toy_positions)
    toy_right = any(vocab.POSITIONS[p] > x for p in toy_positions)
    if toy_left and toy_right:
        return 0.0
    if toy_left or toy_right:
        return abs(j) if toy_left else -abs(j)
    return j


def _realize_object(obj: ObjectFacts, toy_positions: list[str], rng: np.random.Generator) -> ObjectPlan:
    x0 = vocab.POSITIONS[obj.position] + _jitter(obj.position, toy_positions, rng)
    radius = vocab.SIZES[obj.size]
    on_floor = vocab.FLOOR_Y - radius
    if obj.motion in ("bounces", "falls"):
        return ObjectPlan(obj, x0, _uniform(rng, vocab.DROP_Y_RANGE))
    if obj.motion == "rests":
        return ObjectPlan(obj, x0, on_floor)
    # rolls / slides: head the way the caption says, else away from the nearer wall (the longer path).
    if obj.direction is not None:
        direction = -1 if obj.direction == "left" else 1
    elif obj.position == "center":
        direction = int(rng.choice([-1, 1]))
    else:
        direction = 1 if obj.position == "left" else -1
    if obj.motion == "rolls":
        return ObjectPlan(obj, x0, on_floor, _uniform(rng, vocab.ROLL_SPEED_RANGE), direction)
    return ObjectPlan(
        obj, x0, on_floor, _uniform(rng, vocab.SLIDE_SPEED_RANGE), direction, _uniform(rng, (0.35, 0.7))
    )


def plan_speech(words: list[str], start: float, rng: np.random.Generator) -> tuple[SyllablePlan, ...]:
    """Time every syllable of `words`, starting at `start` seconds (spec §4 durations and pauses)."""
    plans: list[SyllablePlan] = []
    t = start
    for w, word in enumerate(words):
        if w:
            t += _uniform(rng, vocab.WORD_PAUSE_RANGE_S)
        for syl in split_syllables(word):
            duration = _uniform(rng, vocab.SYLLABLE_RANGE_S)
            consonant = _uniform(rng, vocab.CONSONANT_RANGE_S)
            plans.append(SyllablePlan(syl, t, t + consonant, t + duration, _uniform(rng, (0.75, 1.0))))
            t += duration
    return tuple(plans)


def realize(facts: SceneFacts, rng: np.random.Generator) -> Scene:
    """Fill in what `facts` leave open: exact positions, drop heights, speeds, directions, speech timing.

    Objects sit within POSITION_JITTER of their named position, shifted away from any toy beside
    them (a toy's head is wide). Toys speak one after another in their order: the first starts
    0.2–0.5 s in, each next one 0.3–0.6 s after the previous one finishes.
    """
    toy_positions = [t.position for t in facts.toys]
    objects = tuple(_realize_object(o, toy_positions, rng) for o in facts.objects)
    toys = []
    t = _uniform(rng, (0.2, 0.5))
    for toy in facts.toys:
        x = vocab.POSITIONS[toy.position]  # exactly on its mark: its head leaves neighbours no room to spare
        syllables = plan_speech(toy.words, t, rng)
        if syllables:
            t = syllables[-1].end + _uniform(rng, (0.3, 0.6))
        toys.append(ToyPlan(toy, x, syllables))
    return Scene(facts, objects, tuple(toys))
