"""Every post, wherever it plays (feed card, post page, the owner's draft page), says it is AI-generated."""

from __future__ import annotations

from tests.app.sites import PASSWORD, Web, handle

LABEL = 'data-testid="ai-label"'


def test_every_post_and_player_page_carries_the_ai_label(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann = web.account(handle())
    first, first_video = web.post(ann.user_id, "a red ball bounces", "one", assets=clip_assets)
    second, _ = web.post(ann.user_id, "a blue box slides", "two", assets=clip_assets)

    visitor = web.browser()
    feed = visitor.get("/").text
    reels = feed.count('data-testid="reel"')
    assert reels == 2 and feed.count(LABEL) == reels  # one label per card, none missing
    for post_id in (first, second):
        page = visitor.get(f"/p/{post_id}").text
        assert page.count(LABEL) == 1 and ">AI-generated<" in page and 'href="/verify"' in page

    owner = web.browser()
    owner.sign_in(ann.handle, PASSWORD)
    draft = owner.get(f"/drafts/{first_video}").text
    assert 'data-testid="player"' in draft and LABEL in draft
