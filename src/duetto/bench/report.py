"""Benchmark reports: per-clip scores pooled into one set of measures, written as JSON, Markdown and plots."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from duetto.bench.evaluate import ClipScores
from duetto.bench.sync import MATCH_WINDOW_S, MISS_MS

#: Measures in report order: (key, label, unit, bar). Bars are what ground-truth renders must reach
#: (the evaluator's own acceptance); a model is compared against them.
MEASURES: tuple[tuple[str, str, str, str | None], ...] = (
    ("impact_sync_median_ms", "impact sync error, median", "ms", "≤ 5"),
    ("impact_sync_p90_ms", "impact sync error, 90th percentile", "ms", None),
    ("impacts_within_frame", "visual impacts with a sound within ±1 frame", "share", "≥ 0.98"),
    ("false_sounds_per_clip", "false sounds per clip", "count", None),
    ("attribute_accuracy", "attribute accuracy (colour, shape, size)", "share", "≥ 0.98"),
    ("motion_accuracy", "motion accuracy", "share", "≥ 0.98"),
    ("physics_residual_px", "bounce arc parabola residual (RMS, at 128 px)", "px", None),
    ("bounce_heights_decrease", "bouncing objects whose bounces get lower", "share", None),
    ("ambience_accuracy", "ambience accuracy", "share", "≥ 0.95"),
    ("lip_sync_r", "lip sync correlation (Pearson r)", "r", "≥ 0.8"),
    ("lip_sync_lag_ms", "lip sync best lag, median", "ms", None),
    ("syllable_count_accuracy", "syllable count exact", "share", None),
    ("syllable_count_error", "syllable count error, mean absolute", "syllables", None),
    ("identity_match", "identity match (head, hat, voice pitch)", "share", None),
)


def _mean(values: list[Any]) -> float | None:
    values = [float(v) for v in values if v is not None]
    return float(np.mean(values)) if values else None


def aggregate(scores: list[ClipScores]) -> tuple[dict[str, float | None], dict[str, int]]:
    """Pool per-clip scores: impacts, objects and toys are pooled across clips, clip measures averaged.

    Returns the measures and how many items each rests on.
    """
    errors = [e for s in scores for e in s.sync_errors_ms]
    objects = [o for s in scores for o in s.objects]
    bouncing = [o for o in objects if o.arc_residual is not None or o.heights_decrease is not None]
    toys = [t for s in scores for t in s.toys]
    lip = [s for s in scores if s.lip_sync_r is not None]
    syllables = [s for s in scores if s.syllable_count_ok is not None]
    frame_ms = [1000.0 / s.fps for s in scores for _ in s.sync_errors_ms]
    measures = {
        "impact_sync_median_ms": float(np.median(errors)) if errors else None,
        "impact_sync_p90_ms": float(np.percentile(errors, 90)) if errors else None,
        "impacts_within_frame": float(np.mean(np.asarray(errors) <= np.asarray(frame_ms))) if errors else None,
        "false_sounds_per_clip": _mean([s.false_sounds for s in scores]),
        "attribute_accuracy": _mean([o.attributes_ok for o in objects]),
        "motion_accuracy": _mean([o.motion_ok for o in objects]),
        "physics_residual_px": _mean([o.arc_residual * 128 if o.arc_residual is not None else None for o in bouncing]),
        "bounce_heights_decrease": _mean([o.heights_decrease for o in bouncing]),
        "ambience_accuracy": _mean([s.ambience_ok for s in scores]),
        "lip_sync_r": _mean([s.lip_sync_r for s in lip]),
        "lip_sync_lag_ms": float(np.median([s.lip_sync_lag_ms for s in lip])) if lip else None,
        "syllable_count_accuracy": _mean([s.syllable_count_ok for s in syllables]),
        "syllable_count_error": _mean([abs(s.syllables_heard - s.syllables_prompted) for s in syllables]),
        "identity_match": _mean([t.identity_ok for t in toys]),
    }
    counts = {"clips": len(scores), "impacts": len(errors), "objects": len(objects), "bouncing": len(bouncing),
              "toys": len(toys), "lip_sync_clips": len(lip), "syllable_clips": len(syllables)}
    return measures, counts


@dataclass
class Report:
    """A benchmark run: what was scored, the pooled measures and every clip's scores."""

    model: str
    seed: int
    measures: dict[str, float | None]
    counts: dict[str, int]
    sync_errors_ms: list[float]
    clips: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_scores(cls, model: str, seed: int, scores: list[ClipScores],
                    clips: list[dict[str, Any]] | None = None, notes: list[str] | None = None) -> Report:
        measures, counts = aggregate(scores)
        return cls(model, seed, measures, counts, [e for s in scores for e in s.sync_errors_ms],
                   clips or [], notes or [])

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "seed": self.seed, "measures": self.measures, "counts": self.counts,
                "sync_errors_ms": self.sync_errors_ms, "notes": self.notes, "clips": self.clips}

    def markdown(self) -> str:
        lines = [f"# Toybox benchmark: {self.model}", "",
                 f"{self.counts['clips']} held-out clips (seed {self.seed}), {self.counts['impacts']} visual impacts, "
                 f"{self.counts['objects']} objects, {self.counts['toys']} toys.", "",
                 "| measure | value | bar |", "| --- | --- | --- |"]
        for key, label, unit, bar in MEASURES:
            value = self.measures.get(key)
            shown = "n/a" if value is None else (f"{value:.3f}" if unit in ("share", "r") else f"{value:.2f}")
            lines.append(f"| {label} ({unit}) | {shown} | {bar or ''} |")
        lines += ["", f"Impact sync pools every visual impact of every clip; an impact without an audio onset within "
                      f"±{MATCH_WINDOW_S * 1000:.0f} ms counts as {MISS_MS:.0f} ms. Bars are what ground-truth renders "
                      "reach through MP4; they are the evaluator's own acceptance, given here for scale."]
        lines += [f"\n{note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write report.json, report.md and the plots into `out_dir`; returns the paths written."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path, md_path = out / "report.json", out / "report.md"
        json_path.write_text(json.dumps(self.to_dict(), indent=2, default=_plain) + "\n")
        md_path.write_text(self.markdown())
        return [json_path, md_path, *write_plots(self, out)]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_plots(report: Report, out_dir: Path) -> list[Path]:
    """sync_errors.png (histogram of impact sync errors) and measures.png (the share-valued measures)."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, safe in servers and tests

    paths = []
    fig = Figure(figsize=(6, 3.5), layout="constrained")
    ax = fig.add_subplot()
    errors = np.asarray(report.sync_errors_ms)
    matched = errors[errors < MISS_MS]
    ax.hist(np.minimum(matched, 100.0), bins=np.arange(0.0, 102.0, 2.0), color="#3a7ca5")
    ax.axvline(1000.0 / 24.0, color="0.4", linestyle=":", label="1 frame at 24 fps")
    ax.legend(loc="upper right")
    far, missed = int(np.sum(matched >= 100.0)), int(np.sum(errors >= MISS_MS))
    ax.set_xlabel("|audio onset − visual impact| (ms; 100 = 100 or more)")
    ax.set_ylabel("impacts")
    ax.set_title(f"Impact sync: {len(matched)} matched ({far} ≥ 100 ms), {missed} without a sound")
    paths.append(out_dir / "sync_errors.png")
    fig.savefig(paths[-1], dpi=100)

    shares = [(label, report.measures.get(key), bar) for key, label, unit, bar in MEASURES if unit in ("share", "r")]
    shares = [(label, value, bar) for label, value, bar in shares if value is not None][::-1]
    fig = Figure(figsize=(7, 0.45 * max(len(shares), 1) + 1), layout="constrained")
    ax = fig.add_subplot()
    ax.barh([label for label, _, _ in shares], [value for _, value, _ in shares], color="#81a4cd")
    for row, (_, _, bar) in enumerate(shares):
        if bar:  # the reference bar as a tick across the row
            ax.plot([float(bar.split()[-1])] * 2, [row - 0.4, row + 0.4], color="black", linewidth=2)
    ax.set_xlim(min([0.0, *(v for _, v, _ in shares)]), 1.0)
    ax.set_xlabel("share / correlation")
    ax.set_title(f"Toybox measures: {report.model}")
    paths.append(out_dir / "measures.png")
    fig.savefig(paths[-1], dpi=100)
    return paths
