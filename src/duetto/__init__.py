"""Duetto: short videos with synchronized sound, generated jointly by a twin-tower diffusion transformer."""

from duetto._version import __version__
from duetto.clip import Clip

__all__ = ["Clip", "Pipeline", "__version__"]


def __getattr__(name: str):
    # The engine imports torch and diffusers; load it only when someone asks for it, so that
    # `duetto.world` and `duetto.media` stay light.
    if name == "Pipeline":
        from duetto.engine.pipeline import Pipeline

        return Pipeline
    raise AttributeError(f"module 'duetto' has no attribute {name!r}")
