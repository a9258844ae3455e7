"""Scores any generated clip against the facts of its prompt (Toybox benchmark).

`evaluate(clip_or_mp4, facts)` gives every spec §7 measure of one clip; `run_benchmark(generate_fn,
n, seed, out_dir)` generates, writes and scores held-out prompts and writes a report. Names load on
first use, so `duetto --help` does not pay for SciPy.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ClipScores": "duetto.bench.evaluate",
    "ObjectScore": "duetto.bench.evaluate",
    "ToyScore": "duetto.bench.evaluate",
    "evaluate": "duetto.bench.evaluate",
    "analyse_video": "duetto.bench.evaluate",
    "analyse_audio": "duetto.bench.evaluate",
    "score": "duetto.bench.evaluate",
    "Report": "duetto.bench.report",
    "aggregate": "duetto.bench.report",
    "BenchPrompt": "duetto.bench.runner",
    "held_out_prompts": "duetto.bench.runner",
    "reference_generator": "duetto.bench.runner",
    "model_generator": "duetto.bench.runner",
    "run_benchmark": "duetto.bench.runner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'duetto.bench' has no attribute {name!r}")
