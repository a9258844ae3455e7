"""`duetto generate` refuses bad input before torch or any weights load, in a moment, with one line naming the
model by its folder name (issue 17, item 2)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# Runs each command line in one fresh interpreter and reports their exit codes and error output, and whether
# torch was ever imported.
PROBE = """
import contextlib, io, json, sys
from duetto.cli import app
reports = []
for args in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            app(args, prog_name="duetto")
        except SystemExit as end:
            code = end.code
        else:
            code = 0
    reports.append({"code": code, "stderr": err.getvalue().strip()})
print(json.dumps({"reports": reports, "torch": "torch" in sys.modules}))
"""


def run(commands: list[list[str]], *, cwd: Path) -> tuple[list[dict], bool]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(commands)], capture_output=True, text=True,
                            timeout=300, cwd=cwd)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report["reports"], report["torch"]


@pytest.fixture(scope="module")
def model(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model in a folder whose name differs from the name in its model_index.json, as toybox-v1
    (folder) and toybox-v1-cpu (index) did."""
    folder = tmp_path_factory.mktemp("named") / "tiny-folder"
    shutil.copytree(models_dir / "toybox-v2", folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["name"] = "tiny-index-name"
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


LONG = "a small red rubber ball bounces on the left of a room and a blue box slides to the right. " * 8


BAD = [
    ([""], "the prompt is empty"),
    (["   "], "the prompt is empty"),
    (["a ball", "--steps", "0"], "--steps must be between 1 and 1000, got 0"),
    (["a ball", "--strength", "0"], "--strength must be in (0, 1]"),
    (["a ball", "--size", "720x720"], "size 720x720 is not supported by tiny-folder; choose one of: 64x64"),
    (["a ball", "--size", "big"], "size must look like WIDTHxHEIGHT"),
    (["a ball", "--seconds", "0.1"], "seconds must be between 0.5 and 4 for tiny-folder"),
    ([LONG], "tokens long; tiny-folder's text encoder accepts at most 128"),
]


def test_bad_input_is_refused_before_the_model_loads(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.mp4"
    reports, torch_loaded = run([["generate", *args, "--model", str(model), "-o", str(out)] for args, _ in BAD],
                                cwd=tmp_path)
    for (args, said), report in zip(BAD, reports, strict=True):
        stderr = report["stderr"]
        assert report["code"] == 2, (args, stderr)
        assert said in stderr and "tiny-index-name" not in stderr, (args, stderr)
        assert len(stderr.splitlines()) == 1 and stderr.startswith("error: "), stderr
    assert not torch_loaded  # all refused without importing torch, let alone loading weights
    assert not out.exists()


def test_errors_after_loading_name_the_folder_too(model: Path, tmp_path: Path) -> None:
    """What only the loaded pipeline can tell (here, a length past the model's last frame) names the folder.
    In this process, where torch is loaded already: only the message matters here."""
    from typer.testing import CliRunner

    from duetto.cli import app

    result = CliRunner().invoke(app, ["generate", "a ball", "--model", str(model), "--seconds", "60",
                                      "-o", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2
    assert "for tiny-folder" in result.output and "tiny-index-name" not in result.output, result.output
