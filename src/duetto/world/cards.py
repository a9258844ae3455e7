"""Character cards for Toybox toys: a front-view still of the toy plus a short sample of its voice."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from duetto.world.facts import SceneFacts, ToyFacts
from duetto.world.render import render
from duetto.world.sample import random_words


@dataclass
class CharacterCard:
    """What the app shows for a toy identity: `image` uint8 (H, W, 3) and `audio` float32 (samples,)."""

    toy: ToyFacts
    image: np.ndarray
    audio: np.ndarray
    sample_rate: int


def character_card(
    toy: ToyFacts,
    *,
    width: int = 256,
    height: int = 256,
    seconds: float = 2.0,
    sample_rate: int = 16000,
    setting: str = "stage",
    seed: int = 0,
) -> CharacterCard:
    """The toy alone in the middle of `setting`, mouth closed, and `seconds` of it speaking.

    It says its own words, or, when it has none, random syllables chosen with `seed` that fit the sample.
    """
    words = list(toy.words) or random_words(np.random.default_rng(seed), max_syllables=5)
    speaker = replace(toy, position="center", words=words)
    # Two frames are enough: the first, taken before the toy speaks, is the still.
    result = render(
        SceneFacts(setting, "quiet", toys=[speaker]),
        width=width, height=height, fps=1.0, seconds=seconds, sample_rate=sample_rate, seed=seed,
    )  # fmt: skip
    return CharacterCard(speaker, result.clip.frames[0], result.clip.audio, sample_rate)
