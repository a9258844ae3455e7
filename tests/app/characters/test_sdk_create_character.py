"""OpenAI's own `client.videos.create_character(name=..., video=...)`, unmodified, against the server: the video
makes the card (a still from it, its sound as the voice) and the character enters videos through that still;
a video of a real person is refused unless it answers the person's enrollment challenge with consent, and is
then checked and recorded as enrollment is (issue 17, item 10)."""

from __future__ import annotations

import io

import numpy as np
import openai
import pytest
from PIL import Image
from sqlalchemy import select

from duetto.app.characters import enrollment
from duetto.app.db.models import Character
from duetto.media import mp4_bytes, read_mp4
from tests.app.characters import media
from tests.app.servers import wait_until
from tests.app.sites import Site, Takes, api_key_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TOY_PROMPT = "On a stage, a yellow toy with a purple hat says <S>ba lo mi<E>. Audio: a high soft voice."


@pytest.fixture(scope="module")
def toy_mp4() -> bytes:
    """A Toybox clip of a talking toy, as someone would upload it: 128×128 at 24 fps with its sound."""
    from duetto.world import parse_caption, render

    return mp4_bytes(render(parse_caption(TOY_PROMPT), width=128, height=128, fps=24.0, seconds=2.0).clip)


def _client(site: Site, user_id: str) -> openai.OpenAI:
    return openai.OpenAI(base_url="http://testserver/v1", api_key=api_key_for(site, user_id), http_client=site.client,
                         max_retries=0)


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.float32)


def test_the_sdk_call_makes_a_character_whose_card_comes_from_the_video(site: Site, toy_mp4: bytes) -> None:
    owner = site.person()
    client = _client(site, owner.user_id)
    made = client.videos.create_character(name="boingo", video=("toy.mp4", toy_mp4, "video/mp4"))
    assert made.name == "boingo" and made.id and made.id.startswith("char_") and made.created_at > 0

    auth = {"Authorization": f"Bearer {client.api_key}"}
    still = site.client.get(f"/v1/videos/characters/{made.id}/content", params={"variant": "still"}, headers=auth)
    assert still.status_code == 200 and still.headers["content-type"] == "image/png"
    # The still is the video's middle frame (square, enlarged for the card), not a rendered card.
    frames = read_mp4(toy_mp4).frames
    middle = np.asarray(Image.fromarray(frames[len(frames) // 2]).resize((256, 256), Image.Resampling.LANCZOS),
                        np.float32)
    card = _pixels(still.content)
    assert card.shape == (256, 256, 3) and float(np.abs(card - middle).mean()) < 3.0
    voice = site.client.get(f"/v1/videos/characters/{made.id}/content", params={"variant": "voice"}, headers=auth)
    assert voice.status_code == 200 and voice.content[:4] == b"RIFF"  # the video's own sound
    with site.session() as session:
        character = session.get(Character, made.id)
        assert character.kind == "toy" and character.toy is None

    # A video that names it starts from that still: the video was actually used.
    video = client.videos.create(prompt="@boingo waves on a stage", size="64x64", seconds="1")
    wait_until(lambda: client.videos.retrieve(video.id).status in ("completed", "failed"), timeout=300,
               interval=0.2, what="the video naming @boingo")  # made by the app's worker with the stand-in
    assert client.videos.retrieve(video.id).status == "completed"
    request = site.made[-1]
    assert request.image is not None and _pixels(request.image).shape == (256, 256, 3)
    assert float(np.abs(_pixels(request.image) - card).mean()) < 1.0
    assert request.prompt == "boingo waves on a stage"  # named by its display name (its name, by default)


def test_a_toybox_look_given_through_extra_body_is_kept(site: Site, toy_mp4: bytes) -> None:
    owner = site.person()
    client = _client(site, owner.user_id)
    look = {"head_colour": "yellow", "hat": "purple", "eyes": "dots", "pitch": "high", "timbre": "soft"}
    made = client.videos.create_character(name="sunny", video=("toy.mp4", toy_mp4, "video/mp4"), extra_body=look)
    with site.session() as session:
        assert session.get(Character, made.id).toy == look
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create_character(name="cloudy", video=("toy.mp4", toy_mp4, "video/mp4"),
                                       extra_body={"head_colour": "plaid"})
    assert "hat" in caught.value.response.json()["error"]["message"]  # a look is all five fields, or none


def test_a_video_of_a_person_needs_their_answered_challenge_and_consent(site: Site, takes: Takes) -> None:
    person = site.person()
    client = _client(site, person.user_id)
    with site.session() as session:
        challenge = enrollment.issue_challenge(session=session, user_id=person.user_id)
        digits, turn, challenge_id = challenge.digits, challenge.turn, challenge.id
    _, recording = takes.get(media.Take(digits, turn))
    upload = ("me.webm", recording, "video/webm")

    # The SDK's plain call with a face in the video: refused, saying what is needed.
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.videos.create_character(name="myself", video=upload)
    error = caught.value.response.json()["error"]
    assert error["code"] == "consent_required" and "/characters/enroll" in error["message"]
    # With the challenge but without consent: refused, and the challenge is left unspent.
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create_character(name="myself", video=upload, extra_body={"challenge": challenge_id})
    assert caught.value.response.json()["error"]["param"] == "consent"
    with site.session() as session:
        assert session.scalars(select(Character).where(Character.owner_id == person.user_id)).all() == []
        assert enrollment.consent_history(session=session, user_id=person.user_id) == []

    # The person's own answer to their challenge, with consent: checked offline and enrolled, as on the page.
    made = client.videos.create_character(name="myself", video=upload,
                                          extra_body={"challenge": challenge_id, "consent": "true"})
    with site.session() as session:
        character = session.get(Character, made.id)
        assert character.kind == "person" and character.permission == "only_me"
        assert [r.result for r in enrollment.consent_history(session=session, user_id=person.user_id)] == ["passed"]
    # The same recording again: the challenge is spent, so it cannot be replayed.
    with pytest.raises(openai.PermissionDeniedError) as caught:
        client.videos.create_character(name="again", video=upload,
                                       extra_body={"challenge": challenge_id, "consent": "true"})
    assert caught.value.response.json()["error"]["code"] == "consent_not_verified"


def test_an_unreadable_video_is_a_one_line_400(site: Site) -> None:
    client = _client(site, site.person().user_id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create_character(name="nothing", video=("notes.mp4", b"not a video at all", "video/mp4"))
    error = caught.value.response.json()["error"]
    assert error["param"] == "video" and "upload an MP4, MOV or WebM clip" in error["message"]
