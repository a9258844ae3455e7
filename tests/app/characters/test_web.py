"""The characters pages as a browser uses them: designing a toy, refusals that keep the form, the birth year,
who may use a character, and account deletion purging character files."""

from __future__ import annotations

import datetime as dt

from duetto.app.characters import files
from duetto.app.characters import service as characters
from duetto.app.flows import accounts as account_flows
from duetto.app.users import accounts
from tests.app.sites import PASSWORD, TOY, Site


def test_design_a_toy_and_find_it_on_the_characters_page(site: Site) -> None:
    ann = site.person("ann")
    browser = site.browser_for(ann)
    assert 'href="/characters"' in browser.get("/drafts").text  # in the navigation
    form = browser.get("/characters/new")
    assert form.status_code == 200 and 'name="head_colour" value="purple"' in form.text
    made = browser.submit("/characters/new", {"name": "pip", "display_name": "Pip", **TOY, "hat": "white"})
    assert made.status_code == 303
    page = browser.get(made.headers["location"])
    assert "Pip" in page.text and "@pip · a Toybox toy" in page.text
    assert "yellow head, white hat, sleepy eyes; high soft voice" in page.text
    assert browser.get(made.headers["location"] + "/still").headers["content-type"] == "image/png"
    assert browser.get(made.headers["location"] + "/voice").headers["content-type"] == "audio/wav"
    assert 'data-testid="my-character"' in browser.get("/characters").text
    # "Use in a video" opens Create with the name filled in.
    assert "@pip </textarea>" in browser.get("/create?prompt=%40pip+").text


def test_a_refused_toy_shows_why_and_keeps_what_was_typed(site: Site) -> None:
    browser = site.browser_for(site.person("ann"))
    refused = browser.submit("/characters/new", {"name": "root", "display_name": "Rooty", **TOY}, page="/characters/new")
    assert refused.status_code == 400
    assert "@root is reserved; pick another name." in refused.text
    assert 'value="Rooty"' in refused.text and 'name="eyes" value="sleepy" checked' in refused.text


def test_the_birth_year_form_and_the_age_rule_on_the_character_page(site: Site) -> None:
    kid = site.person("kid", birth_year=None)
    toy = site.toy(kid, permission="mutuals")
    browser = site.browser_for(kid)
    page = f"/characters/{toy.id}"
    needs_year = browser.submit(f"{page}/permission", {"level": "everyone"}, page=page)
    assert needs_year.status_code == 400 and "needs your birth year" in needs_year.text
    saved = browser.submit("/characters/birth-year", {"year": str(dt.date.today().year - 12), "next": page},
                           page="/characters")
    assert saved.status_code == 303 and saved.headers["location"] == page
    minor = browser.submit(f"{page}/permission", {"level": "everyone"}, page=page)
    assert minor.status_code == 400 and "People under 18 cannot open a character to everyone" in minor.text
    assert site.character(toy.id).permission == "mutuals"
    assert browser.submit(f"{page}/permission", {"level": "approved"}, page=page).status_code == 303
    assert site.character(toy.id).permission == "approved"
    garbled = browser.submit("/characters/birth-year", {"year": "soon"}, page="/characters")
    assert garbled.status_code == 400 and "Birth year must be between" in garbled.text
    changed = browser.submit("/characters/birth-year", {"year": "1980"}, page="/characters")
    assert changed.status_code == 409 and "cannot be changed" in changed.text


def test_approving_by_handle_lets_that_person_use_the_character(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    toy = site.toy(ann, permission="approved")
    owner = site.browser_for(ann)
    page = f"/characters/{toy.id}"
    unknown = owner.submit(f"{page}/approve", {"handle": "@nobody_at_all"}, page=page)
    assert unknown.status_code == 400 and "There is no one called @nobody_at_all" in unknown.text
    assert owner.submit(f"{page}/approve", {"handle": f"@{bob.handle}"}, page=page).status_code == 303
    assert f"@{bob.handle} · approved" in owner.get(page).text
    friend = site.browser_for(bob)
    assert 'data-testid="shared-character"' in friend.get("/characters").text
    made = friend.submit("/create", {"prompt": f"On a stage, @{toy.name} says <S>ba<E>.", "seconds": "1",
                                     "size": "64x64"}, page="/create")
    assert made.status_code == 303


def test_deleting_an_account_purges_its_characters_files(site: Site) -> None:
    ann = site.person("ann")
    toy = site.toy(ann)
    storage = site.services.storage
    recording = files.enrollment_prefix(ann.user_id) + "take.webm"
    storage.put_bytes(recording, b"webm", "video/webm")
    with site.session() as session:
        account = accounts.get_account(session=session, handle=ann.handle)
        account_flows.delete_account(session=session, storage=storage, account=account, password=PASSWORD)
    assert not storage.exists(toy.still_key) and not storage.exists(toy.voice_key) and not storage.exists(recording)
    with site.session() as session:
        assert characters.by_name(session=session, name=toy.name) is None


def test_other_pages_under_characters_are_not_taken_for_character_ids(site: Site) -> None:
    from fastapi import APIRouter
    from fastapi.responses import PlainTextResponse

    extra = APIRouter()

    @extra.get("/characters/another-page")
    def another_page() -> PlainTextResponse:
        return PlainTextResponse("another page")

    site.app.include_router(extra)  # after the characters pages, as the enrollment page's router is
    browser = site.browser_for(site.person())
    assert browser.get("/characters/another-page").text == "another page"
    assert browser.get("/characters/char_0123abcd").status_code == 404
