"""What an outsider can send the web app: every way to a held post's media refused, counters that match their
rows under concurrent requests, whole numbers parsed by one rule, bad beacons and decompression bombs
refused with a message, sign-in limits that cannot lock the owner out, and limited, collapsed takedowns."""

from __future__ import annotations

import io
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from duetto.app.db.models import Account, Like, Post, Takedown, View, WatchTime
from tests.app.sites import PASSWORD, Browser, Web, api_key_for, handle

BIG = str(2**64)


def browser_at(web: Web, address: str) -> Browser:
    """A browser on another machine: the app sees requests coming from `address`."""
    return Browser(TestClient(web.app, base_url="http://testserver", client=(address, 50000)))


def signed_in(web: Web, account: Account) -> Browser:
    browser = web.browser()
    browser.sign_in(account.handle, PASSWORD)
    return browser


def hold(web: Web, post_id: str) -> None:
    sent = web.browser().submit("/takedown", {"post": f"/p/{post_id}", "category": "ncii"}, page="/takedown")
    assert sent.status_code == 303, sent.text


def test_every_way_to_a_held_posts_media_is_refused_but_to_moderators(web: Web, clip_assets: dict[str, bytes]) -> None:
    owner, other, mod = web.account(handle()), web.account(handle()), web.account("mia_mod")
    post_id, video_id = web.post(owner.user_id, "a red ball bounces. Audio: boings.", assets=clip_assets)
    owner_key = {"Authorization": f"Bearer {api_key_for(web, owner.user_id)}"}
    viewer, author, moderator = signed_in(web, other), signed_in(web, owner), signed_in(web, mod)
    assert viewer.get(f"/p/{post_id}/download").status_code == 200  # before the request: downloadable
    hold(web, post_id)

    for browser in (viewer, author, web.browser()):
        page = browser.get(f"/p/{post_id}")
        if browser is author:  # its creator is told it is under review, without its media (issue 17, item 5)
            assert page.status_code == 200 and "Your post is under review" in page.text
            assert f"/media/{video_id}/" not in page.text and f"/p/{post_id}/download" not in page.text
        else:
            assert page.status_code == 404
        assert browser.get(f"/p/{post_id}/download").status_code == 404
        assert browser.get(f"/media/{video_id}/video").status_code == 404
        assert browser.get(f"/media/{video_id}/thumbnail").status_code == 404
    assert viewer.get(f"/create?remix={post_id}").status_code == 404
    remix = viewer.submit("/create", {"prompt": "the same, at night", "remix_of": post_id}, page="/create")
    assert remix.status_code == 404 and "held for review" in remix.text
    assert viewer.submit(f"/p/{post_id}/like", page="/").status_code == 404
    # The owner's API: no content, and no remix, extension or edit from it, until a moderator decides.
    assert web.client.get(f"/v1/videos/{video_id}", headers=owner_key).status_code == 200  # the record stays
    content = web.client.get(f"/v1/videos/{video_id}/content", headers=owner_key)
    assert content.status_code == 404 and content.json()["error"]["code"] == "not_found"
    assert "held for review" in content.json()["error"]["message"]
    for path, body in ((f"/v1/videos/{video_id}/remix", {"prompt": "again"}),
                       ("/v1/videos/extensions", {"prompt": "more", "seconds": "1", "video": {"id": video_id}}),
                       ("/v1/videos/edits", {"prompt": "edit", "video": {"id": video_id}})):
        refused = web.client.post(path, headers=owner_key, json=body)
        assert refused.status_code == 404, (path, refused.text)

    # Moderators review it: the page, the player and the download.
    assert moderator.get(f"/p/{post_id}").status_code == 200
    assert moderator.get(f"/media/{video_id}/video").status_code == 200
    assert moderator.get(f"/p/{post_id}/download").status_code == 200


def test_concurrent_likes_and_views_of_one_person_keep_the_counters_equal_to_the_rows(
        web: Web, clip_assets: dict[str, bytes]) -> None:
    author, fan = web.account(handle()), web.account(handle())
    post_id, _ = web.post(author.user_id, "a red ball bounces", assets=clip_assets)
    browser = signed_in(web, fan)
    browser.get("/")
    headers = {"x-csrf-token": browser.token, "accept": "application/json"}

    def like(_: int):  # noqa: ANN202
        return browser.client.post(f"/p/{post_id}/like", headers=headers)

    def view(index: int):  # noqa: ANN202
        return browser.client.post(f"/p/{post_id}/view", headers=headers,
                                   json={"completed": index % 3 == 0, "seconds": 2})

    with ThreadPoolExecutor(max_workers=20) as pool:
        likes = list(pool.map(like, range(20)))
        views = list(pool.map(view, range(20)))
    assert [r.status_code for r in likes + views] == [200] * 40, [r.text for r in likes + views if r.status_code != 200]
    # Twenty toggles, one after the other whatever the timing: an even number ends unliked.
    assert sorted(r.json()["liked"] for r in likes) == [False] * 10 + [True] * 10
    with web.session() as session:
        post = session.scalar(select(Post).where(Post.id == post_id))
        assert post.like_count == session.scalar(select(func.count()).select_from(Like)) == 0
        assert post.view_count == session.scalar(select(func.count()).select_from(View)) == 1
        assert post.completion_count == 1
        watched = session.scalar(select(WatchTime.seconds).where(WatchTime.user_id == fan.user_id))
    assert watched == pytest.approx(40.0, abs=1e-6)  # every report's seconds, none lost to a race


