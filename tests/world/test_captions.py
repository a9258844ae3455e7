"""Captions: generated phrasings read back to the same facts; people's phrasings parse; bad words are named."""

from __future__ import annotations

import numpy as np
import pytest

from duetto.world import vocab
from duetto.world.captions import CaptionError, caption, parse_caption
from duetto.world.facts import ObjectFacts, SceneFacts, ToyFacts
from duetto.world.sample import random_scene


def test_round_trip_over_many_random_scenes_and_phrasings():
    rng = np.random.default_rng(11)
    for _ in range(400):
        facts = random_scene(rng)
        assert parse_caption(caption(facts)) == facts
        assert parse_caption(caption(facts, rng)) == facts


def test_captions_vary_but_follow_the_ovi_format():
    facts = random_scene(np.random.default_rng(3))
    texts = {caption(facts, np.random.default_rng(s)) for s in range(30)}
    assert len(texts) > 10
    for text in texts:
        narration, _, audio = text.partition(" Audio: ")
        assert narration and audio.endswith(".")


def test_speech_is_wrapped_in_s_e_tags():
    facts = SceneFacts(
        "stage",
        "hum",
        toys=[ToyFacts("yellow", "purple", "sleepy", "high", "soft", "center", ["ba", "lomi"])],
    )
    assert "<S>ba lomi<E>" in caption(facts, np.random.default_rng(0))


def test_spec_examples_parse():
    ball = parse_caption(
        "A small red rubber ball bounces on the left of a room. Audio: bouncy boings on each hit, quiet room."
    )
    assert ball == SceneFacts(
        "room", "quiet", [ObjectFacts("ball", "red", "small", "rubber", "bounces", "left")]
    )
    box = parse_caption(
        "In a field, a big blue wooden box slides to the right and hits the wall. Audio: a scrape, then a knock, wind blowing."
    )
    assert box == SceneFacts(
        "field", "wind", [ObjectFacts("box", "blue", "big", "wood", "slides", "center", "right")]
    )
    toy = parse_caption(
        "On a stage, a yellow toy with a purple hat and sleepy eyes says <S>ba lo mi<E>. Audio: a high soft voice, low hum."
    )
    assert toy == SceneFacts(
        "stage",
        "hum",
        toys=[ToyFacts("yellow", "purple", "sleepy", "high", "soft", "center", ["ba", "lo", "mi"])],
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a small red rubber ball bounces on the left of a room. Audio: boings, quiet room.",
            SceneFacts("room", "quiet", [ObjectFacts("ball", "red", "small", "rubber", "bounces", "left")]),
        ),
        (
            "Red Balls Bounce!!  In The Rain",
            SceneFacts("room", "rain", [ObjectFacts("ball", "red", "small", "rubber", "bounces", "center")]),
        ),
        (
            "At night a large steel cube drops to the ground on the right; a little violet sphere rolls leftward from the left",
            SceneFacts(
                "night",
                "quiet",
                [
                    ObjectFacts("ball", "purple", "small", "rubber", "rolls", "left", "left"),
                    ObjectFacts("box", "red", "big", "metal", "falls", "right"),
                ],
            ),
        ),
        (
            "on the right, a green puppet wearing a red cap with big round eyes speaks <s>DU pa<e> in a deep raspy voice; "
            "outdoors in a meadow. audio: gusty wind",
            SceneFacts(
                "field",
                "wind",
                toys=[ToyFacts("green", "red", "wide", "low", "buzzy", "right", ["du", "pa"])],
            ),
        ),
        (
            "A glass block sits still in the middle of the stage, and on the left a yellow character without a hat says <S>nena<E>. "
            "Audio: a squeaky gentle voice, an electric hum",
            SceneFacts(
                "stage",
                "hum",
                [ObjectFacts("box", "red", "small", "glass", "rests", "center")],
                [ToyFacts("yellow", "none", "dots", "high", "soft", "left", ["nena"])],
            ),
        ),
        (
            'A green cube slides left into the wall and lands with a thud. A red toy says "ba lomi". Sound: scraping, rain.',
            SceneFacts(
                "room",
                "rain",
                [ObjectFacts("box", "green", "small", "wood", "slides", "left", "left")],
                [ToyFacts("red", "none", "dots", "mid", "soft", "right", ["ba", "lomi"])],
            ),
        ),
    ],
)
def test_peoples_phrasings_parse(text, expected):
    assert parse_caption(text) == expected


def test_defaults_fill_what_a_caption_leaves_out():
    facts = parse_caption("a ball and a box")
    assert [o.position for o in facts.objects] == ["left", "right"]
    assert [o.material for o in facts.objects] == ["rubber", "wood"]
    assert len({o.colour for o in facts.objects}) == 2
    assert (facts.setting, facts.ambience) == ("room", "quiet")
    # A defaulted colour never hides in the setting's backdrop.
    assert parse_caption("a ball in a field").objects[0].colour not in vocab.SETTING_CLASHES["field"]


def test_unknown_words_are_named():
    with pytest.raises(CaptionError) as err:
        parse_caption("a red ball zooms past a giraffe. Audio: kazoo music")
    assert err.value.words == ["zooms", "past", "giraffe", "kazoo", "music"]
    for word in err.value.words:
        assert word in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_spoken_words_are_named():
    with pytest.raises(CaptionError, match="hello") as err:
        parse_caption("a red toy says <S>ba hello<E>")
    assert err.value.words == ["hello"]
    with pytest.raises(CaptionError, match="<E>"):
        parse_caption("a red toy says <S>ba lo")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a red box rolls", "cannot"),
        ("a green ball in a field", "green"),
        ("a red ball and a red box", "red"),
        ("a red blue ball", "conflicting colour"),
        ("a ball on the left and a box on the left", "left"),
        ("two red balls", "each object"),
        ("a red ball says <S>ba<E>", "only toys"),
        ("a toy with a hat", "colour"),
        ("", "empty"),
        ("red and bouncing", "ball, a box or a toy"),
        ("a red ball bounces. Audio: a high voice, a low voice", "voices"),
        ("a red toy. Audio: it says <S>ba<E>", "before 'Audio:'"),
    ],
)
def test_impossible_captions_raise_one_line_caption_errors(text, message):
    with pytest.raises(CaptionError, match=message) as err:
        parse_caption(text)
    assert isinstance(err.value, ValueError)
    assert "\n" not in str(err.value)


def test_facts_round_trip_through_dicts():
    rng = np.random.default_rng(5)
    for _ in range(50):
        facts = random_scene(rng)
        assert SceneFacts.from_dict(facts.to_dict()) == facts


def test_objects_are_kept_left_to_right():
    a = ObjectFacts("ball", "red", "small", "rubber", "rests", "right")
    b = ObjectFacts("box", "blue", "big", "wood", "rests", "left")
    assert [o.position for o in SceneFacts("room", "quiet", [a, b]).objects] == ["left", "right"]
