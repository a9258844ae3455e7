"""Random scenes respect the spec's constraints and stay scorable."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from duetto.world import vocab
from duetto.world.sample import random_scene


def _scenes(n=600, **kw):
    rng = np.random.default_rng(0)
    return [random_scene(rng, **kw) for _ in range(n)]


def test_constraints_hold_over_many_scenes():
    for facts in _scenes():
        things = facts.objects + facts.toys
        assert 1 <= len(things) <= 3 and len(facts.objects) <= vocab.MAX_OBJECTS
        assert len({t.position for t in things}) == len(things)
        colours = [o.colour for o in facts.objects] + [t.head_colour for t in facts.toys]
        colours += [t.hat for t in facts.toys if t.hat != "none"]
        assert len(set(colours)) == len(colours)  # every colour on screen names one thing
        assert not set(colours) & set(vocab.SETTING_CLASHES[facts.setting])
        if any(t.eyes == "wide" for t in facts.toys):
            assert "white" not in colours  # eye whites would pass for a white object
        for obj in facts.objects:
            if obj.motion in ("rolls", "slides"):
                x = vocab.POSITIONS[obj.position]
                ahead = [vocab.POSITIONS[t.position] for t in things if t is not obj]
                side = -1 if obj.direction == "left" else 1
                assert all((p - x) * side < 0 for p in ahead)  # nothing in its way


def test_scenes_cover_the_vocabulary():
    scenes = _scenes()
    objects = [o for f in scenes for o in f.objects]
    toys = [t for f in scenes for t in f.toys]
    assert set(Counter(f.setting for f in scenes)) == set(vocab.SETTINGS)
    assert set(Counter(f.ambience for f in scenes)) == set(vocab.AMBIENCES)
    assert {o.motion for o in objects} == set(vocab.MOTIONS)
    assert {o.material for o in objects} == set(vocab.MATERIALS)
    assert {(o.shape, o.size) for o in objects} == {(s, z) for s in vocab.SHAPES for z in vocab.SIZES}
    assert {t.eyes for t in toys} == set(vocab.EYES) and {t.pitch for t in toys} == set(vocab.PITCHES)
    assert any(len(f.toys) == 2 for f in scenes)


def test_options_limit_objects_and_toys():
    assert all(len(f.objects) <= 1 and not f.toys for f in _scenes(200, max_objects=1, allow_toys=False))
    assert all(not f.objects and f.toys for f in _scenes(50, max_objects=0))
    with pytest.raises(ValueError):
        random_scene(np.random.default_rng(0), max_objects=4)


def test_same_generator_state_same_scene():
    assert random_scene(np.random.default_rng(9)) == random_scene(np.random.default_rng(9))


def test_objects_beside_a_toy_never_lean_towards_it():
    from duetto.world.facts import ObjectFacts, SceneFacts, ToyFacts
    from duetto.world.scene import realize

    toy = ToyFacts("red", "none", "dots", "mid", "soft", "center", ["ba"])
    left = ObjectFacts("ball", "blue", "big", "rubber", "bounces", "left")
    right = ObjectFacts("box", "yellow", "big", "wood", "rests", "right")
    rng = np.random.default_rng(0)
    for _ in range(50):
        scene = realize(SceneFacts("room", "quiet", [left, right], [toy]), rng)
        assert (
            scene.objects[0].x0 <= vocab.POSITIONS["left"] and scene.objects[1].x0 >= vocab.POSITIONS["right"]
        )
        # On a square canvas a big object beside a toy at most touches its head.
        assert scene.objects[0].x0 + 0.09 <= scene.toys[0].x - vocab.TOY_HEAD_RADIUS + 1e-9