def test_ids_beyond_64_bits_and_unicode_digits_answer_a_clear_4xx(web: Web, clip_assets: dict[str, bytes]) -> None:
    person, mod = web.account(handle()), web.account("mia_mod")
    post_id, _ = web.post(person.user_id, "a red ball bounces", assets=clip_assets)
    browser, moderator = signed_in(web, person), signed_in(web, mod)
    assert browser.submit(f"/comments/{BIG}/delete", page="/").status_code == 400
    assert browser.submit("/comments/%C2%B2/delete", page="/").status_code == 400
    assert browser.get(f"/feed/more?tab=following&before={BIG}").status_code == 400
    assert moderator.submit(f"/mod/{BIG}", {"action": "dismiss"}, page="/mod").status_code == 400
    assert moderator.submit(f"/mod/takedowns/{BIG}", {"action": "dismiss"}, page="/mod/takedowns").status_code == 400
    assert moderator.get(f"/mod/moderation/log?before={BIG}").status_code == 400

    limit = browser.submit("/settings/feed", {"daily_limit_minutes": "²"}, page="/settings/feed")
    assert limit.status_code == 400 and "whole number of minutes" in limit.text
    assert 'value="²"' in limit.text  # the form comes back as typed
    assert browser.submit("/settings/feed", {"daily_limit_minutes": "１２"}, page="/settings/feed").status_code == 400
    assert browser.submit("/settings/feed", {"daily_limit_minutes": "12"}, page="/settings/feed").status_code == 303
    reported = browser.submit("/report", {"kind": "comment", "target_id": "²", "reason": "spam"},
                              page=f"/report?kind=comment&id=1&next=/p/{post_id}")
    assert reported.status_code == 404
    video_id = web.post_video(post_id)
    assert browser.get(f"/media/{video_id}/thumbnail", headers={"range": "bytes=²-".encode("latin-1")}).status_code == 200


def test_view_beacons_that_are_not_a_json_object_or_name_no_post_change_nothing(
        web: Web, clip_assets: dict[str, bytes]) -> None:
    author, fan = web.account(handle()), web.account(handle())
    post_id, _ = web.post(author.user_id, "a red ball bounces", assets=clip_assets)
    browser = signed_in(web, fan)
    browser.get("/")
    headers = {"x-csrf-token": browser.token, "accept": "application/json", "content-type": "application/json"}
    for body in (b"{not json", b"[1,2]", b'{"seconds": "abc"}', b'{"seconds": NaN}', b'{"seconds": 1e999}',
                 b'{"seconds": -3}', b"[" * 100_000):
        refused = browser.client.post(f"/p/{post_id}/view", headers=headers, content=body)
        assert refused.status_code == 400, (body[:20], refused.text)
        assert refused.json()["error"]
    unknown = browser.client.post("/p/post_nothing/view", headers=headers, content=b'{"seconds": 5}')
    assert unknown.status_code == 404
    with web.session() as session:
        assert session.scalar(select(func.count()).select_from(View)) == 0
        assert session.scalar(select(func.count()).select_from(WatchTime)) == 0
        assert session.scalar(select(Post.view_count).where(Post.id == post_id)) == 0


