"""The prompt format the studio stores and the engine reads: the picture first, then the sound after "Audio:"
(Ovi's convention, which the Toybox captions follow). Composing, splitting and finding that label happen here
only."""

from __future__ import annotations

import re

LABEL = "Audio:"
# How people may write the label in their own prompts: "audio:", "Sound:", "sounds :".
TYPED_LABEL = re.compile(r"\b(?:audio|sounds?)\s*:", re.IGNORECASE)


def compose(picture: str, sound: str | None) -> str:
    """A stored prompt from the picture and an optional sound description."""
    return f"{picture.rstrip()} {LABEL} {sound.strip()}" if sound else picture


def split(prompt: str) -> tuple[str, str]:
    """(picture, sound) halves of a stored prompt."""
    picture, _, sound = prompt.partition(f" {LABEL} ")
    return picture.strip(), sound.strip()
