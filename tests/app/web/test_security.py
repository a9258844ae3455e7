"""Security of the social app: people cannot read others' drafts or DMs, act as others, skip CSRF, or get
around a block."""

from __future__ import annotations

from sqlalchemy import func, select

from duetto.app.db.models import Message, Post, Video
from tests.app.sites import Web


def test_drafts_are_private_to_their_owner(web: Web, clip_assets: dict[str, bytes]) -> None:
    alice, _ = web.account("alice"), web.account("bob")
    draft = web.video(alice.user_id, "a secret draft of a green box", assets=clip_assets)
    mine, theirs = web.browser(), web.browser()
    mine.sign_in("alice")
    theirs.sign_in("bob")

    assert mine.get(f"/drafts/{draft}").status_code == 200
    assert mine.get(f"/media/{draft}/video").status_code == 200
    assert "secret draft" not in theirs.get("/drafts").text
    for url in (f"/drafts/{draft}", f"/media/{draft}/video", f"/media/{draft}/thumbnail", f"/drafts/{draft}/events"):
        assert theirs.get(url).status_code == 404, url
    assert web.browser().get(f"/media/{draft}/video").status_code == 404  # signed out


def test_nobody_can_post_delete_or_unpost_as_someone_else(web: Web, clip_assets: dict[str, bytes]) -> None:
    alice, bob = web.account("alice"), web.account("bob")
    draft = web.video(alice.user_id, "alice's draft", assets=clip_assets)
    post_id, _ = web.post(alice.user_id, "alice's post", assets=clip_assets)
    bob_browser = web.browser()
    bob_browser.sign_in("bob")

    assert bob_browser.submit(f"/drafts/{draft}/post", {"caption": "mine now"}, page="/").status_code == 404
    assert bob_browser.submit(f"/drafts/{draft}/delete", page="/").status_code == 404
    assert bob_browser.submit(f"/p/{post_id}/unpost", page="/").status_code == 404
    with web.session() as session:
        assert session.scalar(select(func.count()).select_from(Post).where(Post.user_id == bob.user_id)) == 0
        assert session.scalar(select(Video.deleted_at).where(Video.id == draft)) is None
        assert session.scalar(select(Post.id).where(Post.id == post_id)) == post_id


def test_direct_messages_are_readable_only_by_the_two_people(web: Web) -> None:
    web.account("alice"), web.account("bob"), web.account("carol")
    alice, carol = web.browser(), web.browser()
    alice.sign_in("alice")
    carol.sign_in("carol")
    assert alice.submit("/messages/@bob", {"body": "meet at noon, the code is 4417"}, page="/messages/@bob"
                        ).status_code == 303
    assert "4417" in alice.get("/messages/@bob").text

    # Carol can only ever open her own conversations: with Alice or with Bob, neither shows their thread.
    assert "4417" not in carol.get("/messages/@bob").text
    assert "4417" not in carol.get("/messages/@alice").text
    assert "4417" not in carol.get("/messages").text
    assert web.browser().get("/messages/@bob", follow_redirects=False).status_code == 303  # sign-in first


def test_state_changes_need_the_csrf_token_of_the_same_session(web: Web, clip_assets: dict[str, bytes]) -> None:
    web.account("alice")
    bob = web.account("bob")
    post_id, _ = web.post(bob.user_id, "a post", assets=clip_assets)
    browser, other = web.browser(), web.browser()
    browser.sign_in("alice")
    other.sign_in("bob")
    attempts = {
        "no token": browser.client.post(f"/p/{post_id}/like", follow_redirects=False),
        "wrong token": browser.client.post(f"/p/{post_id}/like", data={"csrf_token": "0" * 64}),
        "another session's token": browser.client.post(f"/p/{post_id}/like", data={"csrf_token": other.token}),
        "header from another session": browser.client.post(f"/p/{post_id}/like",
                                                           headers={"X-CSRF-Token": other.token}),
        "right token, other site": browser.client.post(f"/p/{post_id}/like", data={"csrf_token": browser.token},
                                                       headers={"origin": "https://evil.example"}),
    }
    for name, response in attempts.items():
        assert response.status_code == 403, name
        assert "form expired" in response.text, name
    with web.session() as session:
        assert session.scalar(select(Post.like_count).where(Post.id == post_id)) == 0
    # Signing in needs the token too (login CSRF), and sign-out cannot be forced from elsewhere.
    fresh = web.browser()
    assert fresh.client.post("/signin", data={"handle": "alice", "password": "x" * 12}).status_code == 403
    assert browser.client.post("/signout", follow_redirects=False).status_code == 403
    assert browser.submit(f"/p/{post_id}/like").status_code == 303
    with web.session() as session:
        assert session.scalar(select(Post.like_count).where(Post.id == post_id)) == 1


def test_a_blocked_user_cannot_message_or_remix_and_they_vanish_from_each_others_feeds(
    web: Web, clip_assets: dict[str, bytes]
) -> None:
    alice, bob = web.account("alice"), web.account("bob")
    alice_post, _ = web.post(alice.user_id, "a ball rolls in a field", "alice's", assets=clip_assets)
    bob_post, _ = web.post(bob.user_id, "a box slides at night", "bob's", assets=clip_assets)
    a, b = web.browser(), web.browser()
    a.sign_in("alice")
    b.sign_in("bob")
    assert alice_post in b.get("/").text and bob_post in a.get("/").text
    assert a.submit("/@bob/block", page="/@bob").status_code == 303

    sent = b.submit("/messages/@alice", {"body": "why?"}, page="/messages")
    assert sent.status_code in (403, 404)
    with web.session() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert b.get(f"/create?remix={alice_post}").status_code == 403
    remix = b.submit("/create", {"prompt": "a remix", "remix_of": alice_post}, page="/create")
    assert remix.status_code == 403 and "cannot remix" in remix.text
    with web.session() as session:
        assert session.scalar(select(func.count()).select_from(Video).where(Video.user_id == bob.user_id)) == 1
    # Hidden both ways: feeds, post pages, profiles, media.
    assert alice_post not in b.get("/").text
    assert bob_post not in a.get("/").text
    assert b.get(f"/p/{alice_post}").status_code == 404
    assert b.get("/@alice").status_code == 404
    assert b.get(f"/media/{web.post_video(alice_post)}/video").status_code == 404
    # Alice, who blocked, cannot message Bob either until she unblocks.
    assert a.submit("/messages/@bob", {"body": "hm"}, page="/messages").status_code == 403
    assert a.submit("/@bob/unblock", page="/@bob").status_code == 303
    assert b.submit("/messages/@alice", {"body": "thanks"}, page="/messages").status_code == 303


def test_open_redirects_and_foreign_pages_are_refused(web: Web) -> None:
    web.account("alice")
    browser = web.browser()
    response = browser.submit("/signin", {"handle": "alice", "password": "correct horse battery",
                                          "next": "https://evil.example/"}, page="/signin")
    assert response.status_code == 303 and response.headers["location"] == "/"
    page = browser.get("/")
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