def _png_header_only(width: int, height: int) -> bytes:
    """A small PNG that declares a huge picture: the header and a compressed run of zeros."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = zlib.compress(bytes(1 + width) * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def test_a_decompression_bomb_avatar_is_refused_and_the_profile_kept(web: Web) -> None:
    person = web.account(handle(), display_name="Before")
    browser = signed_in(web, person)
    bomb = _png_header_only(30000, 30000)
    assert len(bomb) < 200_000
    refused = browser.submit("/settings/profile", {"display_name": "After", "bio": "new"},
                             files={"avatar": ("bomb.png", bomb, "image/png")}, page="/settings/profile")
    assert refused.status_code == 400 and "megapixels" in refused.text
    assert 'value="After"' in refused.text  # the form as typed
    with web.session() as session:
        stored = session.get(Account, person.user_id)
        assert (stored.display_name, stored.avatar_key) == ("Before", None)


def test_failing_passwords_for_a_handle_cannot_lock_its_owner_out(web: Web) -> None:
    dave = web.account("dave")
    attacker = browser_at(web, "203.0.113.9")
    answers = [attacker.submit("/signin", {"handle": "dave", "password": f"guess {n}"}, page="/signin")
               for n in range(25)]
    assert answers[0].status_code == 400
    limited = [a for a in answers if a.status_code == 429]
    assert limited and all(int(a.headers["retry-after"]) >= 1 for a in limited)
    assert "Too many sign-in attempts" in limited[0].text and 'value="dave"' in limited[0].text
    # The attacker's address stays refused even with the right password; the owner elsewhere gets in.
    assert attacker.submit("/signin", {"handle": "dave", "password": PASSWORD}, page="/signin").status_code == 429
    owner = browser_at(web, "198.51.100.4")
    assert owner.submit("/signin", {"handle": dave.handle, "password": PASSWORD}, page="/signin").status_code == 303


def test_takedown_requests_are_limited_per_address_and_collapse_per_post(web: Web,
                                                                        clip_assets: dict[str, bytes]) -> None:
    author, mod = web.account(handle()), web.account("mia_mod")
    posted = [web.post(author.user_id, f"a ball number {n}", assets=clip_assets)[0] for n in range(12)]
    flooder = browser_at(web, "203.0.113.50")
    answers = [flooder.submit("/takedown", {"post": f"/p/{post_id}", "category": "unlawful", "details": "x"},
                              page="/takedown") for post_id in posted]
    assert [a.status_code for a in answers[:10]] == [303] * 10
    refused = answers[10]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "Too many takedown requests" in refused.text and f'value="/p/{posted[10]}"' in refused.text
    assert web.browser().get(f"/p/{posted[10]}").status_code == 200  # not hidden by the refused request

    # Three people about one post: one hold, one queue item with every request, one review clock.
    for n, address in enumerate(("192.0.2.1", "192.0.2.2")):
        sent = browser_at(web, address).submit("/takedown", {"post": f"/p/{posted[0]}", "category": "ncii",
                                                             "details": f"report {n}"}, page="/takedown")
        assert sent.status_code == 303
    with web.session() as session:
        clocks = set(session.scalars(select(Takedown.due_at).where(Takedown.post_id == posted[0])))
    assert len(clocks) == 1
    queue = signed_in(web, mod).get("/mod/takedowns").text
    assert queue.count('data-testid="takedown-item"') == 10
    assert "3 requests about this post" in queue and "report 0" in queue and "report 1" in queue


def test_an_oversized_chunked_upload_to_a_form_is_413(web: Web) -> None:
    person = web.account(handle())
    browser = signed_in(web, person)
    browser.get("/settings/profile")
    limit = web.services.settings.max_upload_bytes

    def chunks():  # noqa: ANN202 - a generator body is sent chunked, with no content-length
        boundary = b"--x\r\n"
        yield boundary + f'Content-Disposition: form-data; name="csrf_token"\r\n\r\n{browser.token}\r\n'.encode()
        yield boundary + b'Content-Disposition: form-data; name="avatar"; filename="a.png"\r\n\r\n'
        for _ in range(limit // 65536 + 4):
            yield bytes(65536)

    response = browser.client.post("/settings/profile", content=chunks(),
                                   headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413, response.text
    assert "upload limit" in response.text


def test_api_keys_are_listed_and_revoked_on_the_account_page(web: Web) -> None:
    person = web.account(handle())
    key = api_key_for(web, person.user_id)
    auth = {"Authorization": f"Bearer {key}"}
    assert web.client.get("/v1/videos", headers=auth).status_code == 200
    browser = signed_in(web, person)
    page = browser.get("/settings/account").text
    assert page.count('data-testid="api-key"') == 1 and key[:8] in page and key not in page
    key_id = page.split('data-key-id="')[1].split('"')[0]
    other = signed_in(web, web.account(handle()))
    assert other.submit(f"/settings/account/keys/{key_id}/revoke", page="/settings/account").status_code == 404
    assert web.client.get("/v1/videos", headers=auth).status_code == 200
    assert browser.submit(f"/settings/account/keys/{key_id}/revoke", page="/settings/account").status_code == 303
    refused = web.client.get("/v1/videos", headers=auth)  # the very next request
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert 'data-testid="key-revoked"' in browser.get("/settings/account").text


def test_a_deleted_accounts_key_stops_at_once(web: Web) -> None:
    person = web.account(handle())
    auth = {"Authorization": f"Bearer {api_key_for(web, person.user_id)}"}
    assert web.client.get("/v1/videos", headers=auth).status_code == 200  # seen (and once cached) here
    browser = signed_in(web, person)
    deleted = browser.submit("/settings/account/delete", {"confirm": person.handle, "password": PASSWORD},
                             page="/settings/account")
    assert deleted.status_code == 200
    assert web.client.get("/v1/videos", headers=auth).status_code == 401
    made = web.client.post("/v1/videos", headers=auth, json={"prompt": "a ball", "size": "64x64", "seconds": "1"})
    assert made.status_code == 401


def test_avatar_of_the_right_kind_still_works(web: Web) -> None:
    from PIL import Image

    person = web.account(handle())
    browser = signed_in(web, person)
    png = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(png, "PNG")
    saved = browser.submit("/settings/profile", {"display_name": "Red"},
                           files={"avatar": ("me.png", png.getvalue(), "image/png")}, page="/settings/profile")
    assert saved.status_code == 303
    junk = browser.submit("/settings/profile", {"display_name": "Red"},
                          files={"avatar": ("me.png", b"\x89PNG\r\n\x1a\n" + bytes(500), "image/png")},
                          page="/settings/profile")
    assert junk.status_code == 400 and "could not be decoded" in junk.text
