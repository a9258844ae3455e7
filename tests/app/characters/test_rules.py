"""Owners' rules: the grammar, what each form refuses and lets through, and the refusal's wording."""

from __future__ import annotations

import pytest

from duetto.app.characters.rules import FORMS_HELP, parse_rule, refusal, violation
from duetto.app.core.errors import InvalidRequest


def broken(rule: str, prompt: str) -> str | None:
    found = violation(rule, parse_rule(rule), prompt)
    return found.evidence if found else None


@pytest.mark.parametrize("prompt, evidence", [
    ("@ann gives a speech before the election", "election"),
    ("@ann votes, Audio: cheering", "votes"),
    ("A senator shakes hands with @ann", "senator"),
    ("@ann joins a protest", "protest"),
])
def test_no_politics_refuses_prompts_about_politics(prompt: str, evidence: str) -> None:
    assert broken("no politics", prompt) == evidence


def test_no_politics_lets_other_prompts_through() -> None:
    assert broken("no politics", "On a stage, @ann says <S>ba lo<E>. Audio: a quiet room.") is None


def test_an_unknown_topic_means_its_own_words() -> None:
    assert broken("no cats", "@ann pets two cats") == "cats"
    assert broken("no cats", "@ann pets a dog") is None
    assert broken("no loud music", "@ann plays music, very loud") == "loud music"
    assert broken("no loud music", "@ann plays quiet music") is None


@pytest.mark.parametrize("prompt", [
    "@ann with no hat", "@ann without a hat", "@ann, not wearing her hat", "@ann takes off the hat",
    "@ann stands hat off", "a hatless @ann",
])
def test_always_refuses_prompts_that_negate_it(prompt: str) -> None:
    assert broken("always wearing a hat", prompt) is not None


def test_always_lets_prompts_that_keep_it_or_say_nothing_of_it() -> None:
    assert broken("always wearing a hat", "@ann wearing a purple hat dances") is None
    assert broken("always wearing a hat", "@ann dances") is None
    assert broken("always smiling", "@ann is not smiling") == "not smiling"
    assert broken("always smiling", "@ann without a smile") == "without a smile"


def test_never_refuses_prompts_that_contain_it() -> None:
    assert broken("never singing", "@ann sings a song") == "sings"
    assert broken("never singing", "@ann dances") is None
    assert broken("never eats meat", "@ann eats some meat") == "eats meat"


@pytest.mark.parametrize("text", ["hats please", "only mondays", "no", "always", "never the", "always with a"])
def test_text_that_matches_no_form_is_refused_at_entry_with_the_forms(text: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_rule(text)
    assert FORMS_HELP in refused.value.message


def test_quotes_case_and_stops_around_a_rule_are_ignored() -> None:
    assert parse_rule("'No Politics.'") == parse_rule("no politics")


def test_the_refusal_names_the_character_the_rule_and_the_words() -> None:
    found = violation("no politics", parse_rule("no politics"), "@ann before the election")
    assert refusal("ann", found) == "@ann's rule 'no politics' refuses this prompt (it mentions 'election')."
    found = violation("always wearing a hat", parse_rule("always wearing a hat"), "@ann without a hat")
    assert refusal("ann", found) == "@ann's rule 'always wearing a hat' refuses this prompt (it says 'without a hat')."
