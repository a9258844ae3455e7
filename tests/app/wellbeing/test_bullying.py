"""Against bullying: comment filters and "only people I follow" on your posts, restricting someone, who may
message you, and how far a stranger may go before you answer."""

from __future__ import annotations

import httpx

from duetto.app.db.models import Account
from tests.app.sites import Browser, Site


def _comment(site: Site, author: Account, post_id: str, body: str) -> None:
    browser = site.browser_for(author)
    assert browser.submit(f"/p/{post_id}/comments", {"body": body}, page=f"/p/{post_id}").status_code == 303


def _comments_seen(browser: Browser | None, site: Site, post_id: str) -> str:
    return (browser.get(f"/p/{post_id}") if browser else site.client.get(f"/p/{post_id}")).text


def _safety(browser: Browser, **form: str) -> httpx.Response:
    return browser.submit("/settings/safety", {"dm_policy": "everyone", "stranger_dm_limit": "3", **form},
                          page="/settings/safety")


def test_a_comment_filter_hides_matching_comments_from_everyone_but_their_writer(
        site: Site, clip_assets: dict[str, bytes]) -> None:
    owner, bully, friend, visitor = site.person("own"), site.person("bul"), site.person("fr"), site.person("vis")
    post_id, _ = site.post(owner.user_id, "a yellow ball bounces", assets=clip_assets)
    owner_browser = site.browser_for(owner)
    assert _safety(owner_browser, comment_filter="Loser\nnobody likes you").status_code == 303
    _comment(site, bully, post_id, "what a LOSER, honestly")
    _comment(site, bully, post_id, "Nobody  likes   you")
    _comment(site, friend, post_id, "lovely bounce")
    _comment(site, friend, post_id, "closer to the wall next time")  # "loser" inside a word is not the word
    for browser in (owner_browser, site.browser_for(visitor), None):
        page = _comments_seen(browser, site, post_id)
        assert "lovely bounce" in page and "closer to the wall" in page
        assert "LOSER" not in page and "Nobody  likes" not in page
    assert 'data-testid="comments-filtered">2 hidden' in owner_browser.get(f"/p/{post_id}").text
    bully_page = _comments_seen(site.browser_for(bully), site, post_id)
    assert "what a LOSER" in bully_page and "comments-filtered" not in bully_page  # not told
    too_long = _safety(owner_browser, comment_filter="x" * 101)
    assert too_long.status_code == 400 and "under 100 characters" in too_long.text
    assert "nobody likes you" in owner_browser.get("/settings/safety").text  # the saved filter is kept


def test_only_people_i_follow_and_restrict(site: Site, clip_assets: dict[str, bytes]) -> None:
    owner, followed, stranger, pest = site.person("own"), site.person("fol"), site.person("str"), site.person("pst")
    site.follow(owner, followed)
    site.follow(owner, pest)
    post_id, _ = site.post(owner.user_id, "a red box slides", assets=clip_assets)
    _comment(site, followed, post_id, "from someone followed")
    _comment(site, stranger, post_id, "from a stranger")
    _comment(site, pest, post_id, "from a pest")
    owner_browser = site.browser_for(owner)
    assert _safety(owner_browser, hide_unfollowed_comments="on").status_code == 303
    page = _comments_seen(None, site, post_id)
    assert "from someone followed" in page and "from a pest" in page and "from a stranger" not in page
    # Restrict, in one step from their profile: their comments are seen by them alone.
    assert owner_browser.submit(f"/@{pest.handle}/restrict", page=f"/@{pest.handle}").status_code == 303
    assert "Unrestrict" in owner_browser.get(f"/@{pest.handle}").text
    for browser in (owner_browser, site.browser_for(followed), None):
        assert "from a pest" not in _comments_seen(browser, site, post_id)
    assert "from a pest" in _comments_seen(site.browser_for(pest), site, post_id)
    assert f"@{pest.handle}" in owner_browser.get("/settings/safety").text
    assert owner_browser.submit(f"/@{pest.handle}/unrestrict", page="/settings/safety").status_code == 303
    assert "from a pest" in _comments_seen(None, site, post_id)


def _dm(site: Site, sender: Account | Browser, recipient: Account, body: str) -> httpx.Response:
    browser = sender if isinstance(sender, Browser) else site.browser_for(sender)
    return browser.submit(f"/messages/@{recipient.handle}", {"body": body}, page=f"/messages/@{recipient.handle}")


def test_who_may_message_me(site: Site) -> None:
    me, followed, mutual, stranger = site.person("me"), site.person("fol"), site.person("mut"), site.person("str")
    site.follow(me, followed)
    site.mutual(me, mutual)
    browser = site.browser_for(me)
    senders = {who.handle: site.browser_for(who) for who in (followed, mutual, stranger)}
    expected = {"everyone": {followed, mutual, stranger}, "following": {followed, mutual}, "mutuals": {mutual},
                "nobody": set()}
    for policy, allowed in expected.items():
        assert _safety(browser, dm_policy=policy, stranger_dm_limit="20").status_code == 303
        for sender in (followed, mutual, stranger):
            response = _dm(site, senders[sender.handle], me, f"hello under {policy}")
            assert (response.status_code == 303) == (sender in allowed), (policy, sender.handle, response.status_code)
    bad = _safety(browser, dm_policy="friends of friends")
    assert bad.status_code == 400 and "must be one of" in bad.text
    # A reply in a conversation I started always goes through.
    assert _safety(browser, dm_policy="nobody").status_code == 303
    other = site.person("oth")
    assert _dm(site, me, other, "may I ask you something?").status_code == 303
    assert _dm(site, other, me, "sure, go ahead").status_code == 303


def test_a_stranger_may_send_only_a_few_messages_before_a_reply(site: Site) -> None:
    me, stranger = site.person("me"), site.person("str")
    mine, theirs = site.browser_for(me), site.browser_for(stranger)
    assert _safety(mine, stranger_dm_limit="2").status_code == 303
    assert _dm(site, theirs, me, "one").status_code == 303
    assert _dm(site, theirs, me, "two").status_code == 303
    third = _dm(site, theirs, me, "a third note")
    # Said in the conversation, with what was typed kept for later.
    assert third.status_code == 403 and "has not answered yet" in third.text and "a third note" in third.text
    assert _dm(site, mine, stranger, "hi, what is it?").status_code == 303
    assert _dm(site, theirs, me, "three, now that you answered").status_code == 303
