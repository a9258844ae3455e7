"""Teen accounts: safer defaults a teen cannot loosen alone, a parent link both sides agree to, what the
linked parent can set and can never read, and people search that never shows a teen to an adult."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest
from sqlalchemy import select

from duetto.app.characters import permissions
from duetto.app.core.errors import Forbidden
from duetto.app.db.models import Account, Character, Message
from duetto.app.feed import service as feed
from duetto.app.social import discovery
from duetto.app.wellbeing import family, teens
from tests.app.sites import Site, api_key_for

TEEN_YEAR = dt.datetime.now(dt.UTC).year - 15


def _dm(site: Site, sender: Account, recipient: Account, body: str) -> httpx.Response:
    browser = site.browser_for(sender)
    return browser.submit(f"/messages/@{recipient.handle}", {"body": body}, page=f"/messages/@{recipient.handle}")


def _controls_form(**changes: str) -> dict[str, str]:
    form = {"daily_limit_minutes": "60", "quiet_start": "", "quiet_end": "", "timezone": "UTC",
            "dm_policy": "following", "character_level": "mutuals"}
    return {**form, **changes}


def _link(site: Site, parent: Account, teen: Account) -> None:
    parent_browser = site.browser_for(parent)
    invited = parent_browser.submit("/settings/family/invite", {"handle": teen.handle}, page="/settings/family")
    assert invited.status_code == 303, invited.text
    teen_browser = site.browser_for(teen)
    page = teen_browser.get("/settings/family")
    assert f"@{parent.handle} asked to link as your parent" in page.text
    assert teen_browser.submit("/settings/family/accept", page="/settings/family").status_code == 303


def test_teen_defaults_hold_whatever_the_teen_sets_alone(site: Site, clip_assets: dict[str, bytes]) -> None:
    teen, stranger, friend = site.person("teen", birth_year=TEEN_YEAR), site.person("str"), site.person("fr")
    # DMs: only from people the teen follows.
    refused = _dm(site, stranger, teen, "hi there")
    assert refused.status_code == 403 and "only takes messages from people they follow" in refused.text
    site.follow(teen, friend)
    assert _dm(site, friend, teen, "hello from a friend").status_code == 303
    # The teen opens their own settings as wide as the forms go: the teen limits still apply.
    browser = site.browser_for(teen)
    assert browser.submit("/settings/safety", {"dm_policy": "everyone", "stranger_dm_limit": "20"},
                          page="/settings/safety").status_code == 303
    assert browser.submit("/settings/feed", {"daily_limit_minutes": "", "personalized": "on"},
                          page="/settings/feed").status_code == 303
    assert _dm(site, stranger, teen, "hi again").status_code == 403
    with site.session() as session:
        status = feed.watch_status(session=session, viewer_id=teen.user_id)
        assert status.limit_seconds == teens.TEEN_DAILY_LIMIT_MINUTES * 60 and status.firm
        assert not feed.is_personalized(session=session, user_id=teen.user_id)
        # Characters: at most mutuals ('everyone' stays an adult's choice in any case).
        permissions.check_level(session=session, owner_id=teen.user_id, level="mutuals")
        with pytest.raises(Forbidden):
            permissions.check_level(session=session, owner_id=teen.user_id, level="everyone")
    # Only a linked parent writes the controls: to the teen themselves the form does not exist.
    own = browser.submit(f"/settings/family/@{teen.handle}/controls", _controls_form(dm_policy="everyone"),
                         page="/settings/family")
    assert own.status_code == 404
    # A firm limit, once reached, stops the feed (no "keep watching").
    with site.session() as session:
        assert not feed.add_watch_time(session=session, viewer_id=teen.user_id, seconds=30).reached
    site.post(stranger.user_id, "a red ball bounces", assets=clip_assets)
    with site.session() as session:
        for _ in range(int(teens.TEEN_DAILY_LIMIT_MINUTES * 60 / feed.MAX_WATCH_REPORT_S)):
            status = feed.add_watch_time(session=session, viewer_id=teen.user_id, seconds=feed.MAX_WATCH_REPORT_S)
    assert status.reached and status.stopped
    home = browser.get("/")
    assert 'data-testid="firm-limit"' in home.text and "Keep watching" not in home.text
    assert 'data-testid="reel"' not in home.text


def test_a_teens_posts_reach_only_people_they_follow_unless_the_parent_allows(
        site: Site, clip_assets: dict[str, bytes]) -> None:
    teen, stranger, friend, parent = (site.person("teen", birth_year=TEEN_YEAR), site.person("str"),
                                      site.person("fr"), site.person("par"))
    site.follow(teen, friend)
    post_id, _ = site.post(teen.user_id, "a green box slides on the floor", assets=clip_assets)

    def seen_by(viewer: Account | None) -> bool:
        with site.session() as session:
            found = feed.for_you(session=session, viewer_id=viewer.user_id if viewer else None, limit=20)
            return post_id in {p.id for p in found}

    assert not seen_by(stranger) and not seen_by(None) and seen_by(friend)
    _link(site, parent, teen)
    saved = site.browser_for(parent).submit(f"/settings/family/@{teen.handle}/controls",
                                            _controls_form(discoverable="on"), page="/settings/family")
    assert saved.status_code == 303, saved.text
    assert seen_by(stranger) and seen_by(None)


def test_a_linked_parent_sets_the_limits_and_narrows_what_they_no_longer_allow(site: Site) -> None:
    teen, parent, other_adult = site.person("teen", birth_year=TEEN_YEAR), site.person("par"), site.person("oth")
    toy = site.toy(teen, permission="mutuals")
    # A teen cannot be anyone's parent, and only a teen account links to a parent.
    teen_browser = site.browser_for(teen)
    assert teen_browser.submit("/settings/family/invite", {"handle": parent.handle},
                               page="/settings/family").status_code == 403
    not_teen = site.browser_for(parent).submit("/settings/family/invite", {"handle": other_adult.handle},
                                               page="/settings/family")
    assert not_teen.status_code == 400 and "is not a teen account" in not_teen.text
    _link(site, parent, teen)
    # Someone else cannot set them, linked or not.
    assert site.browser_for(other_adult).submit(
        f"/settings/family/@{teen.handle}/controls", _controls_form(dm_policy="everyone"),
        page="/settings/family").status_code == 404
    parent_browser = site.browser_for(parent)
    bad = parent_browser.submit(f"/settings/family/@{teen.handle}/controls", _controls_form(quiet_start="22"),
                                page="/settings/family")
    assert bad.status_code == 400 and "both a start and an end" in bad.text
    saved = parent_browser.submit(f"/settings/family/@{teen.handle}/controls", _controls_form(
        daily_limit_minutes="30", personalized="on", dm_policy="everyone", character_level="only_me"),
        page="/settings/family")
    assert saved.status_code == 303, saved.text
    with site.session() as session:
        assert feed.watch_status(session=session, viewer_id=teen.user_id).limit_seconds == 30 * 60
        assert feed.is_personalized(session=session, user_id=teen.user_id)
        assert session.get(Character, toy.id).permission == "only_me"  # narrowed with the ceiling
    # The teen may choose stricter for themselves, never looser than the parent's.
    assert teen_browser.submit("/settings/feed", {"daily_limit_minutes": "20", "personalized": "on"},
                               page="/settings/feed").status_code == 303
    with site.session() as session:
        assert feed.watch_status(session=session, viewer_id=teen.user_id).limit_seconds == 20 * 60
    stranger = site.person("str")
    assert _dm(site, stranger, teen, "hello").status_code == 303  # the parent allowed everyone
    page = teen_browser.get("/settings/family")
    assert "changed your limits" in page.text and 'data-testid="teen-limit">30 min' in page.text
    # Either side ends the link, and the other is told; the controls stay as they were.
    ended = teen_browser.submit("/settings/family/end", page="/settings/family")
    assert ended.status_code == 303
    assert f"@{teen.handle} ended the parent link." in parent_browser.get("/settings/family").text
    with site.session() as session:
        assert family.parent_of(session=session, teen_id=teen.user_id) is None
        assert teens.controls(session=session, user_id=teen.user_id).daily_limit_minutes == 30
    assert parent_browser.submit(f"/settings/family/@{teen.handle}/controls", _controls_form(),
                                 page="/settings/family").status_code == 404


def test_quiet_hours_rest_the_feed(site: Site, clip_assets: dict[str, bytes]) -> None:
    teen, parent, maker = site.person("teen", birth_year=TEEN_YEAR), site.person("par"), site.person("mk")
    site.follow(teen, maker)
    site.post(maker.user_id, "a blue ball rolls", assets=clip_assets)
    _link(site, parent, teen)
    hour = dt.datetime.now(dt.UTC).hour
    assert site.browser_for(parent).submit(f"/settings/family/@{teen.handle}/controls", _controls_form(
        quiet_start=str(hour), quiet_end=str((hour + 2) % 24)), page="/settings/family").status_code == 303
    browser = site.browser_for(teen)
    home = browser.get("/")
    assert 'data-testid="quiet"' in home.text and 'data-testid="reel"' not in home.text
    assert browser.get("/feed/more?tab=foryou").headers["x-more"] == ""
    with site.session() as session:
        controls = teens.controls(session=session, user_id=teen.user_id)
        assert not teens.in_quiet_hours(controls, now=time.time() + 3 * 3600)


def test_a_parent_never_reads_the_teens_messages_drafts_or_check_ins(site: Site) -> None:
    teen, parent, friend = site.person("teen", birth_year=TEEN_YEAR), site.person("par"), site.person("fr")
    site.follow(teen, friend)
    assert _dm(site, friend, teen, "a secret between friends").status_code == 303
    draft = site.run(site.request(teen, "a private draft of a purple box").id)
    teen_browser = site.browser_for(teen)
    assert teen_browser.submit("/checkins", {"score": "2"}, page="/").status_code == 200
    _link(site, parent, teen)
    parent_browser = site.browser_for(parent)
    for path in ("/settings/family", "/messages", f"/messages/@{friend.handle}", f"/@{teen.handle}"):
        page = parent_browser.get(path)
        assert "a secret between friends" not in page.text and "a private draft" not in page.text, path
    assert parent_browser.get(f"/messages/@{teen.handle}").status_code == 200  # only their own conversation
    assert parent_browser.get(f"/drafts/{draft.id}").status_code == 404
    family_page = parent_browser.get("/settings/family").text
    assert "minutes watched in the last 7 days" in family_page and "A bit worse" not in family_page
    # The API answers the parent's key only about the parent's own videos.
    key = api_key_for(site, parent.user_id)
    headers = {"authorization": f"Bearer {key}"}
    assert site.client.get(f"/v1/videos/{draft.id}", headers=headers).status_code == 404
    assert site.client.get(f"/v1/videos/{draft.id}/content", headers=headers).status_code == 404
    listed = site.client.get("/v1/videos", headers=headers).json()["data"]
    assert draft.id not in {v["id"] for v in listed}
    with site.session() as session:
        assert session.scalar(select(Message.body).where(Message.recipient_id == teen.user_id)) == \
            "a secret between friends"  # it exists; the parent's pages just never show it


def test_adults_cannot_find_teens_through_search_or_suggestions(site: Site) -> None:
    teen = site.person("teenfind", birth_year=TEEN_YEAR)
    other_teen = site.person("teenpal", birth_year=TEEN_YEAR + 1)
    adult, adult_match, middle = site.person("adult"), site.person("teenfinder"), site.person("mid")
    with site.session() as session:
        def handles(viewer: Account | None, query: str) -> set[str]:
            return {a.handle for a in discovery.search(session=session, viewer_id=viewer.user_id if viewer else None,
                                                       query=query)}

        assert teen.handle in handles(other_teen, teen.handle)  # teens find each other
        assert handles(adult, "teen") == {adult_match.handle}  # an adult: the adult with a matching handle only
        assert teen.handle not in handles(None, teen.handle)  # visitors neither
        assert teen.handle not in handles(adult, teen.display_name)
    # Suggestions: people followed by the people you follow, teens left out for adults.
    site.follow(adult, middle)
    site.follow(middle, teen)
    site.follow(middle, adult_match)
    site.follow(other_teen, middle)
    with site.session() as session:
        suggested = {a.handle for a in discovery.suggestions(session=session, viewer_id=adult.user_id)}
        assert suggested == {adult_match.handle}
        assert teen.handle in {a.handle for a in discovery.suggestions(session=session, viewer_id=other_teen.user_id)}
    page = site.browser_for(adult).get(f"/people?q={teen.handle}")
    assert page.status_code == 200 and f"@{teen.handle}" not in page.text and "No one matches" in page.text


def test_sign_up_asks_the_birth_year_and_a_teen_starts_with_the_teen_defaults(site: Site) -> None:
    browser = site.browser()
    missing = browser.submit("/signup", {"handle": "kid", "password": "a long enough pass 1"}, page="/signup")
    assert missing.status_code == 400 and "Type the year you were born" in missing.text
    made = browser.submit("/signup", {"handle": "kid", "password": "a long enough pass 1",
                                      "birth_year": str(TEEN_YEAR)}, page="/signup")
    assert made.status_code == 303
    with site.session() as session:
        kid = session.scalar(select(Account).where(Account.handle == "kid"))
        assert teens.controls(session=session, user_id=kid.user_id).dm_policy == "following"
