"""Steering with words no post carries is saved, and the viewer is told that it matched nothing and which
words would (issue 17, item 9)."""

from __future__ import annotations

import html
import re

from tests.app.sites import PASSWORD, Web, handle


def _note(page: str) -> str | None:
    found = re.search(r'data-testid="steer-nomatch">(.*?)</p>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else None


def test_steering_that_matches_nothing_says_so_and_what_would(web: Web, clip_assets: dict[str, bytes]) -> None:
    maker = web.account(handle())
    web.post(maker.user_id, "a red ball bounces in the rain", "rain on a red ball", assets=clip_assets)
    web.post(maker.user_id, "a ball rolls across a quiet room", assets=clip_assets)
    viewer = web.account(handle())
    browser = web.browser()
    browser.sign_in(viewer.handle, PASSWORD)

    saved = browser.submit("/feed/steer", {"steering": "asdfgh qwerty", "next": "/settings/feed?saved=1"},
                           page="/settings/feed")
    assert saved.status_code == 303  # saved: posts that carry the words later will be steered
    settings = browser.get("/settings/feed").text
    note = _note(settings)
    assert note is not None, "no sign that the steering matched nothing"
    assert note.startswith("None of the videos in your feed mention “asdfgh” or “qwerty”, so this changes nothing")
    assert "Try words from the videos here, such as ball, " in note  # the word most videos here carry first
    assert "or a mood: calm, loud" in note
    assert 'value="asdfgh qwerty"' in settings  # the phrase stays, as typed

    feed_page = browser.get("/").text
    assert _note(feed_page) == "“asdfgh” or “qwerty” match no video here yet · what works"

    # Part of a phrase: the rest applies, and the word that reaches nothing is named.
    browser.submit("/feed/steer", {"steering": "more rain, no asdfgh", "next": "/"}, page="/")
    partial = _note(browser.get("/settings/feed").text)
    assert partial and partial.startswith("No video in your feed mentions “asdfgh” yet; the rest of your steering")

    # Words (and moods) that posts carry: no note anywhere.
    for phrase in ("more rain", "calm videos please"):
        browser.submit("/feed/steer", {"steering": phrase, "next": "/"}, page="/")
        assert _note(browser.get("/").text) is None, phrase
        assert _note(browser.get("/settings/feed").text) is None, phrase
