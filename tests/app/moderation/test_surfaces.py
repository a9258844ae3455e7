"""Every surface that takes text runs the check: API prompts (create, remix, extensions, edits) answer an
OpenAI-shaped 400, and the web forms (create, caption, comment, message) show the reason and keep the text."""

from __future__ import annotations

import html

from sqlalchemy import func, select

from duetto.app.db.models import Comment, Message, ModerationDecision, Post, Video
from tests.app.sites import Web, api_key_for

FIGURE = "This prompt was refused: it names a public figure (Taylor Swift). Rephrase without it."


def _count(web: Web, model: type) -> int:
    with web.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def _decisions(web: Web, **where: str) -> list[ModerationDecision]:
    with web.session() as session:
        query = select(ModerationDecision).order_by(ModerationDecision.id)
        for name, value in where.items():
            query = query.where(getattr(ModerationDecision, name) == value)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def test_api_prompts_are_refused_with_an_openai_shaped_error(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann = web.account("ann")
    auth = {"Authorization": f"Bearer {api_key_for(web, ann.user_id)}"}
    source = web.video(ann.user_id, "a ball", assets=clip_assets)
    videos_before = _count(web, Video)
    attempts = [
        ("/v1/videos", {"prompt": "taylor sw1ft sings in the rain", "size": "64x64", "seconds": "1"}),
        (f"/v1/videos/{source}/remix", {"prompt": "now with T.a.y.l.o.r S.w.i.f.t"}),
        ("/v1/videos/extensions", {"video": {"id": source}, "seconds": "1", "prompt": "Taylor Swift walks in"}),
        ("/v1/videos/edits", {"video": {"id": source}, "prompt": "make it Taylor Swift"}),
    ]
    for url, body in attempts:
        response = web.client.post(url, headers=auth, json=body)
        assert response.status_code == 400, (url, response.text)
        assert response.json() == {"error": {"message": FIGURE, "type": "invalid_request_error", "param": "prompt",
                                              "code": "moderation_blocked"}}
    # The sound description is generated too.
    response = web.client.post("/v1/videos", headers=auth, json={
        "prompt": "a quiet street", "audio_prompt": "a pipe bomb goes off", "size": "64x64", "seconds": "1"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "moderation_blocked"
    assert "graphic violence (pipe bomb)" in response.json()["error"]["message"]
    assert _count(web, Video) == videos_before  # nothing was queued
    refused = _decisions(web, verdict="refused", surface="api_prompt")
    assert [(d.user_id, d.category) for d in refused] == [(ann.user_id, "public_figures")] * 4 + [
        (ann.user_id, "violence")]
    assert refused[0].excerpt == "taylor sw1ft sings in the rain" and refused[1].term == "Taylor Swift"

    allowed = web.client.post("/v1/videos", headers=auth, json={
        "prompt": "a red ball bounces in a classroom", "size": "64x64", "seconds": "1", "steps": 1})
    assert allowed.status_code == 200, allowed.text
    assert _decisions(web, verdict="allowed", surface="api_prompt")[-1].excerpt == "a red ball bounces in a classroom"


def test_web_create_refusal_shows_the_reason_and_keeps_what_was_typed(web: Web) -> None:
    web.account("ann")
    browser = web.browser()
    browser.sign_in("ann")
    prompt, audio = "Taylor Swift & a <red> ball", "soft boings, then applause"
    response = browser.submit("/create", {"prompt": prompt, "audio": audio, "seconds": "1", "size": "64x64"},
                              page="/create")
    assert response.status_code == 400
    page = response.text
    assert html.escape(FIGURE, quote=False) in page
    assert f">{html.escape(prompt, quote=False)}</textarea>" in page
    assert f'value="{html.escape(audio)}"' in page
    assert 'value="64x64" checked' in page
    assert _count(web, Video) == 0
    assert [d.surface for d in _decisions(web, verdict="refused")] == ["web_prompt"]


def test_a_refused_caption_keeps_the_draft_and_the_caption(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann = web.account("ann")
    video_id = web.video(ann.user_id, "a ball", assets=clip_assets)
    browser = web.browser()
    browser.sign_in("ann")
    caption = "my Kim Kardashian impression"
    response = browser.submit(f"/drafts/{video_id}/post", {"caption": caption}, page=f"/drafts/{video_id}")
    assert response.status_code == 400
    assert "This caption was refused: it names a public figure (Kim Kardashian)." in response.text
    assert f">{caption}</textarea>" in response.text and 'data-testid="post-form"' in response.text
    assert _count(web, Post) == 0
    fine = browser.submit(f"/drafts/{video_id}/post", {"caption": "my best bounce"}, page=f"/drafts/{video_id}")
    assert fine.status_code == 303 and _count(web, Post) == 1
    assert [(d.surface, d.verdict) for d in _decisions(web, surface="caption")] == [
        ("caption", "refused"), ("caption", "allowed")]


def test_a_refused_comment_is_not_posted_and_its_text_stays(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann, bob = web.account("ann"), web.account("bob")
    post_id, _ = web.post(ann.user_id, "a ball", assets=clip_assets)
    browser = web.browser()
    browser.sign_in("bob")
    body = "this needs more blood and g0re"
    response = browser.submit(f"/p/{post_id}/comments", {"body": body}, page=f"/p/{post_id}")
    assert response.status_code == 400
    assert "This comment was refused: it asks for graphic violence (blood and gore)." in response.text
    assert f'value="{body}"' in response.text
    assert _count(web, Comment) == 0
    fine = browser.submit(f"/p/{post_id}/comments", {"body": "lovely bounce"}, page=f"/p/{post_id}")
    assert fine.status_code == 303 and _count(web, Comment) == 1
    rows = _decisions(web, surface="comment")
    assert [(d.user_id, d.verdict, d.term) for d in rows] == [
        (bob.user_id, "refused", "blood and gore"), (bob.user_id, "allowed", None)]


def test_a_refused_message_is_not_sent(web: Web) -> None:
    web.account("ann")
    bob = web.account("bob")
    browser = web.browser()
    browser.sign_in("bob")
    response = browser.submit("/messages/@ann", {"body": "tips for s e l f  h a r m?"}, page="/messages/@ann")
    assert response.status_code == 400
    assert "This message was refused: it describes self-harm (self harm)." in response.text
    assert 'value="tips for s e l f  h a r m?"' in response.text
    assert _count(web, Message) == 0
    assert browser.submit("/messages/@ann", {"body": "hi ann"}, page="/messages/@ann").status_code == 303
    rows = _decisions(web, surface="message")
    assert [(d.user_id, d.verdict) for d in rows] == [(bob.user_id, "refused"), (bob.user_id, "allowed")]
    assert rows[1].excerpt == ""  # an allowed private message keeps only its hash


def test_handles_names_and_bios_are_checked_and_a_refusal_changes_nothing(web: Web) -> None:
    visitor = web.browser()
    response = visitor.submit("/signup", {"handle": "realDonaldTrump", "password": "a long enough pass 1",
                                          "birth_year": "1990"},
                              page="/signup")
    assert response.status_code == 400
    assert "This handle was refused: it names a public figure (Donald Trump)." in response.text
    assert 'value="realDonaldTrump"' in response.text
    response = visitor.submit("/signup", {"handle": "dee", "display_name": "taylorswift13",
                                          "password": "a long enough pass 1", "birth_year": "1990"}, page="/signup")
    assert response.status_code == 400 and "This display name was refused" in response.text

    ann = web.account("ann", display_name="Ann")
    browser = web.browser()
    browser.sign_in("ann")
    bio = "I make videos of a pipe bomb"
    response = browser.submit("/settings/profile", {"display_name": "Ann B.", "bio": bio}, page="/settings/profile")
    assert response.status_code == 400
    assert "This bio was refused: it asks for graphic violence (pipe bomb)." in response.text
    assert f">{bio}</textarea>" in response.text and 'value="Ann B."' in response.text
    with web.session() as session:
        from duetto.app.db.models import Account

        stored = session.get(Account, ann.user_id)
        assert (stored.display_name, stored.bio) == ("Ann", "")  # nothing saved, the name change included
    fine = browser.submit("/settings/profile", {"display_name": "Ann B.", "bio": "bouncing balls"},
                          page="/settings/profile")
    assert fine.status_code == 303
    assert [(d.surface, d.verdict) for d in _decisions(web, user_id=ann.user_id)] == [
        ("display_name", "allowed"), ("bio", "refused"), ("display_name", "allowed"), ("bio", "allowed")]
    assert [(d.surface, d.verdict) for d in _decisions(web, user_id=None)][:2] == [
        ("handle", "refused"), ("handle", "allowed")]
