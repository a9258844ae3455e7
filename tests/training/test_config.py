"""Presets validate, overrides apply, mistakes are one-line errors, and the shipped preset fits its budget."""

from __future__ import annotations

import re

import pytest

from duetto.training.config import VIDEO_FRAME_STRIDE, load_config
from duetto.training.sizes import component_sizes

from .conftest import REPO

PRESETS = REPO / "configs" / "train"


@pytest.mark.parametrize("name", ["tiny", "toybox-v1", "toybox-v1-nofusion", "toybox-v1-cpu", "toybox-v1-cpu-nofusion"])
def test_presets_validate(name):
    cfg = load_config(PRESETS / f"{name}.yaml")
    assert cfg.name == name


@pytest.mark.parametrize("preset", ["toybox-v1", "toybox-v1-cpu"])
def test_ablation_differs_only_in_fusion(preset):
    full = load_config(PRESETS / f"{preset}.yaml").model_dump()
    ablation = load_config(PRESETS / f"{preset}-nofusion.yaml").model_dump()
    assert full["twin"]["model"].pop("fusion") is True
    assert ablation["twin"]["model"].pop("fusion") is False
    full.pop("name"), ablation.pop("name")
    assert full == ablation


@pytest.mark.parametrize("preset", ["toybox-v1", "toybox-v1-cpu"])
def test_shipped_preset_geometry_and_budget(preset):
    cfg = load_config(PRESETS / f"{preset}.yaml")
    assert (cfg.data.width, cfg.data.height, cfg.data.fps, cfg.data.sample_rate) == (128, 128, 24, 16000)
    assert cfg.data.seconds >= 4.0
    total = sum(component_sizes(cfg).values())
    # fp16 weights plus tokenizer and configs (well under 1 MB) must stay under the 60 MB cap.
    assert total * 2 < (cfg.max_model_mb - 1) * 1e6


def test_overrides_are_parsed_as_yaml():
    cfg = load_config(
        PRESETS / "tiny.yaml",
        ["twin.steps=3", "twin.lr=1e-3", "twin.model.patch_size=[1, 2, 2]", "generation.solver=euler"],
    )
    assert cfg.twin.steps == 3 and cfg.twin.lr == 1e-3 and cfg.generation.solver == "euler"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("twin.stepz=3", "twin.stepz"),
        ("data.frames=10", "data.frames must be 1 + a multiple"),
        ("twin.conditioning.prefix=0.9", "add up to at most 1"),
        ("generation.skip_blocks=[7]", "skip_blocks"),
        ("twin.model.patch_size=[2, 2, 2]", "patch_size must start with 1"),
    ],
)
def test_mistakes_are_one_line_value_errors(override, message):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_config(PRESETS / "tiny.yaml", [override])
    assert "\n" not in str(info.value)


def test_bad_set_syntax_and_missing_file():
    with pytest.raises(ValueError, match="key=value"):
        load_config(PRESETS / "tiny.yaml", ["twin.steps"])
    with pytest.raises(ValueError, match="does not exist"):
        load_config(PRESETS / "nope.yaml")


def test_longest_generation_maps_back_to_the_trained_frames():
    from duetto.training.assemble import generation_config

    for name in ("tiny", "toybox-v1"):
        cfg = load_config(PRESETS / f"{name}.yaml")
        gen = generation_config(cfg, 2)
        frames = VIDEO_FRAME_STRIDE * max(1, round(gen.max_seconds * gen.fps / VIDEO_FRAME_STRIDE)) + 1
        assert frames == cfg.data.frames
        assert gen.video_negative_prompt == gen.audio_negative_prompt == ""
