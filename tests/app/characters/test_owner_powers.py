"""The owner's powers, through the pages a browser uses: every video with their character, whoever made it,
deleting any of them, revoking people, rules in their own words, notices, and deleting the character."""

from __future__ import annotations

import re

from sqlalchemy import select

from duetto.app.characters import permissions, rules
from duetto.app.characters import service as characters
from duetto.app.db.models import Post, Video
from duetto.app.social import posts
from tests.app.sites import Site

PROMPT = "On a stage, @{name} says <S>ba lo<E>."


def _finished(site: Site, account, prompt: str) -> Video:  # noqa: ANN001
    video = site.request(account, prompt)
    done = site.run(video.id)
    assert done.status == "completed", done.error_message
    return done


def _alive(site: Site, video_id: str) -> bool:
    with site.session() as session:
        return session.scalar(select(Video.deleted_at).where(Video.id == video_id)) is None


def test_the_owner_sees_and_deletes_another_users_draft_that_shows_their_character(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    toy = site.toy(ann, permission="everyone")
    draft = _finished(site, bob, PROMPT.format(name=toy.name))
    storage = site.services.storage
    assert storage.exists(f"videos/{draft.id}/video.mp4")

    owner = site.browser_for(ann)
    page = owner.get(f"/characters/{toy.id}")
    assert page.status_code == 200
    assert f"@{bob.handle} · draft" in page.text
    # Bob's draft is private to Bob everywhere else, but Ann may watch it here.
    assert owner.get(f"/media/{draft.id}/video").status_code == 404
    watched = owner.get(f"/characters/{toy.id}/videos/{draft.id}/video")
    assert watched.status_code == 200 and watched.content == storage.get_bytes(f"videos/{draft.id}/video.mp4")

    deleted = owner.submit(f"/characters/{toy.id}/videos/{draft.id}/delete", page=f"/characters/{toy.id}")
    assert deleted.status_code == 303
    assert not _alive(site, draft.id)
    assert not storage.exists(f"videos/{draft.id}/video.mp4")
    assert owner.get(f"/characters/{toy.id}/videos/{draft.id}/video").status_code == 404
    # Bob is told.
    maker = site.browser_for(bob)
    assert "deleted a video of yours" in maker.get("/characters").text


def test_the_owner_deletes_another_users_post_that_shows_their_character(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    toy = site.toy(ann, permission="everyone")
    video = _finished(site, bob, PROMPT.format(name=toy.name))
    with site.session() as session:
        post = posts.publish(session=session, user_id=bob.user_id, video_id=video.id, caption="look")
    owner = site.browser_for(ann)
    assert f"@{bob.handle} · posted" in owner.get(f"/characters/{toy.id}").text
    owner.submit(f"/characters/{toy.id}/videos/{video.id}/delete", page=f"/characters/{toy.id}")
    with site.session() as session:
        assert session.scalar(select(Post).where(Post.id == post.id)) is None
    assert owner.get(f"/p/{post.id}").status_code == 404


def test_someone_elses_character_page_and_its_videos_are_not_the_strangers_to_manage(site: Site) -> None:
    ann, bob, eve = site.person("ann"), site.person("bob"), site.person("eve")
    toy = site.toy(ann, permission="everyone")
    draft = _finished(site, bob, PROMPT.format(name=toy.name))
    stranger = site.browser_for(eve)
    page = stranger.get(f"/characters/{toy.id}")
    assert page.status_code == 200 and "Videos with" not in page.text  # a user's view, no owner tools
    assert stranger.get(f"/characters/{toy.id}/videos/{draft.id}/video").status_code == 404
    refused = stranger.submit(f"/characters/{toy.id}/videos/{draft.id}/delete", page=f"/characters/{toy.id}")
    assert refused.status_code == 404
    assert _alive(site, draft.id)
    # At 'only me', the character itself is hidden from others.
    with site.session() as session:
        permissions.set_permission(session=session, character=characters.get_character(session=session, character_id=toy.id), level="only_me")
    assert stranger.get(f"/characters/{toy.id}").status_code == 404
    assert stranger.get(f"/characters/{toy.id}/still").status_code == 404


def test_revoking_a_person_removes_their_drafts_but_not_others(site: Site) -> None:
    ann, bob, cat = site.person("ann"), site.person("bob"), site.person("cat")
    toy = site.toy(ann, permission="everyone")
    bobs = [_finished(site, bob, PROMPT.format(name=toy.name)), site.request(bob, PROMPT.format(name=toy.name))]
    cats = _finished(site, cat, PROMPT.format(name=toy.name))
    anns = _finished(site, ann, PROMPT.format(name=toy.name))
    owner = site.browser_for(ann)
    response = owner.submit(f"/characters/{toy.id}/revoke", {"handle": f"@{bob.handle}"}, page=f"/characters/{toy.id}")
    assert response.status_code == 303
    assert [_alive(site, v.id) for v in bobs] == [False, False]  # the finished draft and the queued one
    assert _alive(site, cats.id) and _alive(site, anns.id)
    assert not site.services.storage.exists(f"videos/{bobs[0].id}/video.mp4")
    assert f"@{bob.handle} · revoked" in owner.get(f"/characters/{toy.id}").text
    assert "no longer lets you use" in site.browser_for(bob).get("/characters").text


def test_revoking_everyone_removes_everyone_elses_drafts_and_closes_the_character(site: Site) -> None:
    ann, bob, cat = site.person("ann"), site.person("bob"), site.person("cat")
    toy = site.toy(ann, permission="everyone")
    drafts = [_finished(site, bob, PROMPT.format(name=toy.name)), _finished(site, cat, PROMPT.format(name=toy.name))]
    anns = _finished(site, ann, PROMPT.format(name=toy.name))
    owner = site.browser_for(ann)
    assert owner.submit(f"/characters/{toy.id}/revoke-all", page=f"/characters/{toy.id}").status_code == 303
    assert [_alive(site, v.id) for v in drafts] == [False, False]
    assert _alive(site, anns.id)
    assert site.character(toy.id).permission == "only_me"


def test_a_rule_refuses_a_violating_prompt_with_a_clear_message(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    toy = site.toy(ann, permission="everyone")
    owner = site.browser_for(ann)
    assert owner.submit(f"/characters/{toy.id}/rules", {"rule": "no politics"},
                        page=f"/characters/{toy.id}").status_code == 303
    maker = site.browser_for(bob)
    refused = maker.submit("/create", {"prompt": f"@{toy.name} gives a speech before the election",
                                       "seconds": "1", "size": "64x64"}, page="/create")
    assert refused.status_code == 400
    assert (f"@{toy.name}&#39;s rule &#39;no politics&#39; refuses this prompt (it mentions &#39;election&#39;)."
            in refused.text)
    # The form comes back filled in, so nothing typed is lost.
    assert "gives a speech before the election</textarea>" in refused.text
    made = maker.submit("/create", {"prompt": f"On a stage, @{toy.name} says <S>ba<E>.", "seconds": "1",
                                    "size": "64x64"}, page="/create")
    assert made.status_code == 303


def test_a_rule_added_after_the_request_fails_the_job(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    toy = site.toy(ann, permission="everyone")
    video = site.request(bob, f"@{toy.name} without a hat says <S>ba<E>.")
    with site.session() as session:
        rules.add_rule(session=session, character=characters.get_character(session=session, character_id=toy.id), text="always wearing a hat")
    done = site.run(video.id)
    assert (done.status, done.error_code) == ("failed", "character_not_permitted")
    assert done.error_message == (f"@{toy.name}'s rule 'always wearing a hat' refuses this prompt "
                                  "(it says 'without a hat').")


def test_a_rule_that_matches_no_form_is_refused_at_entry_and_the_text_is_kept(site: Site) -> None:
    ann = site.person("ann")
    toy = site.toy(ann)
    owner = site.browser_for(ann)
    refused = owner.submit(f"/characters/{toy.id}/rules", {"rule": "be nice"}, page=f"/characters/{toy.id}")
    assert refused.status_code == 400
    assert "Rules take one of these forms: &#39;no &lt;topic&gt;&#39;" in refused.text
    assert 'value="be nice"' in refused.text
    with site.session() as session:
        assert rules.rules_of(session=session, character_id=toy.id) == []


def test_the_owner_is_notified_each_time_someone_uses_their_character(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    toy = site.toy(ann, permission="everyone")
    first = _finished(site, bob, PROMPT.format(name=toy.name))
    site.request(bob, "The same, at night.", kind="remix", source=first)
    site.request(ann, PROMPT.format(name=toy.name))  # the owner's own use is no news to them
    owner = site.browser_for(ann)
    home = owner.get("/drafts")
    assert re.search(r'data-testid="character-notices">2<', home.text)
    page = owner.get("/characters")
    assert page.text.count('data-testid="notice"') == 2
    assert f"@{bob.handle} made a video with @{toy.name}." in page.text
    assert f"@{bob.handle} remixed a video with @{toy.name}." in page.text
    # Seen once shown: the badge is gone on the next page.
    assert 'data-testid="character-notices"' not in owner.get("/drafts").text


def test_deleting_the_character_purges_its_files_and_others_videos(site: Site) -> None:
    ann, bob = site.person("ann"), site.person("bob")
    toy = site.toy(ann, permission="everyone")
    storage = site.services.storage
    draft = _finished(site, bob, PROMPT.format(name=toy.name))
    posted = _finished(site, bob, PROMPT.format(name=toy.name))
    with site.session() as session:
        posts.publish(session=session, user_id=bob.user_id, video_id=posted.id, caption="")
    assert storage.exists(toy.still_key) and storage.exists(toy.voice_key)
    owner = site.browser_for(ann)
    wrong = owner.submit(f"/characters/{toy.id}/delete", {"confirm": "nope", "take_down_posts": "1"},
                         page=f"/characters/{toy.id}")
    assert wrong.status_code == 400 and storage.exists(toy.still_key)
    done = owner.submit(f"/characters/{toy.id}/delete", {"confirm": f"@{toy.name}", "take_down_posts": "1"},
                        page=f"/characters/{toy.id}")
    assert done.status_code == 303
    assert not storage.exists(toy.still_key) and not storage.exists(toy.voice_key)
    assert not any((site.services.settings.data_dir / "media" / "characters").glob(f"{toy.id}*"))
    assert not _alive(site, draft.id) and not _alive(site, posted.id)
    assert owner.get(f"/characters/{toy.id}").status_code == 404
