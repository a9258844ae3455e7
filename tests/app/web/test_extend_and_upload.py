"""Extend on a draft and on one's own post, and Create from an uploaded video (its sound made) or sound (its picture
made), through the web forms on the shipped model: lengths, the kept track (bounds in tests/app/tracks.py),
lineage on the pages and in the downloaded file's C2PA credentials, and one-line form errors."""

from __future__ import annotations

import html
import io
import json
import re

import pytest
from sqlalchemy import func, select

from duetto.app.db.models import Video
from duetto.media import read_mp4
from tests.app.servers import wait_until
from tests.app.sites import Browser, Site
from tests.app.tracks import (
    FPS,
    PICTURE_BOUND,
    SOUND_CORRELATION,
    SOUND_SNR_DB,
    melody,
    moving_frames,
    picture_error,
    seconds_of,
    silent_mp4,
    sound_file,
    sound_match,
)

FRAME = 1 / FPS


def _finished(site: Site, video_id: str, timeout: float = 600) -> Video:
    def ended() -> Video | None:
        with site.session() as session:
            video = session.scalar(select(Video).where(Video.id == video_id))
            session.expunge(video)
        return video if video.status in ("completed", "failed") else None

    video = wait_until(ended, timeout=timeout, interval=0.3, what=f"video {video_id} to finish")
    assert video.status == "completed", video.error_message
    return video


def _made(response) -> str:  # noqa: ANN001 - an httpx response
    """The id of the draft a form made (it redirects to the draft's page)."""
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


