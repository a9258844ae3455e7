"""Every kind of bad input gets the documented status and an OpenAI-shaped error naming what to do."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import openai
import pytest
from PIL import Image

from duetto.app.main import create_app
from duetto.media import image_bytes
from tests.app.servers import Stack, ThreadedServer, embedded_settings

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
UPLOAD_LIMIT = 200_000


@pytest.fixture(scope="module")
def stack(models_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("bad-input")
    settings = embedded_settings(tmp, models_dir, max_upload_bytes=UPLOAD_LIMIT)
    with ThreadedServer(create_app(settings)) as server:
        yield Stack("embedded", server.url, settings)


@pytest.fixture
def key(stack: Stack) -> str:
    return stack.user()[1]


@pytest.fixture
def client(stack: Stack, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.url + "/v1", api_key=key, max_retries=0)


def error_of(exc: openai.APIStatusError) -> dict:
    body = exc.response.json()["error"]
    assert set(body) >= {"message", "type", "param", "code"}
    return body


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("seconds", "7", ["1", "2", "3", "4"]), ("size", "720x1280", ["64x64", "96x64", "64x96"]),
     ("model", "sora-2", ["toybox-v2", "broken-v0"])],
)
def test_invalid_seconds_size_or_model_is_400_naming_allowed_values(client: openai.OpenAI, field: str,
                                                                     value: str, named: list[str]) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="a ball", **{field: value})
    error = error_of(caught.value)
    assert error["param"] == field
    assert all(name in error["message"] for name in named), error["message"]


def test_missing_prompt_and_bad_extension_values_are_400(stack: Stack, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    for body in ({}, {"prompt": ""}, {"prompt": "a ball", "steps": 0}, {"prompt": "a ball", "webhook_url": "ftp://x"}):
        response = httpx.post(f"{stack.url}/v1/videos", json=body, headers=auth)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid_value"
    assert httpx.get(f"{stack.url}/v1/videos?limit=0", headers=auth).status_code == 400
    assert httpx.get(f"{stack.url}/v1/videos?order=sideways", headers=auth).status_code == 400


def test_upload_over_the_limit_is_413(client: openai.OpenAI, stack: Stack, key: str) -> None:
    big = b"\x89PNG\r\n\x1a\n" + bytes(UPLOAD_LIMIT + 100_000)
    with pytest.raises(openai.APIStatusError) as caught:
        client.videos.create(prompt="a ball", input_reference=("big.png", big, "image/png"))
    assert caught.value.status_code == 413
    # The same limit holds for a base64 data URL in JSON.
    url = "data:image/png;base64," + base64.b64encode(big[: UPLOAD_LIMIT + 10]).decode()
    response = httpx.post(f"{stack.url}/v1/videos", json={"prompt": "a ball", "input_reference": {"image_url": url}},
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 413


def test_wrong_media_type_is_415(client: openai.OpenAI, stack: Stack, key: str) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.videos.create(prompt="a ball", input_reference=("notes.txt", b"just some text", "text/plain"))
    assert caught.value.status_code == 415 and "image" in error_of(caught.value)["message"]
    png = image_bytes(Image.new("RGB", (8, 8)), "png")
    with pytest.raises(openai.APIStatusError) as caught:
        client.videos.edit(video=("clip.mp4", png, "video/mp4"), prompt="red")
    assert caught.value.status_code == 415 and "MP4" in error_of(caught.value)["message"]
    response = httpx.post(f"{stack.url}/v1/videos", content=b"prompt=x",
                          headers={"Authorization": f"Bearer {key}", "Content-Type": "text/plain"})
    assert response.status_code == 415


def test_unknown_or_someone_elses_id_is_404(client: openai.OpenAI, stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_doesnotexist")
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content("video_doesnotexist", variant="thumbnail")
    other = openai.OpenAI(base_url=stack.url + "/v1", api_key=stack.user()[1], max_retries=0)
    theirs = other.videos.create(prompt="a ball", size="64x64", seconds="1", extra_body={"steps": 2})
    for call in (lambda: client.videos.retrieve(theirs.id), lambda: client.videos.delete(theirs.id),
                 lambda: client.videos.download_content(theirs.id), lambda: client.videos.remix(theirs.id, prompt="x")):
        with pytest.raises(openai.NotFoundError):
            call()
    other.videos.poll(theirs.id)


def test_missing_or_wrong_key_is_401(stack: Stack) -> None:
    assert httpx.get(f"{stack.url}/v1/videos").status_code == 401
    stranger = openai.OpenAI(base_url=stack.url + "/v1", api_key="dk-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.videos.list()


def test_daily_quota_is_429_with_retry_after(stack: Stack) -> None:
    _, key = stack.user(daily_quota=0.5)  # a 1 s 64x64 video costs 0.25 credits
    client = openai.OpenAI(base_url=stack.url + "/v1", api_key=key, max_retries=0)
    made = [client.videos.create(prompt="a ball", size="64x64", seconds="1", extra_body={"steps": 2})
            for _ in range(2)]
    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.create(prompt="a ball", size="64x64", seconds="1")
    assert 0 < int(caught.value.response.headers["retry-after"]) <= 86400 + 1
    assert error_of(caught.value)["code"] == "quota_exceeded"
    for video in made:
        client.videos.poll(video.id)


def test_request_rate_is_429_with_retry_after(models_dir: Path, tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path, models_dir, rate_limit="30/minute")
    with ThreadedServer(create_app(settings)) as server:
        auth = {"Authorization": f"Bearer {Stack('rate', server.url, settings).user()[1]}"}
        other = {"Authorization": f"Bearer {Stack('rate', server.url, settings).user()[1]}"}
        statuses = [httpx.get(f"{server.url}/v1/videos", headers=auth).status_code for _ in range(31)]
        assert statuses[:30] == [200] * 30 and statuses[30] == 429
        response = httpx.get(f"{server.url}/v1/videos", headers=auth)
        assert httpx.get(f"{server.url}/v1/videos", headers=other).status_code == 200  # limits are per user
    assert response.status_code == 429 and 0 < int(response.headers["retry-after"]) <= 61
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


def test_failed_generation_reports_error_and_keeps_inputs(client: openai.OpenAI, stack: Stack) -> None:
    png = image_bytes(Image.new("RGB", (64, 64), (0, 90, 200)), "png")
    video = client.videos.create_and_poll(prompt="a blue ball", model="broken-v0", size="64x64", seconds="1",
                                          input_reference=("ref.png", png, "image/png"),
                                          extra_body={"negative_prompt": "blur", "seed": 7})
    assert video.status == "failed"
    assert video.error.code == "model_unavailable" and "broken-v0" in video.error.message
    assert (video.prompt, video.model, video.size, video.seconds) == ("a blue ball", "broken-v0", "64x64", "1")
    kept = stack.settings.data_dir / "media" / "inputs" / video.id / "reference.png"
    assert kept.read_bytes() == png


def test_a_source_video_of_another_size_is_worked_from_at_the_model_size_nearest_in_shape(tmp_path: Path) -> None:
    from duetto.app.videos.catalog import ModelCatalog, ModelInfo

    info = ModelInfo(name="m", path=tmp_path, sizes=("64x64", "96x64", "64x96"), seconds_range=(1.0, 4.0),
                     default_size="64x64", default_seconds_value=2.0)
    catalog = ModelCatalog(tmp_path, default="m")
    fits = {upload: catalog.fit_size(info, upload) for upload in
            ("96x64", "256x256", "1080x1920", "1920x1080", "200x130", "640x480")}
    assert fits == {"96x64": "96x64", "256x256": "64x64", "1080x1920": "64x96", "1920x1080": "96x64",
                    "200x130": "96x64", "640x480": "96x64"}


def test_a_video_id_that_is_not_a_string_is_400_and_nothing_is_made(stack: Stack, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    for path in ("/v1/videos/extensions", "/v1/videos/edits"):
        for ref in ({"id": {"a": 1}}, {"id": ["video_x"]}, ["video_x"], {"id": None}, 7):
            body = {"prompt": "more", "seconds": "1", "video": ref}
            response = httpx.post(f"{stack.url}{path}", json=body, headers=auth)
            assert response.status_code == 400, (path, ref, response.text)
            assert response.json()["error"]["param"] == "video"
    listed = httpx.get(f"{stack.url}/v1/videos", headers=auth).json()
    assert listed["data"] == []


def test_json_nested_too_deeply_or_not_json_numbers_is_400(stack: Stack, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for body in (b"[" * 100_000, b'{"prompt": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                 b'{"prompt": "a ball", "seed": NaN}', b'{"prompt": "a ball", "x": 1e999}'):
        response = httpx.post(f"{stack.url}/v1/videos", content=body, headers=auth)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_value"


def test_an_input_reference_that_only_starts_like_an_image_is_refused_at_request_time(
        client: openai.OpenAI, stack: Stack, key: str) -> None:
    for junk in (b"\x89PNG\r\n\x1a\n" + bytes(2000), b"\xff\xd8\xff\xe0" + b"garbage" * 100):
        with pytest.raises(openai.APIStatusError) as caught:
            client.videos.create(prompt="a ball", size="64x64", seconds="1",
                                 input_reference=("ref.png", junk, "image/png"))
        assert caught.value.status_code == 415
        assert "could not be decoded" in error_of(caught.value)["message"]
    # A small file that declares 30000 x 30000 pixels is refused before anything decodes it.
    from tests.app.web.test_hardening import _png_header_only

    with pytest.raises(openai.APIStatusError) as caught:
        client.videos.create(prompt="a ball", size="64x64", seconds="1",
                             input_reference=("bomb.png", _png_header_only(30000, 30000), "image/png"))
    assert caught.value.status_code == 413 and "megapixels" in error_of(caught.value)["message"]
    assert client.videos.list().data == []  # no job was queued for any of them


def test_an_oversized_chunked_body_is_413(stack: Stack, key: str) -> None:
    def chunks():  # noqa: ANN202 - sent chunked: no content-length to refuse it by
        for _ in range(UPLOAD_LIMIT // 16384 + 8):
            yield bytes(16384)

    response = httpx.post(f"{stack.url}/v1/videos", content=chunks(),
                          headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_the_schema_describes_the_request_bodies_routes_read_themselves(stack: Stack) -> None:
    schema = httpx.get(f"{stack.url}/openapi.json").json()
    bodies = {("/v1/videos", "CreateVideo"), ("/v1/videos/{video_id}/remix", "RemixVideo"),
              ("/v1/videos/extensions", "ExtendVideo"), ("/v1/videos/edits", "EditVideo"),
              ("/v1/videos/characters", "CreateToyCharacter")}
    for path, model in bodies:
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{model}"}
        assert "multipart/form-data" in content
        assert "prompt" in schema["components"]["schemas"][model]["properties"] or model == "CreateToyCharacter"
    assert schema["components"]["schemas"]["ExtendVideoUpload"]["properties"]["video"]["format"] == "binary"
    assert "400" in schema["paths"]["/v1/videos"]["post"]["responses"]
