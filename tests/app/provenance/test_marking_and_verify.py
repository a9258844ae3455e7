"""Clips made by the server carry its marks and a stored fingerprint, and the Verify API and page find them."""

from __future__ import annotations

import time

import numpy as np
from sqlalchemy import select

from duetto.app.db.models import ClipPrint
from duetto.app.videos.service import asset_key
from duetto.clip import Clip
from duetto.media import mp4_bytes, read_mp4
from duetto.provenance import MIN_SHARED_SIDE, Fingerprint, detect_video_mark
from duetto.provenance.attacks import h264_crf, h264_fraction, scale_frames
from tests.app.sites import Web, api_key_for, generate, handle


def _laundered(mp4: bytes) -> bytes:
    """The clip re-encoded, scaled to half size and written afresh: no credentials, tags or original bytes."""
    clip = read_mp4(mp4)
    frames = h264_crf(scale_frames(clip.frames, 0.5), clip.fps, 23)
    return mp4_bytes(Clip(frames=frames, audio=clip.audio, fps=clip.fps, sample_rate=clip.sample_rate, metadata={}))


def _toybox_mp4(seed: int) -> bytes:
    from duetto.world import random_scene
    from duetto.world.render import (
        render,  # the function: once imported, duetto.world.render names its module
    )

    result = render(random_scene(np.random.default_rng(seed)), width=64, height=64, fps=8.0, seconds=2.0)
    return mp4_bytes(result.clip)


def test_generated_clip_is_marked_fingerprinted_then_found_after_laundering(web: Web) -> None:
    ann = web.account(handle())
    key = api_key_for(web, ann.user_id)
    video = generate(web, key, "a red ball bounces on a blue floor. Audio: boings.")
    with web.session() as session:
        row = session.scalar(select(ClipPrint).where(ClipPrint.video_id == video.id))
        assert row is not None and row.video_seq == video.seq and row.user_id == ann.user_id
        assert Fingerprint.from_bytes(row.data).seconds > 1.5
    key_file = web.services.settings.data_dir / "watermark.key"
    assert key_file.exists() and oct(key_file.stat().st_mode & 0o777) == "0o600"
    stored = web.services.storage.get_bytes(asset_key(video.id, "video"))
    detection = detect_video_mark(read_mp4(stored).frames, key_file.read_text().strip().encode())
    assert detection.found and detection.payload == video.seq

    copy = _laundered(stored)
    assert copy != stored
    started = time.perf_counter()
    response = web.client.post("/v1/verify", headers={"Authorization": f"Bearer {key}"},
                               files={"file": ("copy.mp4", copy, "video/mp4")})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["made_by"]["video_id"] == video.id and body["made_by"]["handle"] == f"@{ann.handle}"
    date = time.strftime("%Y-%m-%d", time.gmtime(video.created_at))
    assert body["summary"] == f"made here by @{ann.handle} on {date}"
    assert body["credentials"].startswith("No content credentials")
    assert body["details"]["match"]["key"] == video.id
    assert elapsed < 30

    # The public page, signed out, gives the same attribution through the CSRF-protected form.
    visitor = web.browser()
    page = visitor.get("/verify")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    shown = visitor.submit("/verify", files={"file": ("copy.mp4", copy, "video/mp4")})
    assert shown.status_code == 200
    assert f"made here by @{ann.handle} on {date}" in shown.text


def test_a_download_carries_the_mark_over_its_badge_through_a_quarter_bitrate_reencode(web: Web) -> None:
    """The badge is drawn after generation; the mark is written again over it, so a download shared on and
    squeezed to a quarter of its bitrate, then halved, still names its video."""
    ann = web.account(handle())
    key = api_key_for(web, ann.user_id)
    video = generate(web, key, "a yellow ball rolls right. Audio: a rattle.", seconds="4")
    stored = read_mp4(web.services.storage.get_bytes(asset_key(video.id, "video")))
    assert min(stored.height, stored.width) == MIN_SHARED_SIDE  # made at 64x64, stored enlarged
    response = web.client.get(f"/v1/videos/{video.id}/content", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    download = read_mp4(response.content)
    watermark = (web.services.settings.data_dir / "watermark.key").read_text().strip().encode()
    assert detect_video_mark(download.frames, watermark).payload == video.seq

    squeezed, facts = h264_fraction(download.frames, download.fps, 0.25)
    assert facts["reached"] == 1.0, facts
    copy = mp4_bytes(Clip(frames=scale_frames(squeezed, 0.5), audio=download.audio, fps=download.fps,
                          sample_rate=download.sample_rate))
    body = web.client.post("/v1/verify", headers={"Authorization": f"Bearer {key}"},
                           files={"file": ("copy.mp4", copy, "video/mp4")}).json()
    assert body["details"]["video_mark"]["found"] is True, body["details"]["video_mark"]
    assert body["details"]["video_mark"]["payload"] == video.seq
    assert body["made_by"]["video_id"] == video.id


def test_verify_says_no_match_for_a_clip_never_made_here(web: Web) -> None:
    ann = web.account(handle())
    key = api_key_for(web, ann.user_id)
    generate(web, key, "a green cube slides left. Audio: a hum.")
    foreign = _toybox_mp4(11)
    body = web.client.post("/v1/verify", headers={"Authorization": f"Bearer {key}"},
                           files={"file": ("other.mp4", foreign, "video/mp4")}).json()
    assert body["made_by"] is None and body["summary"] == "no match"
    assert body["details"]["video_mark"]["found"] is False

    visitor = web.browser()
    shown = visitor.submit("/verify", files={"file": ("other.mp4", foreign, "video/mp4")}, page="/verify")
    assert shown.status_code == 200 and "no match" in shown.text


def test_verify_needs_an_api_key_and_a_csrf_token(web: Web) -> None:
    foreign = _toybox_mp4(12)
    assert web.client.post("/v1/verify", files={"file": ("x.mp4", foreign, "video/mp4")}).status_code == 401
    forged = web.browser().client.post("/verify", files={"file": ("x.mp4", foreign, "video/mp4")},
                                       data={"csrf_token": "nope"})
    assert forged.status_code == 403


def test_verify_rejects_a_file_that_is_not_a_video(web: Web) -> None:
    ann = web.account(handle())
    key = api_key_for(web, ann.user_id)
    response = web.client.post("/v1/verify", headers={"Authorization": f"Bearer {key}"},
                               files={"file": ("x.mp4", b"not a video at all", "video/mp4")})
    assert response.status_code == 400 and "could not be read as a video" in response.text
    assert "Upload a video file" in response.text and "Error" not in response.json()["error"]["message"]
