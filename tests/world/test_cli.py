"""`duetto world render|dataset`: files written, truth beside the MP4, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from duetto.media import read_mp4
from duetto.world.cli import world_app
from duetto.world.dataset import iter_dataset

runner = CliRunner()


def test_render_a_prompt_writes_mp4_and_truth(tmp_path):
    out = tmp_path / "clip.mp4"
    prompt = (
        "A small red rubber ball bounces on the left of a room. Audio: bouncy boings on each hit, quiet room."
    )
    result = runner.invoke(
        world_app,
        ["render", "--prompt", prompt, "--size", "96x64", "--fps", "12", "--seconds", "1.5", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    clip = read_mp4(out)
    assert (clip.width, clip.height, clip.fps) == (96, 64, 12)
    truth = json.loads(out.with_suffix(".json").read_text())
    assert truth["caption"] == prompt
    assert truth["objects"][0]["colour"] == "red" and truth["objects"][0]["motion"] == "bounces"
    assert truth["events"] and all(e["kind"] == "impact" for e in truth["events"])


def test_render_a_random_scene_depends_on_the_seed(tmp_path):
    captions = []
    for seed in (1, 2):
        out = tmp_path / f"{seed}.mp4"
        result = runner.invoke(
            world_app, ["render", "--seed", str(seed), "--size", "32x32", "--seconds", "0.5", "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        captions.append(json.loads(out.with_suffix(".json").read_text())["caption"])
    assert captions[0] != captions[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", "a red ball zooms"], "zooms"),
        (["--size", "big"], "WIDTHxHEIGHT"),
        (["--fps", "0"], "fps"),
        (["--prompt", "a toy says <S>hello<E>"], "hello"),
    ],
)
def test_bad_input_is_one_line_with_exit_code_2(tmp_path, args, message):
    result = runner.invoke(world_app, ["render", *args, "-o", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.mp4").exists()


def test_output_must_be_an_mp4(tmp_path):
    result = runner.invoke(world_app, ["render", "-o", str(tmp_path / "x.avi")])
    assert result.exit_code == 2 and ".mp4" in result.output


def test_dataset_command_writes_a_readable_dataset_with_mp4s(tmp_path):
    out = tmp_path / "data"
    args = [
        "dataset",
        str(out),
        "--n",
        "3",
        "--workers",
        "1",
        "--size",
        "32x24",
        "--seconds",
        "0.5",
        "--shard-size",
        "2",
        "--mp4",
    ]
    result = runner.invoke(world_app, args)
    assert result.exit_code == 0, result.output
    assert [item.index for item in iter_dataset(out)] == [0, 1, 2]
    assert len(list((out / "mp4").glob("*.mp4"))) == 3 and len(list((out / "mp4").glob("*.json"))) == 3
    again = runner.invoke(world_app, args)
    assert "2 already complete" in again.output


def test_dataset_command_rejects_bad_counts(tmp_path):
    result = runner.invoke(world_app, ["dataset", str(tmp_path), "--n", "-3"])
    assert result.exit_code == 2 and "n must be" in result.output
