"""In Chromium, on a phone (390×844) and a desktop: the create form counts tokens as you type and blocks a prompt
the model cannot read (issue 17, item 1); drafts tiles show prompt, age and stage, and a job that fails while
its page is open turns into the failed page at once, with its reason and without a reload (item 3).
Screenshots go to test-artifacts/web/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from duetto.app.db.models import Video
from duetto.app.main import create_app
from duetto.app.videos import stages
from tests.app.servers import ThreadedServer, embedded_settings
from tests.app.sites import PASSWORD, Web
from tests.app.web.test_browser import DESKTOP, PHONE, TIMEOUT_MS, fits_width, shot

playwright_api = pytest.importorskip("playwright.sync_api")
LONG = "a small red rubber ball bounces on the left of a room and a blue box slides to the right. " * 8


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[tuple[str, Web]]:
    settings = embedded_settings(tmp_path_factory.mktemp("drafts-e2e"), models_dir)
    app = create_app(settings)
    with ThreadedServer(app) as running:
        yield running.url, Web(client=None, app=app)  # type: ignore[arg-type] - only its database is used



def _set(site: Web, video_id: str, **values: object) -> None:
    with site.session() as session:
        session.execute(update(Video).where(Video.id == video_id).values(**values))


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_token_counter_drafts_stages_and_a_failure_in_place(served: tuple[str, Web], chromium,  # noqa: ANN001
                                                            clip_assets: dict[str, bytes], device: str) -> None:
    base, site = served
    handle = f"drafts_{device}"
    account = site.account(handle, display_name=device.title())
    context = chromium.new_context(**(PHONE if device == "phone" else DESKTOP))
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(f"{base}/signin")
        page.fill("input[name=handle]", handle)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        # Item 1: the counter follows the typing; over the limit it says so and the form will not submit.
        page.goto(f"{base}/create")
        counter = page.locator("[data-testid=token-count]")
        assert "0 / 128 tokens" in counter.inner_text()
        page.fill("textarea[name=prompt]", "a small red rubber ball bounces")
        page.wait_for_selector("[data-testid=token-count][data-tokens]:not(.over)")
        assert " / 128 tokens" in counter.inner_text()
        page.fill("textarea[name=prompt]", LONG)
        page.wait_for_selector("[data-testid=token-count].over")
        assert "Too long:" in counter.inner_text() and "toybox-v2 reads at most 128" in counter.inner_text()
        assert page.evaluate("document.querySelector('textarea[name=prompt]').validity.customError")
        shot(page, f"create-tokens-over-{device}")
        page.click("#create-form button[type=submit]")
        assert page.url == f"{base}/create"  # blocked in the browser: no job, nothing to fail later
        assert fits_width(page)

        # Item 3: tiles with prompt, age and stage.
        rows = [("a red ball bounces on the left", {}),
                ("a blue box slides to the right and hits the wall", {"status": "in_progress", "progress": 40}),
                ("a yellow toy with a purple hat sings", {"status": "in_progress", "progress": stages.SOUND}),
                ("a green cube rolls off the table", {"status": "failed", "error_code": "invalid_request",
                                                      "error_message": "size 720x720 is not supported by toybox-v2"})]
        ids = []
        for prompt, values in rows:
            ids.append(site.video(account.user_id, f"{prompt} Audio: quiet room", assets={}, status="queued"))
            if values:
                _set(site, ids[-1], **values)
        _set(site, ids[0], created_at=time.time() - 2 * 3600)
        site.video(account.user_id, "a finished clip of a bouncing ball Audio: boings", assets=clip_assets)
        page.goto(f"{base}/drafts")
        stage_of = {i: page.locator(f"a[href='/drafts/{i}'] [data-testid=draft-stage]").inner_text() for i in ids}
        assert stage_of[ids[0]].startswith("Queued ·") and stage_of[ids[0]].endswith("in line")
        assert stage_of[ids[1]] == "Denoising · 40%" and stage_of[ids[2]] == "Making the sound"
        assert stage_of[ids[3]] == "Failed"
        assert "not supported" in page.locator(f"a[href='/drafts/{ids[3]}'] [data-testid=draft-reason]").inner_text()
        assert page.locator(f"a[href='/drafts/{ids[0]}'] [data-testid=draft-age]").inner_text() == "2h ago"
        assert page.locator(f"a[href='/drafts/{ids[1]}'] [data-testid=draft-prompt]").is_visible()
        assert fits_width(page)
        shot(page, f"drafts-stages-{device}")

        # A job that fails while its page is open: the failed page at once, with the reason, no reload.
        page.goto(f"{base}/drafts/{ids[0]}")
        assert page.locator("[data-testid=stage]").inner_text().startswith("Queued ·")
        page.wait_for_selector("[data-testid=progress-box][data-stage=queued]")
        page.evaluate("window.stillThisPage = true")
        _set(site, ids[0], status="failed", error_code="invalid_request",
             error_message="the prompt is 247 tokens long; this model reads at most 192 — shorten it")
        page.wait_for_selector("[data-testid=progress-box][data-status=failed]")
        assert page.evaluate("window.stillThisPage === true")  # the same page: it did not reload
        assert page.locator("h1").inner_text() == "This one didn't work"
        assert "247 tokens" in page.locator("[data-testid=error]").inner_text()
        assert page.locator("progress").count() == 0 and page.get_by_text("Making your video").count() == 0
        assert page.locator("a:has-text('Try again')").get_attribute("href").startswith("/create?prompt=a%20red%20ball")
        assert fits_width(page)
        shot(page, f"draft-failed-in-place-{device}")
    finally:
        context.close()
