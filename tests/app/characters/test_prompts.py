"""@name mentions and the one function that rewrites them into what the engine conditions on."""

from __future__ import annotations

from duetto.app.characters.prompts import Likeness, mentions, rewrite_prompt, toy_phrase, voice_phrase
from duetto.world.captions import parse_caption

ANN = Likeness("ann", "toy", "Ann", {"head_colour": "yellow", "hat": "purple", "eyes": "sleepy", "pitch": "high",
                                 "timbre": "soft"})
BO = Likeness("bo_bo", "toy", "Bo", {"head_colour": "blue", "hat": "none", "eyes": "wide", "pitch": "low",
                                 "timbre": "buzzy"})
MIA = Likeness("mia", "person", "Mia Rossi")


def test_mentions_are_found_once_each_in_order_and_emails_are_not_mentions() -> None:
    assert mentions("@Ann waves at @bo_bo, then @ann sings. Mail ann@example.org") == ["ann", "bo_bo"]
    assert mentions("no one here @x (too short) @@ann") == []


def test_toy_and_voice_phrases_follow_the_toybox_caption_style() -> None:
    assert toy_phrase(ANN.toy) == "a yellow toy with a purple hat and sleepy eyes"
    assert toy_phrase(BO.toy) == "a blue toy with wide eyes"
    assert voice_phrase(ANN.toy) == "a high soft voice"
    assert voice_phrase(BO.toy) == "a low buzzy voice"


def test_a_toy_becomes_its_identity_phrase_and_its_voice_joins_the_audio_part() -> None:
    text = rewrite_prompt("On a stage, @ann says <S>ba lo mi<E>. Audio: low hum.", [ANN])
    assert text == ("On a stage, a yellow toy with a purple hat and sleepy eyes says <S>ba lo mi<E>. "
                    "Audio: a high soft voice, low hum.")


def test_without_an_audio_part_one_is_added_and_a_sentence_start_is_capitalised() -> None:
    text = rewrite_prompt("@ann says <S>ba<E> on the left, and the @bo_bo says <S>mo<E> on the right", [ANN, BO])
    assert text == ("A yellow toy with a purple hat and sleepy eyes says <S>ba<E> on the left, and "
                    "a blue toy with wide eyes says <S>mo<E> on the right. Audio: a high soft voice, then "
                    "a low buzzy voice.")


def test_the_toybox_caption_parser_reads_the_characters_identity_back() -> None:
    # What the Toybox model was trained on: the rewritten caption states exactly the toys' identities.
    text = rewrite_prompt("On a stage, @ann says <S>ba lo<E> on the left, and @bo_bo says <S>mi<E> on the right.",
                          [ANN, BO])
    facts = parse_caption(text)
    assert [t.identity for t in facts.toys] == [dict(ANN.toy), dict(BO.toy)]
    assert [t.words for t in facts.toys] == [["ba", "lo"], ["mi"]]


def test_a_person_becomes_their_display_name_and_adds_no_voice() -> None:
    assert rewrite_prompt("@mia waves. Audio: birds.", [MIA]) == "Mia Rossi waves. Audio: birds."


def test_mentions_outside_the_cast_and_prompts_without_characters_are_left_alone() -> None:
    assert rewrite_prompt("@zed waves.", [ANN]) == "@zed waves."
    assert rewrite_prompt("A red ball bounces.", []) == "A red ball bounces."
