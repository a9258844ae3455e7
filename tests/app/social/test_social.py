"""Accounts, remix lineage, likes and comments, follows and mutuals, reports and the moderators' queue,
stamped downloads, and account deletion."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from sqlalchemy import func, select

from duetto.app.db.models import Account, Comment, Like, Message, Post, User, Video, WebSession
from duetto.app.provenance.exports import download_key
from duetto.app.videos import prompt_format
from tests.app.sites import PASSWORD, Web


def test_sign_up_sign_in_and_sign_out(web: Web) -> None:
    browser = web.browser()
    response = browser.submit("/signup", {"handle": "Alice", "display_name": "Alice", "password": PASSWORD,
                                            "birth_year": "1990"},
                              page="/signup")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "duetto_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    with web.session() as session:
        account = session.scalar(select(Account).where(Account.handle == "alice"))
        assert account.password_hash.startswith("$argon2id$") and PASSWORD not in account.password_hash
        token_hashes = list(session.scalars(select(WebSession.token_hash)))
    assert response.cookies.get("duetto_session") not in token_hashes  # only a hash of the token is kept
    assert "@alice" in browser.get("/").text

    taken = web.browser().submit("/signup", {"handle": "alice", "password": PASSWORD, "birth_year": "1990"}, page="/signup")
    assert taken.status_code == 400 and "taken" in taken.text
    short = web.browser().submit("/signup", {"handle": "bobby", "password": "short", "birth_year": "1990"}, page="/signup")
    assert short.status_code == 400 and "at least 8" in short.text
    wrong = web.browser().submit("/signin", {"handle": "alice", "password": "not the password"}, page="/signin")
    assert wrong.status_code == 400 and "Wrong handle or password" in wrong.text

    assert browser.submit("/signout", page="/").status_code == 303
    assert browser.get("/drafts", follow_redirects=False).headers["location"] == "/signin?next=/drafts"
    # The old cookie is dead on the server, not just deleted in this browser.
    with web.session() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0


def test_profile_with_avatar_and_bio(web: Web) -> None:
    web.account("alice")
    browser = web.browser()
    browser.sign_in("alice")
    png = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 90)).save(png, "PNG")
    response = browser.submit("/settings/profile", {"display_name": "Alice Liddell", "bio": "I make bouncy things"},
                              files={"avatar": ("me.png", png.getvalue(), "image/png")}, page="/settings/profile")
    assert response.status_code == 303
    page = browser.get("/@alice").text
    assert "Alice Liddell" in page and "I make bouncy things" in page
    with web.session() as session:
        key = session.scalar(select(Account.avatar_key).where(Account.handle == "alice"))
    avatar = web.browser().get("/" + key)
    assert avatar.status_code == 200 and avatar.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(avatar.content)).size == (256, 256)
    bad = browser.submit("/settings/profile", {"display_name": "A"}, files={"avatar": ("x.png", b"nope", "image/png")},
                         page="/settings/profile")
    assert bad.status_code == 400 and "PNG, JPEG or WebP" in bad.text


def test_remix_lineage_counts_and_unposting(web: Web, clip_assets: dict[str, bytes]) -> None:
    a, b, c = web.account("alice"), web.account("bob"), web.account("carol")
    original, original_video = web.post(a.user_id, "a red ball bounces", "the original", assets=clip_assets)
    remix, remix_video = web.post(b.user_id, "a red ball bounces at night", assets=clip_assets,
                                  remix_of_video=original_video)
    remix2, _ = web.post(c.user_id, "a red ball bounces at night in the rain", assets=clip_assets,
                         remix_of_video=remix_video)
    with web.session() as session:
        rows = {p.id: p for p in session.scalars(select(Post))}
    assert (rows[remix].parent_post_id, rows[remix].root_post_id) == (original, original)
    assert (rows[remix2].parent_post_id, rows[remix2].root_post_id) == (remix, original)
    assert (rows[original].remix_count, rows[remix].remix_count, rows[remix2].remix_count) == (1, 1, 0)

    viewer = web.browser()
    page = viewer.get(f"/p/{remix2}").text
    assert "remix of" in page and "@bob" in page and "original by" in page and "@alice" in page
    original_page = viewer.get(f"/p/{original}").text
    assert 'data-testid="remix-total">1<' in original_page and f'href="/p/{remix}"' in original_page

    bob = web.browser()
    bob.sign_in("bob")
    assert bob.submit(f"/p/{remix}/unpost", page=f"/p/{remix}").status_code == 303
    with web.session() as session:
        assert session.scalar(select(Post.remix_count).where(Post.id == original)) == 0
        # The grandchild keeps its stored lineage; its page says the parent is gone.
        assert session.scalar(select(Post.parent_post_id).where(Post.id == remix2)) == remix
    assert "taken down" in viewer.get(f"/p/{remix2}").text


def test_the_remix_form_makes_a_remix_job_of_the_original_video(web: Web, clip_assets: dict[str, bytes]) -> None:
    alice, bob = web.account("alice"), web.account("bob")
    post_id, video_id = web.post(alice.user_id, "a green box slides. Audio: scrapes, wind blowing",
                                 assets=clip_assets)
    browser = web.browser()
    browser.sign_in("bob")
    form = browser.get(f"/create?remix={post_id}").text
    assert "a green box slides." in form and "scrapes, wind blowing" in form and "Remixing @alice" in form
    response = browser.submit("/create", {"prompt": "a green box slides at night", "audio": "scrapes",
                                          "remix_of": post_id})
    assert response.status_code == 303
    with web.session() as session:
        made = session.scalar(select(Video).where(Video.user_id == bob.user_id))
    assert (made.kind, made.remixed_from_video_id, made.source_video_id) == ("remix", video_id, video_id)
    assert made.prompt == "a green box slides at night Audio: scrapes"
    assert response.headers["location"] == f"/drafts/{made.id}"


def test_likes_comments_follows_and_mutuals(web: Web, clip_assets: dict[str, bytes]) -> None:
    alice, _ = web.account("alice"), web.account("bob")
    post_id, _ = web.post(alice.user_id, "a ball", "hello", assets=clip_assets)
    b = web.browser()
    b.sign_in("bob")
    liked = b.client.post(f"/p/{post_id}/like", headers={"X-CSRF-Token": b.token, "Accept": "application/json"})
    assert liked.json() == {"liked": True, "likes": 1}
    b.submit(f"/p/{post_id}/comments", {"body": "lovely bounce"}, page=f"/p/{post_id}")
    page = b.get(f"/p/{post_id}").text
    assert "lovely bounce" in page and "1 comment" in page
    unliked = b.client.post(f"/p/{post_id}/like", headers={"X-CSRF-Token": b.token, "Accept": "application/json"})
    assert unliked.json() == {"liked": False, "likes": 0}

    b.submit("/@alice/follow", page="/@alice")
    assert 'data-testid="followers">1<' in b.get("/@alice").text
    a = web.browser()
    a.sign_in("alice")
    assert "Follows you" in a.get("/@bob").text
    a.submit("/@bob/follow", page="/@bob")
    assert "Mutuals" in a.get("/@bob").text and "Mutuals" in b.get("/@alice").text
    # The post's author may remove comments on their post.
    with web.session() as session:
        comment_id = session.scalar(select(Comment.id))
    a.submit(f"/comments/{comment_id}/delete", page=f"/p/{post_id}")
    with web.session() as session:
        assert session.scalar(select(Post.comment_count).where(Post.id == post_id)) == 0


def test_reports_reach_the_moderators_queue(web: Web, clip_assets: dict[str, bytes]) -> None:
    alice, _ = web.account("alice"), web.account("mia_mod")
    web.account("bob")
    post_id, _ = web.post(alice.user_id, "a ball", assets=clip_assets)
    bob = web.browser()
    bob.sign_in("bob")
    response = bob.submit("/report", {"kind": "post", "target_id": post_id, "reason": "spam", "details": "bot"},
                          page=f"/report?kind=post&id={post_id}")
    assert response.status_code == 200 and "Moderators will review" in response.text
    bob.submit("/report", {"kind": "user", "target_id": alice.user_id, "reason": "harassment"}, page="/")
    assert bob.submit("/report", {"kind": "post", "target_id": post_id, "reason": "nonsense"}).status_code == 400
    assert bob.get("/mod").status_code == 403

    mod = web.browser()
    mod.sign_in("mia_mod")
    queue = mod.get("/mod").text
    assert queue.count('data-testid="report-item"') == 2 and "Spam or scam" in queue and "@alice" in queue
    with web.session() as session:
        from duetto.app.db.models import Report

        post_report = session.scalar(select(Report.id).where(Report.target_kind == "post"))
    assert mod.submit(f"/mod/{post_report}", {"action": "remove"}, page="/mod").status_code == 303
    assert web.browser().get(f"/p/{post_id}").status_code == 404
    assert mod.get("/mod").text.count('data-testid="report-item"') == 1
    assert "Spam or scam" in mod.get("/mod?status=removed").text


def test_downloads_carry_the_visible_watermark(web: Web, clip_assets: dict[str, bytes]) -> None:
    from duetto.media import read_mp4
    from duetto.provenance import MIN_SHARED_SIDE, enlarge_for_sharing, visible_mark_region

    alice = web.account("alice")
    post_id, video_id = web.post(alice.user_id, "a ball", assets=clip_assets)
    response = web.browser().get(f"/p/{post_id}/download")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="duetto-alice-{post_id}.mp4"'
    stamped, plain = read_mp4(response.content), enlarge_for_sharing(read_mp4(clip_assets["video"]))
    # The 64-pixel test clip leaves enlarged to the smallest size the instance hands out.
    assert stamped.frames.shape == plain.frames.shape and stamped.height == MIN_SHARED_SIDE
    assert stamped.audio.shape[-1] > 0
    x, y, w, h = visible_mark_region(stamped.frames.shape, 0, fps=stamped.fps)
    change = np.abs(stamped.frames[0].astype(int) - plain.frames[0])
    elsewhere = np.ones(change.shape[:2], bool)
    elsewhere[y:y + h, x:x + w] = False
    # Outside the badge only the invisible mark and the encode differ: a few levels on average (the mark
    # is keyed per instance and peaks at the frame's corners, so no single corner is a fair reference).
    inside, outside = change[y:y + h, x:x + w].mean(), change[elsewhere].mean()
    assert inside > 10 and outside < 4 and inside > 3 * outside, (inside, outside)
    assert web.services.storage.exists(download_key(video_id))  # made once, then served from storage
    try:
        from duetto.provenance import read_c2pa
    except ImportError:  # the C2PA library is optional at run time; the visible mark is not
        return
    manifest = read_c2pa(response.content)
    assert manifest is not None, "the download should carry a C2PA manifest when c2pa is installed"
    assert manifest["valid"] and manifest["manifest"]["clip"]["creator"] == "@alice", manifest


def test_only_the_creator_plays_the_clip_without_its_badge(web: Web, clip_assets: dict[str, bytes]) -> None:
    alice = web.account("alice")
    web.account("bob")
    post_id, video_id = web.post(alice.user_id, "a ball", assets=clip_assets)
    owner, viewer = web.browser(), web.browser()
    owner.sign_in("alice")
    viewer.sign_in("bob")
    assert owner.get(f"/media/{video_id}/video").content == clip_assets["video"]  # the creator's preview
    watched = viewer.get(f"/media/{video_id}/video")
    assert watched.status_code == 200 and watched.headers["content-type"] == "video/mp4"
    # Everyone else's player streams the download: what a player shows can be saved.
    assert watched.content == viewer.get(f"/p/{post_id}/download").content != clip_assets["video"]
    assert web.browser().get(f"/media/{video_id}/video").content == watched.content  # signed out too


def test_posting_makes_the_download_before_anyone_plays_it(web: Web, clip_assets: dict[str, bytes]) -> None:
    alice = web.account("alice")
    web.account("bob")
    video_id = web.video(alice.user_id, "a ball", assets=clip_assets)
    assert not web.services.storage.exists(download_key(video_id))
    owner = web.browser()
    owner.sign_in("alice")
    assert owner.submit(f"/drafts/{video_id}/post", {"caption": "bounce"}, page=f"/drafts/{video_id}").status_code == 303
    # Made after the response went out, so the first viewer is served from storage instead of waiting.
    prepared = web.services.storage.get_bytes(download_key(video_id))
    viewer = web.browser()
    viewer.sign_in("bob")
    assert viewer.get(f"/media/{video_id}/video").content == prepared != clip_assets["video"]


def test_deleting_an_account_removes_the_persons_content_and_data(web: Web, clip_assets: dict[str, bytes]) -> None:
    alice, bob = web.account("alice"), web.account("bob")
    bob_post, bob_video = web.post(bob.user_id, "bob's ball", assets=clip_assets)
    alice_post, alice_video = web.post(alice.user_id, "alice's remix", assets=clip_assets,
                                       remix_of_video=bob_video)
    a = web.browser()
    a.sign_in("alice")
    a.submit(f"/p/{bob_post}/like", page=f"/p/{bob_post}")
    a.submit(f"/p/{bob_post}/comments", {"body": "nice"}, page=f"/p/{bob_post}")
    a.submit("/messages/@bob", {"body": "hi bob"}, page="/messages/@bob")
    wrong = a.submit("/settings/account/delete", {"confirm": "alice", "password": "wrong password"},
                     page="/settings/account")
    assert wrong.status_code == 400
    gone = a.submit("/settings/account/delete", {"confirm": "alice", "password": PASSWORD}, page="/settings/account")
    assert gone.status_code == 200 and "Your account is gone" in gone.text

    with web.session() as session:
        assert session.get(User, alice.user_id) is None and session.get(Account, alice.user_id) is None
        for model, column in ((Video, Video.user_id), (Post, Post.user_id), (Like, Like.user_id),
                              (Comment, Comment.user_id), (Message, Message.sender_id),
                              (WebSession, WebSession.user_id)):
            assert session.scalar(select(func.count()).select_from(model).where(column == alice.user_id)) == 0
        counts = session.scalar(select(Post).where(Post.id == bob_post))
        assert (counts.like_count, counts.comment_count, counts.remix_count) == (0, 0, 0)
    assert not web.services.storage.exists(f"videos/{alice_video}/video.mp4")
    assert a.get("/drafts", follow_redirects=False).status_code == 303  # signed out
    assert web.browser().get("/@alice").status_code == 404
    assert prompt_format.split("x Audio: y") == ("x", "y")


def test_create_with_an_image_then_cancel_while_it_is_made(web: Web) -> None:
    web.account("alice")
    browser = web.browser()
    browser.sign_in("alice")
    png = io.BytesIO()
    Image.new("RGB", (64, 64), (20, 160, 60)).save(png, "PNG")
    response = browser.submit("/create", {"prompt": "a green ball rests", "seconds": "1", "size": "64x64"},
                              files={"image": ("start.png", png.getvalue(), "image/png")}, page="/create")
    assert response.status_code == 303
    draft_url = response.headers["location"]
    video_id = draft_url.rsplit("/", 1)[1]
    with web.session() as session:
        video = session.scalar(select(Video).where(Video.id == video_id))
    assert video.input_key.endswith("reference.png") and video.kind == "create"
    assert browser.submit(f"/drafts/{video_id}/delete", page=draft_url).status_code == 303
    with web.session() as session:
        assert session.scalar(select(Video.deleted_at).where(Video.id == video_id)) is not None
    assert browser.get(draft_url).status_code == 404
    assert video_id not in browser.get("/drafts").text

    bad = browser.submit("/create", {"prompt": "x", "seconds": "99"}, page="/create")
    assert bad.status_code == 400 and "Invalid seconds" in bad.text
