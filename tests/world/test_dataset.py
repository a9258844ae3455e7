"""Datasets: shards read back exactly, clips do not depend on sharding or workers, and reruns resume."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from duetto.world.dataset import (
    decode_frames,
    encode_frames,
    iter_dataset,
    read_manifest,
    render_item,
    shard_paths,
    write_dataset,
)
from duetto.world.render import render
from duetto.world.sample import random_scene

SMALL = {"width": 40, "height": 24, "fps": 12.0, "seconds": 0.5, "sample_rate": 8000}


@pytest.mark.parametrize(("width", "height", "noise"), [(64, 48, 0.0), (33, 17, 0.0), (20, 20, 2.0)])
def test_frame_codec_is_lossless(width, height, noise):
    frames = render(
        random_scene(np.random.default_rng(4)), width=width, height=height, seconds=1.0, noise=noise
    ).clip.frames
    parts = encode_frames(frames)
    assert np.array_equal(decode_frames(**parts), frames)
    if noise == 0.0:  # flat colours: far fewer changed pixels than pixels
        assert len(parts["delta_index"]) < 0.1 * frames[:, :, :, 0].size


def test_write_then_read_gives_the_rendered_clips(tmp_path):
    report = write_dataset(tmp_path, 5, shard_size=2, workers=1, audio_dtype="float32", **SMALL)
    assert report.written == [0, 1, 2] and report.skipped == []
    params = read_manifest(tmp_path)["params"]
    items = list(iter_dataset(tmp_path))
    assert [it.index for it in items] == [0, 1, 2, 3, 4]
    for item in items:
        expected = render_item(item.index, params)
        assert np.array_equal(item.frames, expected.clip.frames)
        assert np.array_equal(item.audio, expected.clip.audio)
        assert item.caption == expected.truth["caption"] and item.truth == json.loads(
            json.dumps(expected.truth)
        )
        assert item.clip.frames.shape == (6, 24, 40, 3) and item.clip.sample_rate == 8000


def test_float16_audio_is_close(tmp_path):
    write_dataset(tmp_path, 2, shard_size=2, workers=1, **SMALL)
    item = next(iter_dataset(tmp_path))
    expected = render_item(0, read_manifest(tmp_path)["params"]).clip.audio
    assert item.audio.dtype == np.float32 and np.abs(item.audio - expected).max() < 1e-3


def test_rerun_skips_complete_shards_and_redoes_missing_ones(tmp_path):
    write_dataset(tmp_path, 6, shard_size=2, workers=1, **SMALL)
    shards = shard_paths(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in shards}
    os.remove(shards[1])
    (tmp_path / "shard-00002.npz.tmp-999").write_bytes(b"half a shard")  # as left by a killed run
    report = write_dataset(tmp_path, 6, shard_size=2, workers=1, **SMALL)
    assert report.written == [1] and report.skipped == [0, 2]
    after = {p.name: p.stat().st_mtime_ns for p in shard_paths(tmp_path)}
    assert (
        after["shard-00000.npz"] == before["shard-00000.npz"]
        and after["shard-00002.npz"] == before["shard-00002.npz"]
    )
    assert not list(tmp_path.glob("*.tmp-*"))
    assert [it.index for it in iter_dataset(tmp_path)] == list(range(6))


def test_other_parameters_in_the_same_folder_are_refused(tmp_path):
    write_dataset(tmp_path, 2, shard_size=2, workers=1, **SMALL)
    with pytest.raises(ValueError, match="seed"):
        write_dataset(tmp_path, 2, shard_size=2, workers=1, seed=1, **SMALL)


def test_workers_and_shard_size_do_not_change_the_clips(tmp_path):
    write_dataset(tmp_path / "a", 4, shard_size=1, workers=2, **SMALL)
    write_dataset(tmp_path / "b", 4, shard_size=4, workers=1, **SMALL)
    for x, y in zip(iter_dataset(tmp_path / "a"), iter_dataset(tmp_path / "b"), strict=True):
        assert x.index == y.index and np.array_equal(x.frames, y.frames) and np.array_equal(x.audio, y.audio)


@pytest.mark.parametrize(
    "bad", [{"n": -1}, {"shard_size": 0}, {"workers": 0}, {"width": 1}, {"audio_dtype": "int8"}]
)
def test_bad_arguments_raise_value_error(tmp_path, bad):
    kwargs = {"n": 2, **bad}
    with pytest.raises(ValueError):
        write_dataset(tmp_path, kwargs.pop("n"), **{**SMALL, **kwargs})


def test_reading_a_folder_without_a_dataset_says_so(tmp_path):
    with pytest.raises(ValueError, match="not a Toybox dataset"):
        list(iter_dataset(tmp_path))
