"""Protections: reserved handles and public figures (the moderation list) as names and in prompts, minors and
'everyone', at most two characters per video, unknown names, and the checks on listed ids and start images."""

from __future__ import annotations

import datetime as dt

import pytest

from duetto.app.characters import cast, permissions
from duetto.app.characters import service as characters
from duetto.app.core.errors import Conflict, Forbidden, InvalidRequest
from duetto.app.flows import accounts as account_flows
from duetto.app.users import ages
from tests.app.sites import PASSWORD, TOY, Site


@pytest.mark.parametrize("name", ["admin", "@Support", "duetto"])
def test_reserved_handles_cannot_be_character_names(site: Site, name: str) -> None:
    owner = site.person()
    with pytest.raises(InvalidRequest, match=f"@{name.lstrip('@').lower()} is reserved; pick another name"):
        site.toy(owner, name)


def test_reserved_handles_cannot_appear_in_prompts(site: Site) -> None:
    someone = site.person()
    with pytest.raises(InvalidRequest, match="@admin is reserved and cannot appear in a prompt"):
        site.request(someone, "@admin waves on a stage.")


def test_public_figures_cannot_be_characters_by_name_or_display_name(site: Site) -> None:
    # The list is the moderation module's (seeded with its defaults), looked up through public_figure_match.
    owner = site.person()
    with pytest.raises(InvalidRequest, match=r"@joe_biden names a public figure \(Joe Biden\)"):
        site.toy(owner, "joe_biden")
    with site.session() as session, pytest.raises(InvalidRequest, match=r"names a public figure \(Barack Obama\)"):
        characters.create_toy_character(session=session, user_id=owner.user_id, name="pip", look=TOY,
                                        storage=site.services.storage, display_name="Barack Obama")
    with site.session() as session:
        assert characters.characters_of(session=session, owner_id=owner.user_id) == []


def test_prompts_naming_a_public_figure_are_refused(site: Site) -> None:
    someone = site.person()
    with site.session() as session, pytest.raises(InvalidRequest, match=r"names a public figure \(Donald Trump\)"):
        cast.cast_for(session=session, user_id=someone.user_id, kind="create",
                            prompt="On a stage, donald TRUMP says <S>ba<E>.")
    with pytest.raises(InvalidRequest, match="Donald Trump"):
        site.request(someone, "On a stage, Donald Trump says <S>ba<E>.")


def test_minors_cannot_open_a_character_to_everyone(site: Site) -> None:
    minor = site.person("kid", birth_year=dt.date.today().year - 15)
    with pytest.raises(Forbidden, match="under 18 cannot open a character to everyone") as refused:
        site.toy(minor, permission="everyone")
    assert refused.value.code == "minor_everyone"
    toy = site.toy(minor, permission="mutuals")
    with site.session() as session, pytest.raises(Forbidden, match="under 18"):
        permissions.set_permission(session=session, character=characters.get_character(session=session, character_id=toy.id), level="everyone")
    assert site.character(toy.id).permission == "mutuals"


def test_everyone_needs_a_birth_year_which_is_set_once(site: Site) -> None:
    unknown = site.person("who", birth_year=None)
    with pytest.raises(InvalidRequest, match="needs your birth year") as refused:
        site.toy(unknown, permission="everyone")
    assert refused.value.code == "birth_year_required"
    with site.session() as session:
        ages.declare_birth_year(session=session, user_id=unknown.user_id, year=1985)
        with pytest.raises(Conflict, match="already set"):
            ages.declare_birth_year(session=session, user_id=unknown.user_id, year=1970)
    assert site.toy(unknown, permission="everyone").permission == "everyone"


def test_the_age_rule_counts_whole_years_conservatively() -> None:
    today = dt.date(2026, 6, 1)
    assert ages.is_minor(2008, today=today)  # may still be 17
    assert not ages.is_minor(2007, today=today)
    assert ages.is_minor(None, today=today)


def test_at_most_two_characters_per_video(site: Site) -> None:
    owner = site.person()
    a, b, c = (site.toy(owner, look=look) for look in (
        TOY, {**TOY, "head_colour": "red"}, {**TOY, "head_colour": "green"}))
    two = site.request(owner, f"@{a.name} on the left and @{b.name} on the right say <S>ba<E>.")
    assert two.status == "queued"
    with pytest.raises(InvalidRequest, match="at most 2 characters; this one would show 3") as refused:
        site.request(owner, f"@{a.name}, @{b.name} and @{c.name} say <S>ba<E>.")
    assert refused.value.code == "too_many_characters"
    # A remix adds the source's characters to the ones its prompt names.
    with pytest.raises(InvalidRequest, match="at most 2 characters"):
        site.request(owner, f"Now with @{c.name} too.", kind="remix", source=two)


def test_unknown_names_and_unmentioned_ids_are_refused_in_one_line(site: Site) -> None:
    owner = site.person()
    toy = site.toy(owner)
    with pytest.raises(InvalidRequest, match="There is no character @nobody_here that you may use; check the name"):
        site.request(owner, "@nobody_here waves.")
    with pytest.raises(InvalidRequest, match=f"write @{toy.name} in the prompt"):
        site.request(owner, "A red ball bounces.", character_ids=[toy.id])
    with pytest.raises(InvalidRequest, match="no character 'char_missing' that you may use"):
        site.request(owner, f"@{toy.name} waves.", character_ids=["char_missing"])
    assert site.request(owner, f"@{toy.name} waves.", character_ids=[toy.id]).status == "queued"


def test_a_name_means_one_thing_in_prompts_a_handle_or_a_character(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    with pytest.raises(Conflict, match=f"@{bob.handle} is someone's handle") as refused:
        site.toy(ann, bob.handle)
    assert refused.value.code == "name_taken"
    assert site.toy(ann, ann.handle).name == ann.handle  # one's own handle is fine
    site.toy(ann, "pipsqueak")
    with site.session() as session, pytest.raises(Conflict, match="@pipsqueak is taken"):
        account_flows.sign_up(session=session, handle="pipsqueak", password=PASSWORD)
