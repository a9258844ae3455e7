"""Toybox: a synthetic audiovisual world where every sound has a visible cause.

Names load on first use (as in `duetto.bench`): the renderer's sounds need SciPy, which a command that only
reads captions, or `duetto generate`, should not pay for at start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "CaptionError": "duetto.world.captions",
    "caption": "duetto.world.captions",
    "parse_caption": "duetto.world.captions",
    "CharacterCard": "duetto.world.cards",
    "character_card": "duetto.world.cards",
    "DatasetItem": "duetto.world.dataset",
    "iter_dataset": "duetto.world.dataset",
    "load_shard": "duetto.world.dataset",
    "write_dataset": "duetto.world.dataset",
    "ObjectFacts": "duetto.world.facts",
    "SceneFacts": "duetto.world.facts",
    "ToyFacts": "duetto.world.facts",
    "RenderResult": "duetto.world.render",
    "render": "duetto.world.render",
    "random_scene": "duetto.world.sample",
    "Scene": "duetto.world.scene",
    "realize": "duetto.world.scene",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'duetto.world' has no attribute {name!r}")
