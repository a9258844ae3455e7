"""The creator's side of a takedown (issue 17, item 5): on b65d23b a request hid the post with no word to its
creator ("This post's video is no longer available"), no status, no way to answer, and with no moderator it
stayed hidden forever. Now the creator is told on every page, sees "under review" on their post, answers once
(moderators read it in the queue), and a case past its 48 hours leads the moderators' queue and is announced
to the creator again, while the post stays held (see `provenance.takedown` for why it is not restored)."""

from __future__ import annotations

import time

from sqlalchemy import select, update

from duetto.app.db.models import Takedown
from tests.app.sites import PASSWORD, Web, handle


def test_the_creator_is_told_answers_once_and_overdue_cases_lead_the_queue(
        web: Web, clip_assets: dict[str, bytes]) -> None:
    ann = web.account(handle())
    web.account("mia_mod")
    post_id, video_id = web.post(ann.user_id, "a red ball bounces", "my bouncy ball", assets=clip_assets)
    other_id, _ = web.post(ann.user_id, "a green cube slides", "cube", assets=clip_assets)
    visitor = web.browser()
    assert visitor.submit("/takedown", {"post": f"/p/{post_id}", "category": "ncii",
                                        "details": "That is me."}).status_code == 303

    # 1. Told at once, on whatever page they open next.
    owner = web.browser()
    owner.sign_in(ann.handle, PASSWORD)
    home = owner.get("/").text
    assert 'data-testid="review-notice"' in home and "my bouncy ball" in home and "under review" in home
    assert f'href="/p/{post_id}"' in home

    # 2. Their post says "under review", without its picture (held from everyone but moderators).
    page = owner.get(f"/p/{post_id}")
    assert page.status_code == 200 and 'data-testid="under-review"' in page.text
    assert "Your post is under review" in page.text and f"/media/{video_id}/video" not in page.text
    assert 'data-overdue="false"' in page.text
    assert 'data-testid="review-notice"' not in owner.get("/").text  # opened: the banner goes
    assert visitor.get(f"/p/{post_id}").status_code == 404  # still hidden from everyone else
    assert owner.get(f"/p/{other_id}").status_code == 200  # their other posts are untouched

    # 3. One answer: an empty one is refused in the form, the first is kept, a second is refused with its text.
    empty = owner.submit(f"/p/{post_id}/answer", {"answer": "   "}, page=f"/p/{post_id}")
    assert empty.status_code == 400 and 'data-testid="answer-error"' in empty.text
    sent = owner.submit(f"/p/{post_id}/answer", {"answer": "It is a toy ball; nobody is in this clip."},
                        page=f"/p/{post_id}")
    assert sent.status_code == 303
    answered = owner.get(f"/p/{post_id}").text
    assert "It is a toy ball; nobody is in this clip." in answered and 'name="answer"' not in answered
    again = owner.client.post(f"/p/{post_id}/answer", data={"csrf_token": owner.token, "answer": "Second try"})
    assert again.status_code == 409 and "already answered" in again.text and "Second try" in again.text
    with web.session() as session:
        assert [t.creator_answer for t in session.scalars(select(Takedown))] == [
            "It is a toy ball; nobody is in this clip."]

    # 4. Moderators read the answer beside the request.
    moderator = web.browser()
    moderator.sign_in("mia_mod", PASSWORD)
    queue = moderator.get("/mod/takedowns").text
    assert 'data-testid="creator-answer"' in queue and "It is a toy ball; nobody is in this clip." in queue
    assert 'data-testid="overdue-banner"' not in moderator.get("/mod").text

    # 5. The 48 hours pass with no review: the case's times move 49 hours into the past.
    with web.session() as session:
        shift = 49 * 3600
        session.execute(update(Takedown).values(
            created_at=Takedown.created_at - shift, due_at=Takedown.due_at - shift,
            creator_seen_at=Takedown.creator_seen_at - shift, creator_answered_at=Takedown.creator_answered_at - shift))
        assert session.scalar(select(Takedown.due_at)) < time.time()
    stale = owner.get("/").text
    assert 'data-testid="review-notice"' in stale and "is late" in stale  # told again
    late = owner.get(f"/p/{post_id}").text
    assert 'data-overdue="true"' in late and 'data-testid="review-overdue"' in late
    assert visitor.get(f"/p/{post_id}").status_code == 404  # neither restored nor removed unreviewed
    mod_home = moderator.get("/mod").text
    assert 'data-testid="overdue-banner"' in mod_home and 'data-testid="overdue-takedowns"' in mod_home
    assert "overdue by" in moderator.get("/mod/takedowns").text

    # 6. The decision ends the case; the creator is told its outcome once.
    with web.session() as session:
        takedown_id = session.scalar(select(Takedown.id))
    moderator.submit(f"/mod/takedowns/{takedown_id}", {"action": "dismiss"}, page="/mod/takedowns")
    back = owner.get("/").text
    assert 'data-testid="review-notice"' in back and "visible again" in back
    assert owner.get(f"/p/{post_id}").status_code == 200 and visitor.get(f"/p/{post_id}").status_code == 200
    assert owner.submit(f"/p/{post_id}/notice-seen?next=/", page="/").status_code == 303
    assert 'data-testid="review-notice"' not in owner.get("/").text
    assert 'data-testid="overdue-takedowns"' not in moderator.get("/mod").text


def test_only_the_creator_can_answer_and_only_while_under_review(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann, bob = web.account(handle()), web.account(handle())
    post_id, _ = web.post(ann.user_id, "a blue box slides", assets=clip_assets)
    stranger = web.browser()
    stranger.sign_in(bob.handle, PASSWORD)
    # Not under review: nothing to answer.
    assert stranger.submit(f"/p/{post_id}/answer", {"answer": "hi"}, page="/").status_code == 404
    web.browser().submit("/takedown", {"post": f"/p/{post_id}", "category": "unlawful"})
    # Someone else's post under review: as unknown as any held post, and their answer is not recorded.
    assert stranger.get(f"/p/{post_id}").status_code == 404
    assert stranger.submit(f"/p/{post_id}/answer", {"answer": "hi"}, page="/").status_code == 404
    with web.session() as session:
        assert session.scalar(select(Takedown.creator_answer)) is None
