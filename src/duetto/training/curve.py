"""The learning curve a model folder carries: one row per training run (samples seen, CPU time, every benchmark
measure), kept in its training state and written as a table into the model card between two markers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from duetto.training.assemble import TRAINING_STATE, record_run

START, END = "<!-- learning-curve:start -->", "<!-- learning-curve:end -->"
#: (report measure, column heading, format): the benchmark's measures the curve follows, in the card's order.
COLUMNS = (
    ("impact_sync_median_ms", "sync median ms", "{:.0f}"),
    ("impacts_within_frame", "within ±1 frame", "{:.2f}"),
    ("false_sounds_per_clip", "false sounds/clip", "{:.2f}"),
    ("attribute_accuracy", "attributes", "{:.2f}"),
    ("motion_accuracy", "motion", "{:.2f}"),
    ("ambience_accuracy", "ambience", "{:.2f}"),
    ("lip_sync_r", "lip sync r", "{:.2f}"),
)


def run_row(report: Path, *, samples: int, steps: int, cpu_hours: float, note: str = "") -> dict[str, Any]:
    """One run's row from its benchmark report.json and what the run cost."""
    data = json.loads(Path(report).read_text())
    return {"samples": samples, "steps": steps, "cpu_hours": round(cpu_hours, 2),
            "measures": {key: data["measures"].get(key) for key, _, _ in COLUMNS}, "note": note}


def table(runs: list[dict[str, Any]]) -> str:
    """The learning curve as a Markdown table, one row per run."""
    head = ["run", "samples seen", "CPU hours", *(label for _, label, _ in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |"]
    for number, run in enumerate(runs, start=1):
        cells = [f"{number}{' ' + run['note'] if run.get('note') else ''}", f"{run['samples']:,}",
                 f"{run['cpu_hours']:.1f}"]
        for key, _, fmt in COLUMNS:
            value = run["measures"].get(key)
            cells.append("n/a" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_card_table(card: Path, runs: list[dict[str, Any]]) -> None:
    """Replace the table between the card's learning-curve markers (which must be there)."""
    text = Path(card).read_text()
    if START not in text or END not in text:
        raise ValueError(f"{card} has no {START} … {END} block for the learning curve; add one")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    Path(card).write_text(pattern.sub(lambda _: f"{START}\n{table(runs)}\n{END}", text))


def record(model_dir: Path, report: Path, card: Path, *, cpu_hours: float, note: str = "") -> list[dict[str, Any]]:
    """Add the run that produced `model_dir` (its samples and steps from the training state) to its history
    and to the card; returns every run so far."""
    state = json.loads((Path(model_dir) / TRAINING_STATE / "state.json").read_text())
    row = run_row(report, samples=state["samples"], steps=state["steps"], cpu_hours=cpu_hours, note=note)
    runs = record_run(model_dir, row)
    write_card_table(card, runs)
    return runs
