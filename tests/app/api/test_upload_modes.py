"""Sound for an uploaded video, a picture for an uploaded sound, and extensions, through `POST /v1/videos` and
`/v1/videos/extensions` on the shipped model (`models/toybox-v2`): the official `openai` SDK (whose one file
part, `input_reference`, is told by its bytes), multipart `input_video` / `input_audio`, and every bad upload.

"Kept within codec error" is measured against the upload as decoded, on the stored video, with the bounds and
measurements of tests/app/tracks.py. Durations: within a frame of the upload
(the engine makes 1 + 4k frames, so a 2 s upload comes back as 49 frames, 2.042 s)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
from openai.types import Video
from sqlalchemy import func, select

from duetto.app.core.db import session_scope
from duetto.app.db.models import Video as VideoRow
from duetto.app.main import create_app
from duetto.app.videos.catalog import describe_model
from duetto.app.videos.files import asset_key
from duetto.clip import Clip
from duetto.media import read_mp4
from tests.app.servers import ThreadedServer, add_user, embedded_settings
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

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK marks its video API deprecated
FAST = {"steps": 4, "seed": 3}
FRAME = 1 / FPS


@pytest.fixture(scope="module")
def app(shipped_models_dir: Path, shipped_engine, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    settings = embedded_settings(tmp_path_factory.mktemp("uploads"), shipped_models_dir)
    app = create_app(settings, generate=shipped_engine)
    with ThreadedServer(app) as server:
        app.state.url = server.url
        yield app


def _client(app) -> openai.OpenAI:  # noqa: ANN001
    _, key = add_user(app.state.services.settings)
    return openai.OpenAI(base_url=app.state.url + "/v1", api_key=key, max_retries=0, timeout=300)


def _stored(app, video_id: str) -> bytes:  # noqa: ANN001
    """The video as made and stored (the creator's own copy: no badge, no credentials)."""
    return app.state.services.storage.get_bytes(asset_key(video_id, "video"))


def _post(app, key: str, path: str, **kwargs: object) -> httpx.Response:  # noqa: ANN001
    return httpx.post(app.state.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=120, **kwargs)


def _manifest(mp4: bytes) -> dict:
    c2pa = pytest.importorskip("c2pa")  # c2pa-python, as the provenance tests read credentials
    with c2pa.Reader("video/mp4", io.BytesIO(mp4)) as reader:
        store = json.loads(reader.json())
    assert store.get("validation_state") in ("Valid", "Trusted"), store.get("validation_results")
    return store


def _clip_assertion(manifest: dict) -> dict:
    return next(a["data"] for a in manifest["assertions"] if a["label"] == "org.duetto.clip")


def _parents(store: dict) -> list[str]:
    """Clip ids of the parentOf chain, nearest first."""
    found, manifest = [], store["manifests"][store["active_manifest"]]
    while parent := next((i for i in manifest.get("ingredients", []) if i.get("relationship") == "parentOf"), None):
        manifest = store["manifests"][parent["active_manifest"]]
        found.append(_clip_assertion(manifest)["clip_id"])
    return found


def test_the_servers_limits_are_the_engines(shipped_engine, shipped_models_dir: Path) -> None:  # noqa: ANN001
    """What the server offers and checks without loading the model (extension lengths, upload lengths) is exactly
    what the shipped model's Pipeline accepts."""
    info = describe_model(shipped_models_dir / "toybox-v2")
    pipe = shipped_engine.pipeline(shipped_models_dir / "toybox-v2")
    # An extension holds 1 s of tail clean in a window of at most 4.04 s: it adds 2 or 3 s (2 is the least).
    assert info.extend_prefix_seconds == pytest.approx((pipe.extension_prefix_frames(_blank(49)) - 1) / pipe.config.fps)
    assert info.extend_seconds_choices == ("2", "3")
    parent = _blank(49)  # a 2-second clip
    for seconds in info.seconds_choices + ("5",):
        try:
            resolved, *_ = pipe._resolve(float(seconds), "64x64", 4, None, None, None, parent)
            pipe.check_inputs("a ball", resolved, "64x64", 4, 0.6)
            engine_takes = True
        except ValueError:
            engine_takes = False
        assert engine_takes == (seconds in info.extend_seconds_choices), seconds
    # An upload sets the length: the server refuses what the engine would refuse, compared in frames.
    low, _ = pipe.seconds_range
    for seconds in (1.9, 2.0, 3.3, 4.0, 4.04, 4.06, 4.09, 4.1, 4.5, 6.0):
        engine_takes = seconds >= low and not pipe.exceeds_max_seconds(seconds)
        assert info.fits(seconds) == engine_takes, seconds


def _blank(frames: int) -> Clip:
    return Clip(frames=np.zeros((frames, 8, 8, 3), np.uint8), audio=np.zeros(round(frames / FPS * 16000), np.float32),
                fps=FPS, sample_rate=16000)


def test_sound_for_my_video_through_the_sdk(app, tmp_path: Path) -> None:  # noqa: ANN001
    client = _client(app)
    frames = moving_frames(2.0)
    upload = tmp_path / "silent.mp4"
    upload.write_bytes(silent_mp4(frames))
    with upload.open("rb") as file:  # the SDK's one file part; an MP4 there means "make its sound"
        video = client.videos.create_and_poll(prompt="a yellow box slides across. Audio: a soft whoosh.",
                                              model="toybox-v2", input_reference=file, extra_body=FAST)
    assert video.status == "completed", video.error
    assert (video.seconds, video.size) == ("2", "64x64")  # the upload's length and shape

    made = read_mp4(_stored(app, video.id))
    uploaded = read_mp4(upload.read_bytes()).frames
    assert abs(made.num_frames / made.fps - len(uploaded) / FPS) <= FRAME
    error = picture_error(made, uploaded)
    assert error < PICTURE_BOUND, f"picture changed by {error:.2f} levels"
    assert np.abs(made.mono).max() > 0.01  # the sound was made (the upload had no sound track)

    download = client.videos.download_content(video.id).content
    assert abs(seconds_of(download) - len(uploaded) / FPS) <= FRAME
    store = _manifest(download)
    clip = _clip_assertion(store["manifests"][store["active_manifest"]])
    assert clip["kept_from_upload"] == "video" and clip["clip_id"] == video.id


def test_picture_for_my_sound_through_the_sdk(app, tmp_path: Path) -> None:  # noqa: ANN001
    client = _client(app)
    wave = melody(2.0)
    upload = tmp_path / "tune.m4a"
    upload.write_bytes(sound_file(wave, "m4a"))
    with upload.open("rb") as file:  # a sound in the SDK's one file part means "make its picture"
        video = client.videos.create_and_poll(prompt="a red ball bounces on each pluck.", model="toybox-v2",
                                              size="64x64", input_reference=file, extra_body=FAST)
    assert video.status == "completed", video.error
    assert video.seconds == "2"
    stored = _stored(app, video.id)
    assert abs(seconds_of(stored) - 2.0) <= FRAME
    correlation, snr = sound_match(stored, wave)
    assert correlation > SOUND_CORRELATION and snr > SOUND_SNR_DB, (correlation, snr)
    made = read_mp4(stored)
    assert made.frames.std() > 1  # a picture was made, not a still blank


def test_multipart_input_video_and_input_audio(app) -> None:  # noqa: ANN001
    _, key = add_user(app.state.services.settings)
    frames = moving_frames(2.5)
    upload = silent_mp4(frames)
    wave = melody(2.0)
    made = {}
    for name, data, kind in (("input_video", upload, "video/mp4"), ("input_audio", sound_file(wave, "wav"), "audio/wav")):
        response = _post(app, key, "/v1/videos", data={"prompt": "a ball and a box. Audio: taps.", "size": "64x64",
                                                       **{k: str(v) for k, v in FAST.items()}},
                         files={name: ("upload", data, kind)})
        assert response.status_code == 200, response.text
        made[name] = response.json()["id"]
    client = openai.OpenAI(base_url=app.state.url + "/v1", api_key=key, max_retries=0, timeout=300)
    for name, video_id in made.items():
        video = client.videos.poll(video_id)
        assert video.status == "completed", (name, video.error)
    # 2.5 s of video: the engine makes 1 + 4k frames, so 61 frames for 60 (the last one held), within a frame.
    sound = read_mp4(_stored(app, made["input_video"]))
    assert client.videos.retrieve(made["input_video"]).seconds == "2"  # 2.5 reported whole, as OpenAI's strings are
    assert abs(sound.num_frames / sound.fps - 2.5) <= FRAME
    assert picture_error(sound, read_mp4(upload).frames) < PICTURE_BOUND
    picture = _stored(app, made["input_audio"])
    assert abs(seconds_of(picture) - 2.0) <= FRAME
    correlation, snr = sound_match(picture, wave)
    assert correlation > SOUND_CORRELATION and snr > SOUND_SNR_DB, (correlation, snr)


def test_extend_by_id_adds_seconds_and_carries_its_parent(app) -> None:  # noqa: ANN001
    client = _client(app)
    parent = client.videos.create_and_poll(prompt="a red ball bounces. Audio: boings.", size="64x64", seconds="2",
                                           extra_body=FAST)
    assert parent.status == "completed", parent.error
    # 4 more seconds would need a 5 s window; the message says what can be added.
    with pytest.raises(openai.BadRequestError) as refused:
        client.post("/videos/extensions", cast_to=Video,
                    body={"video": {"id": parent.id}, "seconds": "4", "prompt": "it rolls away", **FAST})
    assert refused.value.status_code == 400 and "so it can add 2, 3" in str(refused.value)

    extended = client.post("/videos/extensions", cast_to=Video,
                           body={"video": {"id": parent.id}, "seconds": "2", "prompt": "it rolls away", **FAST})
    extended = client.videos.poll(extended.id)
    assert extended.status == "completed", extended.error
    assert extended.seconds == "4"  # the stitched total, whole
    before, after = seconds_of(_stored(app, parent.id)), seconds_of(_stored(app, extended.id))
    assert abs(after - (before + 2)) <= FRAME, (before, after)

    store = _manifest(client.videos.download_content(extended.id).content)
    clip = _clip_assertion(store["manifests"][store["active_manifest"]])
    assert (clip["clip_id"], clip["extended_from"]) == (extended.id, parent.id)
    assert _parents(store) == [parent.id]


def test_bad_uploads_are_refused_with_one_line_and_nothing_is_stored(app) -> None:  # noqa: ANN001
    settings = app.state.services.settings
    user_id, key = add_user(settings)
    mp4 = silent_mp4(moving_frames(2.0))
    wav = sound_file(melody(2.0), "wav")
    png = (Path(__file__).resolve().parents[3] / "src/duetto/app/web/static/favicon.ico").read_bytes()
    prompt = {"prompt": "a ball", "size": "64x64"}
    cases = [
        # (fields, files, status, param, words in the message)
        ({}, {"input_video": ("a.wav", wav, "video/mp4")}, 415, "input_video", "must be an MP4"),
        ({}, {"input_audio": ("a.txt", b"just some words\n" * 20, "audio/wav")}, 415, "input_audio", "WAV, MP3"),
        ({}, {"input_reference": ("x.ico", png, "image/png")}, 415, "input_reference", "an MP4 video, or a WAV"),
        ({}, {"input_video": ("a.mp4", mp4[:64] + bytes(4000), "video/mp4")}, 400, "input_video", "upload an"),
        ({}, {"input_audio": ("a.flac", b"fLaC" + b"\x07" * 300, "audio/flac")}, 400, "input_audio",
         "could not be decoded"),
        ({}, {"input_reference": ("a.wav", b"RIFF\0\0\0\0WAVEjunk" * 30, "audio/wav")}, 400, "input_reference",
         "could not be decoded"),
        ({}, {"input_video": ("long.mp4", silent_mp4(moving_frames(5.0)), "video/mp4")}, 400, "input_video",
         "makes at most 4.04 s"),
        ({}, {"input_audio": ("long.wav", sound_file(melody(6.0), "wav"), "audio/wav")}, 400, "input_audio",
         "makes at most 4.04 s"),
        ({}, {"input_audio": ("short.wav", sound_file(melody(1.0), "wav"), "audio/wav")}, 400, "input_audio",
         "needs at least 2 s"),
        ({}, {"input_video": ("a.mp4", mp4, "video/mp4"), "input_audio": ("a.wav", wav, "audio/wav")}, 400,
         "input_audio", "Send one file"),
        ({"seconds": "4"}, {"input_video": ("a.mp4", mp4, "video/mp4")}, 400, "seconds", "leave seconds out"),
        ({"prompt": "taylor sw1ft sings in the rain"}, {"input_audio": ("a.wav", wav, "audio/wav")}, 400, "prompt",
         "public figure"),
    ]
    for fields, files, status, param, words in cases:
        response = _post(app, key, "/v1/videos", data={**prompt, **fields}, files=files)
        error = response.json()["error"]
        assert (response.status_code, error["param"]) == (status, param), (files.keys(), response.text)
        assert words in error["message"] and "\n" not in error["message"], error["message"]
    # JSON has no files: the two upload fields say how to send them.
    response = _post(app, key, "/v1/videos", json={**prompt, "input_video": "data:video/mp4;base64,AAAA"})
    assert response.status_code == 400 and "multipart/form-data" in response.json()["error"]["message"]
    # Over the upload limit: refused from its declared length.
    response = _post(app, key, "/v1/videos", data=prompt,
                     files={"input_video": ("big.mp4", mp4 + bytes(settings.max_upload_bytes), "video/mp4")})
    assert response.status_code == 413, response.text

    # Nothing was queued, and every stored input belongs to a video some other test made.
    with session_scope(app.state.services.sessions) as session:
        assert session.scalar(select(func.count()).select_from(VideoRow).where(VideoRow.user_id == user_id)) == 0
        known = set(session.scalars(select(VideoRow.id)))
    inputs = Path(settings.data_dir) / "media" / "inputs"
    stored = {folder.name for folder in inputs.iterdir()} if inputs.exists() else set()
    assert stored <= known, f"refused uploads left {stored - known}"
