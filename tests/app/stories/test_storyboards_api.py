"""`/v1/storyboards` on the real engine (the tiny model): three shots made in order, each after the first
continuing from the tail of the one before, stitched into one video whose length is the shots' less their
overlaps; one shot regenerated keeps the others' takes and stitches again; the lineage names every shot;
limits and bad input get one-line 4xx answers and store nothing."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from sqlalchemy import func, select

from duetto.app.db.models import Storyboard, Video
from duetto.media import read_mp4
from tests.app.servers import wait_until
from tests.app.sites import Site, api_key_for

DEADLINE_S = 600  # only ends a hung test; the tiny model makes a shot in seconds on an idle machine
SHOTS = [
    {"prompt": "a red ball rolls in from the left", "seconds": 2},
    {"prompt": "the red ball bounces twice", "seconds": 2},
    {"prompt": "the red ball stops by the wall", "seconds": 3},
]


def ready(site: Site, auth: dict[str, str], story_id: str) -> dict:
    def done() -> dict | None:
        story = site.client.get(f"/v1/storyboards/{story_id}", headers=auth).json()
        assert story["status"] != "failed", story
        return story if story["status"] == "ready" else None

    return wait_until(done, timeout=DEADLINE_S, interval=0.3, what=f"storyboard {story_id} to be ready")


def frames_of(site: Site, auth: dict[str, str], video_id: str) -> int:
    return read_mp4(site.client.get(f"/v1/videos/{video_id}/content", headers=auth).content).num_frames


def test_a_three_shot_story_is_made_in_order_stitched_and_one_shot_regenerated(engine_site: Site) -> None:
    ann = engine_site.person("ann")
    auth = {"Authorization": f"Bearer {api_key_for(engine_site, ann.user_id)}"}
    created = engine_site.client.post("/v1/storyboards", headers=auth,
                                      json={"title": "The red ball", "size": "64x64", "shots": SHOTS})
    assert created.status_code == 200, created.text
    story = ready(engine_site, auth, created.json()["id"])
    shots = story["shots"]
    assert [s["status"] for s in shots] == ["completed"] * 3
    # The first shot is fresh; the others hold the tail of the one before (about a second) before their own.
    assert shots[0]["overlap_frames"] == 0 and all(s["overlap_frames"] > 0 for s in shots[1:])

    lengths = [frames_of(engine_site, auth, s["video_id"]) for s in shots]
    stitched = story["video"]
    assert stitched["status"] == "completed" and stitched["seconds"] == "7"
    total = frames_of(engine_site, auth, stitched["id"])
    assert total == sum(lengths) - sum(s["overlap_frames"] for s in shots[1:])
    fps = read_mp4(engine_site.client.get(f"/v1/videos/{stitched['id']}/content", headers=auth).content).fps
    assert abs(total / fps - 7.0) <= 1.5 / fps  # each shot adds its seconds

    # Each continuing shot was made from the shot before it (its lineage), and the story from all three.
    with engine_site.session() as session:
        rows = {v.id: v for v in session.scalars(select(Video).where(Video.user_id == ann.user_id))}
    assert rows[shots[1]["video_id"]].source_video_id == shots[0]["video_id"]
    assert rows[shots[2]["video_id"]].source_video_id == shots[1]["video_id"]
    assert rows[stitched["id"]].params["shots"] == [s["video_id"] for s in shots]

    # Regenerate shot 2: a new take for it alone, then a new stitch of takes 1, 2′ and 3.
    again = engine_site.client.post(f"/v1/storyboards/{story['id']}/shots/{shots[1]['id']}/regenerate",
                                    headers=auth, json={"prompt": "the red ball bounces three times"})
    assert again.status_code == 200, again.text
    assert again.json()["shots"][1]["status"] in ("queued", "in_progress", "completed")
    story2 = ready(engine_site, auth, story["id"])
    takes2 = [s["video_id"] for s in story2["shots"]]
    assert takes2[0] == shots[0]["video_id"] and takes2[2] == shots[2]["video_id"]
    assert takes2[1] != shots[1]["video_id"] and story2["shots"][1]["prompt"] == "the red ball bounces three times"
    assert story2["video"]["id"] != stitched["id"]
    with engine_site.session() as session:
        made = session.scalar(select(func.count()).select_from(Video).where(Video.kind == "shot",
                                                                            Video.user_id == ann.user_id))
    assert made == 4  # three shots and one new take: shots 1 and 3 were made once

    # The stitched download carries every shot as an ingredient of its signed credentials.
    c2pa = pytest.importorskip("c2pa")
    download = engine_site.client.get(f"/v1/videos/{story2['video']['id']}/content", headers=auth)
    with c2pa.Reader("video/mp4", io.BytesIO(download.content)) as reader:
        store = json.loads(reader.json())
    active = store["manifests"][store["active_manifest"]]
    facts = next(a["data"] for a in active["assertions"] if a["label"] == "org.duetto.clip")
    assert facts["story_shots"] == takes2
    assert len(active["ingredients"]) == 3


def test_story_limits_and_bad_input_are_refused_and_store_nothing(site: Site) -> None:
    bob = site.person("bob")
    auth = {"Authorization": f"Bearer {api_key_for(site, bob.user_id)}"}
    cases = {
        "too many shots": ({"shots": [{"prompt": "a ball", "seconds": 1}] * 7}, "at most 6 shots"),
        "too long a continuation": ({"shots": [{"prompt": "a ball", "seconds": 2}, {"prompt": "on", "seconds": 4}]},
                                    "continues the one before"),
        "no shots": ({"shots": []}, "shots"),
        "empty prompt": ({"shots": [{"prompt": "   "}]}, "prompt is empty"),
        "a broken image": ({"shots": [{"prompt": "a ball", "input_reference": {"image_url": "data:image/png;base64,AAAA"}}]},
                           "PNG, JPEG or WebP"),
        "an unknown field": ({"shots": [{"prompt": "a ball"}], "colour": "red"}, "colour"),
    }
    for name, (body, expected) in cases.items():
        response = site.client.post("/v1/storyboards", headers=auth, json=body)
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        assert expected in response.json()["error"]["message"] or expected in json.dumps(response.json()), (name, response.text)
    with site.session() as session:
        assert session.scalar(select(func.count()).select_from(Storyboard)) == 0
        assert session.scalar(select(func.count()).select_from(Video)) == 0
    assert site.client.get("/v1/storyboards/story_nope", headers=auth).status_code == 404


def test_someone_elses_story_is_not_found(site: Site) -> None:
    ann, eve = site.person("ann"), site.person("eve")
    ann_auth = {"Authorization": f"Bearer {api_key_for(site, ann.user_id)}"}
    eve_auth = {"Authorization": f"Bearer {api_key_for(site, eve.user_id)}"}
    story = site.client.post("/v1/storyboards", headers=ann_auth,
                             json={"shots": [{"prompt": "a ball", "seconds": 1}], "make": False}).json()
    assert story["status"] == "editing" and story["shots"][0]["status"] == "waiting"
    for method, path in (("get", ""), ("delete", ""), ("post", "/make")):
        response = getattr(site.client, method)(f"/v1/storyboards/{story['id']}{path}", headers=eve_auth)
        assert response.status_code == 404, (method, path, response.text)
    assert np.isclose(story["seconds"], 1.0)


def test_making_a_story_again_after_its_stitch_failed_stitches_it_again(engine_site: Site) -> None:
    ann = engine_site.person("ann")
    auth = {"Authorization": f"Bearer {api_key_for(engine_site, ann.user_id)}"}
    created = engine_site.client.post("/v1/storyboards", headers=auth,
                                      json={"size": "64x64", "shots": SHOTS[:2]}).json()
    story = ready(engine_site, auth, created["id"])
    with engine_site.session() as session:  # the stitch job failed (a worker's disk filled up, say)
        stitched = session.scalar(select(Video).where(Video.id == story["video"]["id"]))
        stitched.status, stitched.error_message = "failed", "no space left on device"
    failed = engine_site.client.get(f"/v1/storyboards/{story['id']}", headers=auth).json()
    assert failed["status"] == "failed" and "Stitching failed" in failed["error"]

    again = engine_site.client.post(f"/v1/storyboards/{story['id']}/make", headers=auth)
    assert again.status_code == 200, again.text
    remade = ready(engine_site, auth, story["id"])
    assert remade["video"]["id"] != story["video"]["id"]
    assert [s["video_id"] for s in remade["shots"]] == [s["video_id"] for s in story["shots"]]  # takes kept
