"""The /v1/videos API driven by the official `openai` client, on the embedded default and on the
scale-out set (PostgreSQL, Redis + a Celery worker process, S3), with the tiny real model."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest
from openai.types import Video

from duetto.app.main import create_app
from duetto.media import probe_mp4
from tests.app.servers import Stack, ThreadedServer, embedded_settings, scale_out_settings, start_worker

# The SDK marks the video API deprecated (OpenAI's own service is closing); the shape is what we serve.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
FAST = {"steps": 2}


@pytest.fixture(scope="module", params=["embedded", pytest.param("scale-out", marks=pytest.mark.services)])
def stack(request: pytest.FixtureRequest, models_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        settings = embedded_settings(tmp, models_dir)
        with ThreadedServer(create_app(settings)) as server:
            yield Stack("embedded", server.url, settings)
        return
    database_url = request.getfixturevalue("postgres_url")
    s3_url = request.getfixturevalue("s3_endpoint")
    request.getfixturevalue("aws_env")
    settings = scale_out_settings(tmp, models_dir, database_url, s3_url)
    with ThreadedServer(create_app(settings)) as server:
        worker = start_worker(settings, tmp / "worker.log")
        try:
            yield Stack("scale-out", server.url, settings, {"worker": worker})
        finally:
            worker.stop()


def client_for(stack: Stack, key: str | None = None) -> openai.OpenAI:
    key = key or stack.user()[1]
    return openai.OpenAI(base_url=stack.url + "/v1", api_key=key, max_retries=0, timeout=120)


@pytest.fixture
def client(stack: Stack) -> openai.OpenAI:
    return client_for(stack)


def make_video(client: openai.OpenAI, prompt: str = "a red ball bounces. Audio: boings.",
               **kwargs: object):  # noqa: ANN201
    video = client.videos.create_and_poll(prompt=prompt, size="64x64", seconds="1", extra_body=FAST, **kwargs)
    assert video.status == "completed", video.error
    return video


def test_create_and_poll_then_download_every_variant(client: openai.OpenAI, tmp_path: Path) -> None:
    video = make_video(client)
    assert (video.object, video.model, video.size, video.seconds, video.progress) == (
        "video", "toybox-v2", "64x64", "1", 100)
    assert video.completed_at is not None and video.expires_at is not None and video.error is None

    mp4 = tmp_path / "clip.mp4"
    client.videos.download_content(video.id).write_to_file(mp4)
    info = probe_mp4(mp4)
    # The file handed out is the 64x64 clip enlarged four times, so its marks survive sharing.
    assert info["video"]["codec"] == "h264" and (info["video"]["width"], info["video"]["height"]) == (256, 256)
    assert info["audio"]["codec"] == "aac" and info["audio"]["duration"] > 0.5
    thumbnail = client.videos.download_content(video.id, variant="thumbnail").content
    assert thumbnail[:4] == b"RIFF" and thumbnail[8:12] == b"WEBP"
    sheet = client.videos.download_content(video.id, variant="spritesheet").content
    assert sheet[:3] == b"\xff\xd8\xff"


def test_create_returns_queued_job_with_poll_header(client: openai.OpenAI) -> None:
    raw = client.videos.with_raw_response.create(prompt="a blue box slides", size="64x64", seconds="1",
                                                  extra_body=FAST)
    video = raw.parse()
    assert video.status in ("queued", "in_progress") and 0 <= video.progress < 100
    assert int(raw.headers["openai-poll-after-ms"]) >= 0
    assert client.videos.retrieve(video.id).id == video.id
    assert client.videos.poll(video.id).status == "completed"


def test_list_paginates_newest_first_and_oldest_first(stack: Stack) -> None:
    client = client_for(stack)
    made = [client.videos.create(prompt=f"ball number {i}", size="64x64", seconds="1", extra_body=FAST).id
            for i in range(3)]
    page = client.videos.list(limit=2)
    assert [v.id for v in page.data] == made[::-1][:2] and page.has_more
    assert [v.id for v in page.iter_pages().__next__().data] == made[::-1][:2]
    assert [v.id for v in client.videos.list(limit=2)] == made[::-1]  # auto-pagination follows last_id
    assert [v.id for v in client.videos.list(limit=1, order="asc")] == made
    second = client.videos.list(limit=2, after=made[2])
    assert [v.id for v in second.data] == made[1::-1] and not second.has_more
    for video_id in made:
        client.videos.poll(video_id)


def test_remix_extend_and_edit(client: openai.OpenAI, tmp_path: Path) -> None:
    source = make_video(client)
    remix = client.videos.remix(source.id, prompt="a green ball. Audio: boings.",
                                extra_body={"steps": 2, "strength": 0.5})
    assert remix.remixed_from_video_id == source.id
    remix = client.videos.poll(remix.id)
    assert remix.status == "completed", remix.error
    assert remix.remixed_from_video_id == source.id and remix.size == source.size

    # openai's extend()/edit() can only upload files (their `{id}` form fails inside the SDK), so the
    # by-id form goes as JSON through the same client.
    extended = client.post("/videos/extensions", cast_to=Video,
                           body={"video": {"id": source.id}, "seconds": "1", "prompt": "it keeps bouncing", **FAST})
    assert extended.seconds == "2"  # the stitched total
    extended = client.videos.poll(extended.id)
    assert extended.status == "completed", extended.error
    mp4 = tmp_path / "extended.mp4"
    client.videos.download_content(extended.id).write_to_file(mp4)
    assert probe_mp4(mp4)["video"]["duration"] > 1.5

    edited = client.post("/videos/edits", cast_to=Video, body={"video": {"id": source.id}, "prompt": "red", **FAST})
    assert client.videos.poll(edited.id).status == "completed"
    uploaded = client.videos.edit(video=("in.mp4", mp4.read_bytes(), "video/mp4"), prompt="red", extra_body=FAST)
    assert client.videos.poll(uploaded.id).status == "completed"
    source_mp4 = client.videos.download_content(source.id).content
    longer = client.videos.extend(video=("in.mp4", source_mp4, "video/mp4"), seconds="1", prompt="more",
                                  extra_body=FAST)
    assert longer.seconds == "2" and longer.size == "64x64"  # the download is 256x256: the model's size is used
    assert client.videos.poll(longer.id).status == "completed"


def test_image_to_video_with_an_uploaded_reference(client: openai.OpenAI) -> None:
    from PIL import Image

    from duetto.media import image_bytes

    png = image_bytes(Image.new("RGB", (64, 64), (200, 30, 30)), "png")
    video = make_video(client, input_reference=("first.png", png, "image/png"))
    assert video.status == "completed"


def test_delete_removes_the_video_and_its_files(client: openai.OpenAI) -> None:
    video = make_video(client)
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (video.id, "video.deleted", True)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video.id)
    assert video.id not in [v.id for v in client.videos.list()]


def test_a_user_sees_only_their_own_videos(stack: Stack) -> None:
    alice, bob = client_for(stack), client_for(stack)
    video = alice.videos.create(prompt="alice's ball", size="64x64", seconds="1", extra_body=FAST)
    with pytest.raises(openai.NotFoundError):
        bob.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        bob.videos.delete(video.id)
    with pytest.raises(openai.NotFoundError):
        bob.videos.remix(video.id, prompt="steal it")
    assert list(bob.videos.list()) == []
    assert alice.videos.poll(video.id).status == "completed"


def test_progress_streams_as_server_sent_events(stack: Stack) -> None:
    _, key = stack.user()
    client = client_for(stack, key)
    video = client.videos.create(prompt="a ball rolls", size="64x64", seconds="1", extra_body={"steps": 6})
    events = []
    with httpx.stream("GET", f"{stack.url}/v1/videos/{video.id}/events",
                      headers={"Authorization": f"Bearer {key}"}, timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line[5:]))
    assert events[-1]["status"] == "completed" and events[-1]["progress"] == 100
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress) and len(set(progress)) >= 3
