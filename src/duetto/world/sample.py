"""Random Toybox scenes that respect the spec's constraints and that the benchmark can score reliably."""

from __future__ import annotations

import numpy as np

from duetto.world import vocab
from duetto.world.facts import ObjectFacts, SceneFacts, ToyFacts

# Toys with wide eyes show eye whites, which colour segmentation could take for a white object.
_EYE_WHITE_CLASH = "white"


def _pick(rng: np.random.Generator, options) -> str:
    options = list(options)
    return options[int(rng.integers(len(options)))]


def random_words(rng: np.random.Generator, max_syllables: int = 5) -> list[str]:
    """One to three spoken words of one to three consonant–vowel syllables, at most `max_syllables` in all."""
    words: list[str] = []
    budget = max_syllables
    for _ in range(int(rng.integers(1, 4))):
        if budget <= 0:
            break
        n = min(budget, int(rng.choice([1, 2, 2, 3])))
        words.append("".join(_pick(rng, vocab.CONSONANTS) + _pick(rng, vocab.VOWELS) for _ in range(n)))
        budget -= n
    return words


def _free_direction(position: str, others: list[str], rng: np.random.Generator) -> str | None:
    """A direction in which an object can roll or slide without passing through anything else."""
    x = vocab.POSITIONS[position]
    free = [
        d
        for d in vocab.DIRECTIONS
        if not any((vocab.POSITIONS[o] < x) if d == "left" else (vocab.POSITIONS[o] > x) for o in others)
    ]
    return _pick(rng, free) if free else None


def random_scene(rng: np.random.Generator, *, max_objects: int = 3, allow_toys: bool = True) -> SceneFacts:
    """A random scene: at most `max_objects` objects plus, if allowed, up to two talking toys.

    Every object and toy has its own position and its own colour (hats included), no colour hides
    in the setting's backdrop, and an object that rolls or slides heads away from everything else.
    """
    if not 0 <= max_objects <= vocab.MAX_OBJECTS:
        raise ValueError(f"max_objects must be between 0 and {vocab.MAX_OBJECTS}, got {max_objects}")
    if max_objects == 0 and not allow_toys:
        raise ValueError("a scene needs something in it: allow toys or at least one object")
    setting = _pick(rng, vocab.SETTINGS)
    ambience = _pick(rng, vocab.AMBIENCES)
    n_toys = int(rng.choice([0, 1, 2], p=[0.6, 0.3, 0.1])) if allow_toys else 0
    if max_objects == 0:
        n_toys = max(n_toys, 1)
    n_objects = int(rng.integers(0 if n_toys else 1, min(max_objects, 3 - n_toys) + 1))
    positions = [list(vocab.POSITIONS)[i] for i in rng.permutation(3)[: n_objects + n_toys]]

    eyes = [_pick(rng, vocab.EYES) for _ in range(n_toys)]
    palette = [c for c in vocab.COLOURS if c not in vocab.SETTING_CLASHES[setting]]
    if "wide" in eyes:
        palette.remove(_EYE_WHITE_CLASH)
    palette = [palette[i] for i in rng.permutation(len(palette))]

    toys = []
    for k in range(n_toys):
        head = palette.pop()
        still_needed = (n_toys - k - 1) + n_objects  # heads and objects still to colour
        hat = palette.pop() if (len(palette) > still_needed and rng.random() < 0.6) else "none"
        toys.append(
            ToyFacts(
                head_colour=head,
                hat=hat,
                eyes=eyes[k],
                pitch=_pick(rng, vocab.PITCHES),
                timbre=_pick(rng, vocab.TIMBRES),
                position=positions[n_objects + k],
                words=random_words(rng, max_syllables=5 if n_toys == 1 else 3),
            )
        )
    objects = []
    for k in range(n_objects):
        shape = _pick(rng, vocab.SHAPES)
        motion = _pick(rng, [m for m in vocab.MOTIONS if shape in vocab.MOTION_SHAPES[m]])
        direction = None
        if motion in ("rolls", "slides"):
            others = [p for i, p in enumerate(positions) if i != k]
            direction = _free_direction(positions[k], others, rng)
            if direction is None:
                motion = _pick(rng, ["bounces", "falls", "rests"])
        objects.append(
            ObjectFacts(
                shape=shape,
                colour=palette.pop(),
                size=_pick(rng, vocab.SIZES),
                material=_pick(rng, vocab.MATERIALS),
                motion=motion,
                position=positions[k],
                direction=direction,
            )
        )
    return SceneFacts(setting=setting, ambience=ambience, objects=objects, toys=toys)
