"""A library worth exporting: a user with drafts, posts, a remix chain (and a remix of someone else's post),
comments, messages both ways, a toy character with an approval and a rule, a person character with its consent
ledger, feed settings and a report against one of their posts."""

from __future__ import annotations

import io
import time
import wave
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from duetto.app.characters import permissions, rules
from duetto.app.characters.files import character_prefix
from duetto.app.core.security import new_id
from duetto.app.db.models import Account, Character, ConsentRecord, FeedPrefs, Report
from duetto.app.social import engagement, messages
from tests.app.sites import Site


def still_png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((32, 32, 3), (200, 150, 120), np.uint8)).save(out, format="PNG")
    return out.getvalue()


def voice_wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.sin(np.arange(8000) * 0.05) * 8000).astype("<i2").tobytes())
    return out.getvalue()


@dataclass
class Library:
    owner: Account
    friend: Account
    drafts: list[str] = field(default_factory=list)  # video ids
    posts: dict[str, str] = field(default_factory=dict)  # post id → video id
    chain: list[str] = field(default_factory=list)  # video ids: a post, its remix, the remix's remix
    remix_of_friend: str = ""  # video id of the owner's remix of the friend's post
    toy: Character | None = None
    person: Character | None = None
    prompts: dict[str, str] = field(default_factory=dict)  # video id → stored prompt


def seed_library(site: Site, assets: dict[str, bytes]) -> Library:
    owner, friend = site.person("own"), site.person("fri")
    site.mutual(owner, friend)
    lib = Library(owner=owner, friend=friend)
    uid = owner.user_id

    def video(prompt: str, remix_of: str | None = None) -> str:
        video_id = site.video(uid, prompt, assets=assets, remix_of=remix_of)
        lib.prompts[video_id] = prompt
        return video_id

    # Two drafts, one with a sound description after the picture.
    lib.drafts += [video("a red ball bounces in a room Audio: a rubber thud on each bounce"),
                   video("a blue box slides on a wooden floor")]
    # A posted clip, its remix (posted), and the remix's remix (a draft).
    root_post, root_video = site.post(uid, "a green ball falls onto a drum", "first try", assets=assets)
    lib.prompts[root_video] = "a green ball falls onto a drum"
    remix_post, remix_video = site.post(uid, "the green ball falls twice", "again!", assets=assets,
                                        remix_of_video=root_video)
    lib.prompts[remix_video] = "the green ball falls twice"
    lib.chain = [root_video, remix_video, video("the green ball falls three times", remix_of=remix_video)]
    lib.posts = {root_post: root_video, remix_post: remix_video}
    # The friend's post, remixed by the owner (kept as a reference on import), liked and commented on.
    friend_post, friend_video = site.post(friend.user_id, "a yellow ball rolls", "rolling", assets=assets)
    lib.remix_of_friend = video("a yellow ball rolls backwards", remix_of=friend_video)
    with site.session() as session:
        engagement.add_comment(session=session, viewer_id=uid, post_id=friend_post, body="so smooth")
        engagement.add_comment(session=session, viewer_id=friend.user_id, post_id=root_post, body="nice drum")
        messages.send(session=session, sender_id=uid, recipient_id=friend.user_id, body="look at my ball")
        messages.send(session=session, sender_id=friend.user_id, recipient_id=uid, body="love it",
                      post_id=root_post)
        session.add(FeedPrefs(user_id=uid, steering="more drums, less rain", steering_weights={"drum": 1.5},
                              less_terms={"rain": 1.0}, less_creators={}, daily_limit_minutes=45, personalized=False))
        session.add(Report(reporter_id=friend.user_id, target_kind="post", target_id=remix_post, reason="spam",
                           details="private words from the reporter", created_at=time.time()))
    # A toy character, open to mutuals, with an approval and a rule; a person character and its ledger.
    lib.toy = site.toy(owner, permission="mutuals")
    with site.session() as session:
        toy = session.get(Character, lib.toy.id)
        permissions.approve(session=session, character=toy, handle=friend.handle)
        rules.add_rule(session=session, character=toy, text="no politics")
        still, voice = still_png(), voice_wav()
        person = Character(id=new_id("char"), owner_id=uid, kind="person", name=owner.handle,
                           display_name=owner.display_name, permission="approved", toy=None, created_at=time.time())
        prefix = character_prefix(person.id)
        person.still_key, person.voice_key = prefix + "still.png", prefix + "voice.wav"
        site.services.storage.put_bytes(person.still_key, still, "image/png")
        site.services.storage.put_bytes(person.voice_key, voice, "audio/wav")
        session.add(person)
        session.add(ConsentRecord(user_id=uid, challenge_hash="c" * 64, result="passed",
                                  detail=f"character {person.id}", created_at=time.time()))
        session.add(ConsentRecord(user_id=uid, challenge_hash="d" * 64, result="failed", detail="head turn",
                                  created_at=time.time()))
        session.flush()
        session.expunge(person)
        lib.person = person
    return lib
