"""`duetto generate` end to end on a tiny random-weight model: every conditioning mode, every bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from duetto.cli import app
from duetto.engine.testing import make_tiny_model
from duetto.media import probe_mp4, read_mp4, write_mp4

runner = CliRunner()
PROMPT = "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room."


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def source_clip(tiny_model, tmp_path_factory) -> Path:
    """A clip made by the model itself, used as the input of the video/audio/remix/extend modes."""
    out = tmp_path_factory.mktemp("src") / "source.mp4"
    result = runner.invoke(app, ["generate", PROMPT, "--model", str(tiny_model), "--seconds", "1", "--seed", "3",
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _generate(tiny_model: Path, out: Path, *args: str):
    return runner.invoke(app, ["generate", PROMPT, "--model", str(tiny_model), "-o", str(out), *args])


def _check_mp4(path: Path, *, fps: float, seconds: float, width: int, height: int) -> dict:
    info = probe_mp4(path)
    assert info["video"]["codec"] == "h264" and info["audio"]["codec"] == "aac"
    assert info["video"]["fps"] == pytest.approx(fps)
    assert info["audio"]["sample_rate"] == 16000
    assert (info["video"]["width"], info["video"]["height"]) == (width, height)
    expected_frames = 4 * round(seconds * fps / 4) + 1  # the causal VAE's 1 + 4k frames
    assert info["video"]["frames"] == expected_frames
    assert abs(info["audio"]["duration"] - info["video"]["duration"]) <= 1 / fps
    assert info["video"]["duration"] == pytest.approx(expected_frames / fps, abs=1e-3)
    return info


def test_text_to_video_and_audio(tiny_model, tmp_path):
    out = tmp_path / "t2av.mp4"
    result = _generate(tiny_model, out, "--seconds", "2", "--size", "96x64", "--seed", "1")
    assert result.exit_code == 0, result.output
    _check_mp4(out, fps=8, seconds=2, width=96, height=64)


def test_same_seed_same_clip_other_seed_other_clip(tiny_model, tmp_path):
    from duetto.engine.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(tiny_model)
    a, b = (pipe(PROMPT, seed=7) for _ in range(2))
    c = pipe(PROMPT, seed=8)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert not np.array_equal(a.audio, c.audio)


def test_image_to_video_and_audio(tiny_model, tmp_path):
    from PIL import Image

    image = tmp_path / "first.png"
    Image.fromarray(np.full((64, 64, 3), (220, 40, 40), np.uint8)).save(image)
    out = tmp_path / "i2av.mp4"
    result = _generate(tiny_model, out, "--image", str(image), "--seconds", "1")
    assert result.exit_code == 0, result.output
    _check_mp4(out, fps=8, seconds=1, width=64, height=64)


def test_video_to_audio_keeps_the_picture(tiny_model, source_clip, tmp_path):
    out = tmp_path / "v2a.mp4"
    result = _generate(tiny_model, out, "--video", str(source_clip))
    assert result.exit_code == 0, result.output
    _check_mp4(out, fps=8, seconds=1, width=64, height=64)
    given, made = read_mp4(source_clip), read_mp4(out)
    assert np.abs(given.frames.astype(int) - made.frames.astype(int)).mean() < 3  # re-encoded, same picture


def test_audio_to_video_keeps_the_sound(tiny_model, tmp_path):
    from duetto.clip import Clip

    t = np.arange(16000) / 16000
    sound = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    given = tmp_path / "sound.mp4"
    write_mp4(Clip(frames=np.zeros((9, 64, 64, 3), np.uint8), audio=sound, fps=8, sample_rate=16000), given)
    out = tmp_path / "a2v.mp4"
    result = _generate(tiny_model, out, "--audio", str(given))
    assert result.exit_code == 0, result.output
    _check_mp4(out, fps=8, seconds=1, width=64, height=64)
    made = read_mp4(out).mono
    # The 440 Hz tone survives: its bin dominates the spectrum of the output's sound.
    spectrum = np.abs(np.fft.rfft(made[:16000]))
    assert abs(np.argmax(spectrum) * 16000 / len(made[:16000]) - 440) < 5


def test_remix_starts_from_the_clip(tiny_model, source_clip, tmp_path):
    from duetto.engine.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(tiny_model)
    source = read_mp4(source_clip)
    light = pipe(PROMPT, remix_of=source, strength=0.5, steps=4, seed=5)
    fresh = pipe(PROMPT, steps=4, seed=5)
    assert light.num_frames == source.num_frames
    # A light remix stays nearer the source than a fresh generation with the same seed.
    def dist(a, b):
        return np.abs(a.frames.astype(float) - b.frames.astype(float)).mean()
    assert dist(light, source) < dist(fresh, source)
    out = tmp_path / "remix.mp4"
    result = _generate(tiny_model, out, "--remix", str(source_clip), "--strength", "0.5")
    assert result.exit_code == 0, result.output
    _check_mp4(out, fps=8, seconds=1, width=64, height=64)


def test_extend_continues_the_clip(tiny_model, source_clip, tmp_path):
    out = tmp_path / "extend.mp4"
    result = _generate(tiny_model, out, "--extend", str(source_clip), "--seconds", "1")
    assert result.exit_code == 0, result.output
    source, made = read_mp4(source_clip), read_mp4(out)
    info = probe_mp4(out)
    assert info["video"]["frames"] == source.num_frames + 8  # one more second at 8 fps
    assert abs(info["audio"]["duration"] - info["video"]["duration"]) <= 1 / 8
    assert np.abs(made.frames[: source.num_frames].astype(int) - source.frames.astype(int)).mean() < 3


def test_wav_output(tiny_model, tmp_path):
    import soundfile

    out, wav = tmp_path / "x.mp4", tmp_path / "x.wav"
    result = _generate(tiny_model, out, "--wav", str(wav))
    assert result.exit_code == 0, result.output
    info = soundfile.info(wav)
    assert info.samplerate == 16000 and info.frames == round(9 / 8 * 16000)


# -- bad input: one line, exit code 2, no traceback, nothing written ---------------------------------------

def _assert_clean_failure(result, out: Path, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in message
    for needle in needles:
        assert needle in message, message
    assert not out.exists()
    assert not list(out.parent.glob("*.mp4.*")), "a temporary file was left behind"


def test_unknown_model_folder(tmp_path):
    out = tmp_path / "x.mp4"
    result = runner.invoke(app, ["generate", PROMPT, "--model", str(tmp_path / "nope"), "-o", str(out)])
    _assert_clean_failure(result, out, "does not exist", "--model")


def test_missing_component(tiny_model, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    shutil.rmtree(broken / "vocoder")
    out = tmp_path / "x.mp4"
    result = runner.invoke(app, ["generate", PROMPT, "--model", str(broken), "-o", str(out)])
    _assert_clean_failure(result, out, "vocoder")


def test_size_not_allowed_lists_sizes(tiny_model, tmp_path):
    out = tmp_path / "x.mp4"
    _assert_clean_failure(_generate(tiny_model, out, "--size", "100x100"), out, "100x100", "64x64, 96x64, 64x96")


def test_seconds_out_of_range(tiny_model, tmp_path):
    out = tmp_path / "x.mp4"
    _assert_clean_failure(_generate(tiny_model, out, "--seconds", "30"), out, "between 0.5 and 4")


def test_prompt_over_the_limit_names_it(tiny_model, tmp_path):
    out = tmp_path / "x.mp4"
    long_prompt = "a red ball bounces " * 80
    result = runner.invoke(app, ["generate", long_prompt, "--model", str(tiny_model), "-o", str(out)])
    _assert_clean_failure(result, out, "at most 128")


def test_unreadable_image(tiny_model, tmp_path):
    image = tmp_path / "bad.png"
    image.write_bytes(b"not an image")
    out = tmp_path / "x.mp4"
    _assert_clean_failure(_generate(tiny_model, out, "--image", str(image)), out, "bad.png")


def test_output_not_writable(tiny_model, tmp_path):
    out = tmp_path / "missing-folder" / "x.mp4"
    _assert_clean_failure(_generate(tiny_model, out), out, "cannot write")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_output_permission_denied(tiny_model, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    out = folder / "x.mp4"
    _assert_clean_failure(_generate(tiny_model, out), out, "permission denied")


def test_no_default_model_says_how_to_name_one(tmp_path):
    """The installed command, in its own process: exit code 2 and a one-line hint to use --model."""
    env = dict(os.environ, DUETTO_MODEL=str(tmp_path / "no-such-model"))
    proc = subprocess.run([sys.executable, "-m", "duetto.cli", "generate", PROMPT, "-o", str(tmp_path / "x.mp4")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "no default model is installed" in proc.stderr and "--model" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_longest_clip_a_model_makes_is_accepted_back_as_input(tiny_model):
    from duetto.engine.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(tiny_model)
    cfg = pipe.config
    longest = pipe.num_frames(cfg.max_seconds)
    size = cfg.default_size
    # Its duration in seconds rounds above max_seconds, but it is the model's own length.
    assert longest / cfg.fps > cfg.max_seconds
    pipe.check_inputs(PROMPT, longest / cfg.fps, size, 2, 0.6)
    with pytest.raises(ValueError, match="seconds must be between"):
        pipe.check_inputs(PROMPT, (longest + 4) / cfg.fps, size, 2, 0.6)


def test_an_extension_may_fill_the_longest_clip_a_model_makes(tiny_model, source_clip):
    from duetto.engine.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(tiny_model)
    cfg, source = pipe.config, read_mp4(source_clip)
    held, longest = pipe.extension_prefix_frames(source), pipe.num_frames(cfg.max_seconds)
    # A window (held tail + new seconds) as long as the model's longest clip: above max_seconds in seconds,
    # but the model's own length in frames, as check_inputs counts it.
    seconds = (longest - held + 1) / cfg.fps
    assert seconds + (held - 1) / cfg.fps > cfg.max_seconds
    made = pipe(PROMPT, extend=source, seconds=seconds, seed=0)
    assert made.num_frames == source.num_frames + longest - held
    with pytest.raises(ValueError, match="an extension can add at most"):
        pipe(PROMPT, extend=source, seconds=seconds + 4 / cfg.fps, seed=0)
