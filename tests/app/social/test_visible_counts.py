"""Counts say what the lists under them show (issue 17, item 6): after a block the owner saw "1 remix" above
"No remixes yet" and "1 comment" with none listed, and after a takedown request signed-out visitors saw a held
remix counted. Remix, comment and post counts are now counted from what the viewer may see."""

from __future__ import annotations

import re

from duetto.app.db.models import Post
from tests.app.sites import PASSWORD, Web, handle


def _number(page: str, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}"[^>]*>(\d+)<', page)
    assert found, f"no {testid} on the page"
    return int(found.group(1))


def _comments_heading(page: str) -> int:
    found = re.search(r"<h2[^>]*>(\d+) comments?</h2>", page)
    assert found, "no comments heading on the page"
    return int(found.group(1))


def _tiles(page: str) -> int:
    return page.count('data-testid="tile"')


def test_after_a_block_the_owner_sees_counts_that_match_the_lists(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann, bob = web.account(handle()), web.account(handle())
    post_id, video_id = web.post(ann.user_id, "a red ball bounces", assets=clip_assets)
    web.post(bob.user_id, "a red ball bounces twice", assets=clip_assets, remix_of_video=video_id)
    bob_browser = web.browser()
    bob_browser.sign_in(bob.handle, PASSWORD)
    assert bob_browser.submit(f"/p/{post_id}/comments", {"body": "nice bounce"}, page=f"/p/{post_id}").status_code == 303

    owner = web.browser()
    owner.sign_in(ann.handle, PASSWORD)
    before = owner.get(f"/p/{post_id}").text
    assert _number(before, "remix-total") == 1 and _comments_heading(before) == 1
    assert owner.submit(f"/@{bob.handle}/block", page=f"/@{bob.handle}").status_code == 303

    page = owner.get(f"/p/{post_id}").text
    assert "No remixes yet" in page and page.count('data-testid="comment"') == 0
    assert _number(page, "remix-total") == 0 and _comments_heading(page) == 0
    assert _number(page, "remix-count") == 0 and _number(page, "comment-count") == 0  # the action bar agrees
    # The stored counters (what ranking uses) still count everyone's; only what is shown is per viewer.
    with web.session() as session:
        stored = session.query(Post).filter(Post.id == post_id).one()
        assert (stored.remix_count, stored.comment_count) == (1, 1)
    # Someone else still sees both, and their counts agree with their lists.
    visitor = web.browser().get(f"/p/{post_id}").text
    assert _number(visitor, "remix-total") == 1 and _tiles(visitor) == 1
    assert _comments_heading(visitor) == 1 and visitor.count('data-testid="comment"') == 1


def test_a_held_remix_is_not_counted_for_signed_out_visitors(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann, bob = web.account(handle()), web.account(handle())
    web.account("mia_mod")
    post_id, video_id = web.post(ann.user_id, "a blue box slides", assets=clip_assets)
    remix_id, _ = web.post(bob.user_id, "a blue box slides back", assets=clip_assets, remix_of_video=video_id)
    visitor = web.browser()
    assert visitor.submit("/takedown", {"post": f"/p/{remix_id}", "category": "unlawful"}).status_code == 303

    page = visitor.get(f"/p/{post_id}").text
    assert _tiles(page) == 0 and "No remixes yet" in page
    assert _number(page, "remix-total") == 0 and _number(page, "remix-count") == 0
    # The remixer's profile: its only post is held, so it shows none and counts none.
    profile = visitor.get(f"/@{bob.handle}").text
    assert _tiles(profile) == 0 and re.search(r"<b[^>]*>0</b> posts?", profile)
    # Ann's profile tile shows no remix count either (its mark is "⟲ 1", or an icon and "remixes: 1").
    assert not re.search(r"(⟲|remixes: </span>)\s*\d", visitor.get(f"/@{ann.handle}").text)

    # Moderators see the held remix, listed and counted alike.
    moderator = web.browser()
    moderator.sign_in("mia_mod", PASSWORD)
    seen = moderator.get(f"/p/{post_id}").text
    assert _number(seen, "remix-total") == 1 and _tiles(seen) == 1
