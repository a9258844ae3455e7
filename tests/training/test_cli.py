"""`duetto train …` from the command line: presets, overrides, one-line errors, and --resume."""

from __future__ import annotations

from typer.testing import CliRunner

from duetto.training.cli import train_app

from .conftest import TINY

runner = CliRunner()


def test_sizes_prints_the_components():
    result = runner.invoke(train_app, ["sizes", "--config", str(TINY)])
    assert result.exit_code == 0, result.output
    assert "transformer" in result.output and "total" in result.output


def test_bad_override_is_a_one_line_error(tmp_path):
    result = runner.invoke(
        train_app, ["video-vae", "-c", str(TINY), "--out", str(tmp_path), "--set", "video_vae.nope=1"]
    )
    assert result.exit_code == 2
    assert "error: video_vae.nope" in result.output


def test_stage_runs_refuses_to_overwrite_and_resumes(tmp_path):
    args = ["video-vae", "-c", str(TINY), "--out", str(tmp_path), "--set", "video_vae.steps=1",
            "--set", "video_vae.stats_clips=1", "--set", "data.num_clips=1"]  # fmt: skip
    assert runner.invoke(train_app, args).exit_code == 0
    assert (tmp_path / "video_vae" / "final" / "config.json").is_file()
    assert (tmp_path / "config.yaml").is_file()
    again = runner.invoke(train_app, args)
    assert again.exit_code == 2 and "--resume" in again.output
    assert runner.invoke(train_app, [*args, "--resume"]).exit_code == 0
