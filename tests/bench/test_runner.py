"""Held-out prompts, the benchmark runner, its report files and the `duetto bench` commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from duetto.bench.cli import bench_app
from duetto.bench.report import MEASURES, Report
from duetto.bench.runner import (
    HELD_OUT_SEED_BASE,
    BenchPrompt,
    held_out_prompts,
    reference_generator,
    run_benchmark,
)
from duetto.clip import Clip
from duetto.world.captions import parse_caption


def test_held_out_prompts_are_deterministic_disjoint_and_parseable() -> None:
    first, again, other = held_out_prompts(5, seed=0), held_out_prompts(5, seed=0), held_out_prompts(5, seed=1)
    assert [p.caption for p in first] == [p.caption for p in again]
    assert all(p.scene_seed >= HELD_OUT_SEED_BASE > 2**32 - 1 for p in first + other)
    assert not {p.scene_seed for p in first} & {p.scene_seed for p in other}
    assert all(0 <= p.generation_seed < 2**31 for p in first)
    assert all(parse_caption(p.caption) == p.facts for p in first)
    with pytest.raises(ValueError):
        held_out_prompts(0)


def test_run_benchmark_writes_mp4s_and_a_report(tmp_path) -> None:
    report = run_benchmark(reference_generator(), n=2, seed=3, out_dir=tmp_path, model_name="truth")
    for name in ("report.json", "report.md", "sync_errors.png", "measures.png", "clips/000.mp4", "clips/001.mp4"):
        assert (tmp_path / name).is_file(), name
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["model"] == "truth" and data["counts"]["clips"] == 2
    assert set(data["measures"]) == {key for key, *_ in MEASURES}
    assert [c["caption"] for c in data["clips"]] == [p.caption for p in held_out_prompts(2, seed=3)]
    markdown = (tmp_path / "report.md").read_text()
    assert "| measure | value | bar |" in markdown and "≤ 5" in markdown
    assert report.measures["attribute_accuracy"] == 1.0


def test_a_blank_generator_scores_badly(tmp_path) -> None:
    def blank(prompt: BenchPrompt) -> Clip:
        return Clip(np.zeros((96, 128, 128, 3), np.uint8), np.zeros(64000, np.float32), 24.0, 16000)

    report = run_benchmark(blank, n=3, seed=0, out_dir=tmp_path)
    assert report.measures["attribute_accuracy"] == 0.0
    assert report.measures["ambience_accuracy"] < 1.0
    assert isinstance(report, Report) and "n/a" in report.markdown()


def test_cli_reference_run_and_bad_input(tmp_path) -> None:
    runner = CliRunner()
    done = runner.invoke(bench_app, ["toybox", "--reference", "--n", "1", "--out", str(tmp_path / "run")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "run" / "report.md").is_file()
    for args in (["toybox", "--reference", "--n", "0"], ["toybox", "--model", str(tmp_path / "nope")],
                 ["toybox", "--reference", "--size", "big"],
                 ["score", str(tmp_path / "missing.mp4"), "--prompt", "A red ball rests. Audio: quiet."]):
        failed = runner.invoke(bench_app, args)
        assert failed.exit_code == 2, args
        assert failed.output.strip().startswith("error:") and len(failed.output.strip().splitlines()) == 1
    clip = tmp_path / "run" / "clips" / "000.mp4"
    caption = json.loads((tmp_path / "run" / "report.json").read_text())["clips"][0]["caption"]
    scored = runner.invoke(bench_app, ["score", str(clip), "--prompt", caption])
    assert scored.exit_code == 0 and json.loads(scored.output)["attribute_accuracy"] in (None, 1.0)