def _text(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>(.*?)</', page, re.S)
    assert found, f"no {testid} on the page"
    return html.unescape(found.group(1)).strip()


def _videos(site: Site, user_id: str) -> int:
    with site.session() as session:
        return session.scalar(select(func.count()).select_from(Video).where(Video.user_id == user_id))


def _credentials(mp4: bytes) -> dict:
    c2pa = pytest.importorskip("c2pa")
    with c2pa.Reader("video/mp4", io.BytesIO(mp4)) as reader:
        store = json.loads(reader.json())
    assert store.get("validation_state") in ("Valid", "Trusted"), store.get("validation_results")
    return store


def _clip(manifest: dict) -> dict:
    return next(a["data"] for a in manifest["assertions"] if a["label"] == "org.duetto.clip")


def _post(browser: Browser, video_id: str) -> str:
    response = browser.submit(f"/drafts/{video_id}/post", {"caption": ""}, page=f"/drafts/{video_id}")
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[-1]


def test_extend_a_draft_then_its_post(shipped_site: Site) -> None:
    site = shipped_site
    ann, bob = site.person("ann"), site.person("bob")
    browser = site.browser_for(ann)
    parent_id = _made(browser.submit("/create", {"prompt": "a red ball bounces. Audio: boings.", "seconds": "2",
                                                 "size": "64x64"}, page="/create"))
    _finished(site, parent_id)

    # The form offers what the shipped model can add after the 1 s of tail it holds: 2 or 3 seconds.
    page = browser.get(f"/drafts/{parent_id}").text
    form = page[page.index('data-testid="extend-form"'):]
    assert re.findall(r'<option value="(\d+)"', form[: form.index("</select>")]) == ["2", "3"]

    # A length the model cannot add, or no prompt: the page again with one line saying why; nothing is made.
    for seconds, prompt, words in (("4", "it rolls away", "so it can add 2, 3"), ("1", "it rolls away", "2, 3"),
                                   ("ten", "it rolls away", "2, 3"), ("2", "  ", "Say what happens next")):
        response = browser.submit(f"/drafts/{parent_id}/extend", {"prompt": prompt, "seconds": seconds},
                                  page=f"/drafts/{parent_id}")
        assert response.status_code == 400, response.text
        error = _text(response.text, "extend-error")
        assert words in error and "\n" not in error, error
        assert "open" in response.text[response.text.index('data-testid="extend"'):][:80]  # the form stays open
    assert _videos(site, ann.user_id) == 1

    extension_id = _made(browser.submit(f"/drafts/{parent_id}/extend",
                                        {"prompt": "it rolls away to the right", "seconds": "2"},
                                        page=f"/drafts/{parent_id}"))
    extension = _finished(site, extension_id)
    assert (extension.kind, extension.source_video_id, extension.seconds) == ("extend", parent_id, "4")
    page = browser.get(f"/drafts/{extension_id}").text
    lineage = _text(page, "lineage")
    assert "Extends" in lineage and f'href="/drafts/{parent_id}"' in page and "+2 s" in page
    before = seconds_of(browser.get(f"/media/{parent_id}/video").content)
    after = seconds_of(browser.get(f"/media/{extension_id}/video").content)
    assert abs(after - (before + 2)) <= FRAME, (before, after)

    # Posted, the extension's page names the post it continues, and only its creator is offered Extend there.
    parent_post, extension_post = _post(browser, parent_id), _post(browser, extension_id)
    page = browser.get(f"/p/{extension_post}").text
    assert "extends" in _text(page, "lineage") and f'href="/p/{parent_post}" data-testid="parent-link"' in page
    assert f'action="/drafts/{extension_id}/extend"' in page
    other = site.browser_for(bob)
    page = other.get(f"/p/{extension_post}").text
    assert f'href="/p/{parent_post}"' in page and "extend-form" not in page
    refused = other.submit(f"/drafts/{extension_id}/extend", {"prompt": "more", "seconds": "2"},
                           page=f"/p/{extension_post}")
    assert refused.status_code == 404

    # The file a download gives carries the lineage in its signed credentials.
    download = other.get(f"/p/{extension_post}/download").content
    store = _credentials(download)
    active = store["manifests"][store["active_manifest"]]
    assert (_clip(active)["clip_id"], _clip(active)["extended_from"]) == (extension_id, parent_id)
    ingredient = next(i for i in active["ingredients"] if i.get("relationship") == "parentOf")
    assert _clip(store["manifests"][ingredient["active_manifest"]])["clip_id"] == parent_id
    assert abs(seconds_of(download) - after) <= FRAME


def test_create_from_my_video_and_from_my_sound(shipped_site: Site) -> None:
    site = shipped_site
    ann = site.person("ann")
    browser = site.browser_for(ann)
    page = browser.get("/create").text
    assert 'name="video" accept="video/mp4"' in page and 'name="sound" accept="audio/*' in page

    # Sound for my video: the form's duration and shape are the upload's, whatever the form still says.
    frames = moving_frames(2.0)
    upload = silent_mp4(frames)
    video_id = _made(browser.submit("/create", {"prompt": "a yellow box slides. Audio: a whoosh.", "seconds": "4",
                                                "size": "128x128"},
                                    files={"video": ("silent.mp4", upload, "video/mp4")}, page="/create"))
    video = _finished(site, video_id)
    assert (video.kind, video.seconds, video.size) == ("sound", "2", "64x64")
    assert _text(browser.get(f"/drafts/{video_id}").text, "mode") == "Sound made for your video"
    made = read_mp4(browser.get(f"/media/{video_id}/video").content)
    assert abs(made.num_frames / made.fps - 2.0) <= FRAME
    assert picture_error(made, read_mp4(upload).frames) < PICTURE_BOUND

    # A picture for my sound (FLAC here), at the shape the form asks for.
    wave = melody(2.0)
    picture_id = _made(browser.submit("/create", {"prompt": "a ball bounces on each pluck.", "seconds": "4",
                                                  "size": "64x64"},
                                      files={"sound": ("tune.flac", sound_file(wave, "flac"), "audio/flac")},
                                      page="/create"))
    picture = _finished(site, picture_id)
    assert (picture.kind, picture.seconds, picture.size) == ("picture", "2", "64x64")
    page = browser.get(f"/drafts/{picture_id}").text
    assert _text(page, "mode") == "Picture made for your sound"
    stored = browser.get(f"/media/{picture_id}/video").content
    assert abs(seconds_of(stored) - 2.0) <= FRAME
    correlation, snr = sound_match(stored, wave)
    assert correlation > SOUND_CORRELATION and snr > SOUND_SNR_DB, (correlation, snr)

    # Posted, the post says which half is the creator's own.
    post_id = _post(browser, picture_id)
    assert _text(browser.get(f"/p/{post_id}").text, "mode") == "Picture generated for the creator's own sound"


def test_create_upload_mistakes_are_said_on_the_form(shipped_site: Site) -> None:
    site = shipped_site
    ann = site.person("ann")
    browser = site.browser_for(ann)
    mp4, wav = silent_mp4(moving_frames(2.0)), sound_file(melody(2.0), "wav")
    cases = [
        ({"video": ("a.wav", wav, "video/mp4")}, "must be an MP4"),
        ({"sound": ("a.mp3", b"<html>not a sound</html>" * 9, "audio/mpeg")}, "must be a WAV, MP3, M4A, OGG or FLAC"),
        ({"sound": ("a.ogg", b"OggS" + bytes(300), "audio/ogg")}, "could not be decoded"),
        ({"video": ("long.mp4", silent_mp4(moving_frames(5.0)), "video/mp4")}, "makes at most 4.04 s"),
        ({"sound": ("short.wav", sound_file(melody(1.0), "wav"), "audio/wav")}, "needs at least 2 s"),
        ({"video": ("a.mp4", mp4, "video/mp4"), "sound": ("a.wav", wav, "audio/wav")}, "Choose one file"),
    ]
    for files, words in cases:
        response = browser.submit("/create", {"prompt": "a ball rolls", "seconds": "2", "size": "64x64"}, files=files,
                                  page="/create")
        assert response.status_code in (400, 415), response.text
        error = _text(response.text, "error")
        assert words in error and "\n" not in error, error
        assert "a ball rolls" in response.text  # what was typed stays
    assert _videos(site, ann.user_id) == 0
