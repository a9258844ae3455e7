"""Drafts say what each one is and where its job stands: the prompt, the age, and the stage (queued with its
place in line, denoising, decoding, sound, marking), a failure with its reason; the worker reports those
stages as the engine reaches them (issue 17, item 3)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
from sqlalchemy import select, update

from duetto.app.db.models import Video
from duetto.app.jobs.generator import EngineGenerator, render_clip
from duetto.app.jobs.runner import JobContext, run_video_job
from duetto.app.videos import stages
from duetto.app.videos.generation import GenerationRequest
from duetto.clip import Clip
from tests.app.sites import Site


def _set(site: Site, video_id: str, **values: object) -> None:
    with site.session() as session:
        session.execute(update(Video).where(Video.id == video_id).values(**values))


def test_drafts_tiles_show_prompt_age_and_stage(site: Site, clip_assets: dict[str, bytes]) -> None:
    someone, me = site.person(), site.person()
    site.video(someone.user_id, "somebody else's job, queued first", assets={}, status="queued")
    rows = {
        "queued": ("a red ball bounces", {}),
        "queued_later": ("a blue box slides", {}),
        "denoising": ("a green cube rolls", {"status": "in_progress", "progress": 40}),
        "decoding": ("a yellow toy sings", {"status": "in_progress", "progress": stages.DECODING}),
        "sound": ("a purple hat spins", {"status": "in_progress", "progress": stages.SOUND}),
        "marking": ("a white ball falls", {"status": "in_progress", "progress": stages.MARKING}),
        "failed": ("a box that failed", {"status": "failed", "error_code": "invalid_request",
                                         "error_message": "the prompt is 247 tokens long; shorten it"}),
    }
    ids = {}
    for key, (prompt, values) in rows.items():
        ids[key] = site.video(me.user_id, f"{prompt} Audio: quiet room", assets={}, status="queued")
        if values:
            _set(site, ids[key], **values)
    _set(site, ids["queued"], created_at=time.time() - 3 * 3600 - 60)
    done = site.video(me.user_id, "a finished clip Audio: boings", assets=clip_assets)

    page = site.browser_for(me).get("/drafts").text
    tiles = {video_id: page[page.index(f'href="/drafts/{video_id}"'):] for video_id in [*ids.values(), done]}
    tile = {k: t[: t.index("</a>")] for k, t in tiles.items()}
    expected = {"queued": "Queued · 2nd in line", "queued_later": "Queued · 3rd in line",
                "denoising": "Denoising · 40%", "decoding": "Decoding the picture", "sound": "Making the sound",
                "marking": "Marking and saving", "failed": "Failed"}
    for key, label in expected.items():
        html = tile[ids[key]]
        assert f'data-testid="draft-stage">{label}</span>' in html, (key, html)
        assert rows[key][0] in html and "Audio:" not in html  # the picture's words, not the sound's
    assert 'data-testid="draft-age">3h ago' in tile[ids["queued"]]
    assert re.search(r'data-testid="draft-age">(just now|\d+m ago)<', tile[ids["denoising"]])
    assert "the prompt is 247 tokens long; shorten it" in tile[ids["failed"]]
    assert "a finished clip" in tile[done] and "Draft" in tile[done]


def test_the_draft_page_and_its_events_name_the_stage(site: Site) -> None:
    me = site.person()
    video_id = site.video(me.user_id, "a red ball bounces", assets={}, status="queued")
    browser = site.browser_for(me)
    page = browser.get(f"/drafts/{video_id}").text
    assert 'data-testid="stage">Queued · next in line</p>' in page
    _set(site, video_id, status="failed", error_code="invalid_request", error_message="No sound for this.")
    with browser.client.stream("GET", f"/drafts/{video_id}/events") as stream:
        data = [json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:")]
    assert data[-1] == {"status": "failed", "progress": 0, "error": "No sound for this.", "stage": "failed",
                        "label": "Failed"}


def test_the_job_records_each_stage_as_the_generator_reports_it(site: Site) -> None:
    """The runner: denoising steps, then decoding and sound as the generator says, then marking."""
    me = site.person()
    video_id = site.request(me, "a red ball bounces").id
    seen: list[str] = []

    def now() -> str:
        with site.session() as session:
            return stages.stage_of(session.scalar(select(Video).where(Video.id == video_id))).key

    def generate(request: GenerationRequest, progress) -> Clip:  # noqa: ANN001
        progress(1, 2)
        seen.append(now())
        progress.stage("decoding")
        seen.append(now())
        progress.stage("sound")
        seen.append(now())
        return Clip(frames=np.zeros((9, 64, 64, 3), np.uint8), audio=np.zeros(16000, np.float32), fps=8.0,
                    sample_rate=16000)

    def render(clip: Clip) -> dict[str, bytes]:
        seen.append(now())
        return render_clip(clip)

    services = site.services
    ctx = JobContext(settings=services.settings, sessions=services.sessions, storage=services.storage,
                     generate=generate, render=render, models_dir=services.settings.models_dir)
    assert run_video_job(video_id, ctx) == "completed"
    assert seen == ["denoising", "decoding", "sound", "marking"]


def test_the_engine_generator_reports_decoding_and_sound(models_dir: Path) -> None:
    """With the real (tiny) pipeline: every step, then the picture's decoding, then the sound's."""
    calls: list[object] = []

    class Recorder:
        def __call__(self, step: int, total: int) -> None:
            calls.append((step, total))

        def stage(self, name: str) -> None:
            calls.append(name)

    generator = EngineGenerator()
    request = GenerationRequest(kind="create", model_path=models_dir / "toybox-v2", prompt="a red ball bounces",
                                seconds=1.0, size="64x64", params={"steps": 2, "seed": 1})
    clip = generator(request, Recorder())
    assert clip.num_frames > 0
    assert calls == [(1, 2), (2, 2), "decoding", "sound"]
    assert generator.pipeline(request.model_path).name == "toybox-v2"  # errors name the folder
