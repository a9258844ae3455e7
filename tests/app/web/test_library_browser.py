"""In Chromium, on a phone (390×844) and a desktop: from the account settings, "Download my library" shows the
export's progress, the page turns into a Download link by itself when the job ends, and the file downloaded is
a zip with its manifest (issue 18). Without scripts the page refreshes itself to the same end. Screenshots go to
test-artifacts/web/library-*.png."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from duetto.app.main import create_app
from tests.app.servers import ThreadedServer, embedded_settings
from tests.app.sites import PASSWORD, Web
from tests.app.web.test_browser import DESKTOP, PHONE, TIMEOUT_MS, fits_width, shot

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[tuple[str, Web]]:
    settings = embedded_settings(tmp_path_factory.mktemp("library-e2e"), models_dir)
    app = create_app(settings)
    with ThreadedServer(app) as running:
        yield running.url, Web(client=None, app=app)  # type: ignore[arg-type] - only its database is used


class HeldExports:
    """Holds the exports the pages start until the test lets them run, so the progress is seen for sure."""

    def __init__(self, site: Web) -> None:
        self.jobs = site.services.library
        self.held: list[str] = []

    def __enter__(self) -> HeldExports:
        self.jobs.submit = self.held.append  # an instance attribute over the method, removed on exit
        return self

    def release(self) -> None:
        del self.jobs.submit
        for transfer_id in self.held:
            self.jobs.submit(transfer_id)

    def __exit__(self, *exc: object) -> None:
        if "submit" in vars(self.jobs):
            del self.jobs.submit


def sign_in(page, base: str, handle: str) -> None:  # noqa: ANN001 - a Playwright page
    page.goto(f"{base}/signin")
    page.fill("input[name=handle]", handle)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def a_small_library(site: Web, handle: str, assets: dict[str, bytes]) -> None:
    account = site.account(handle, display_name=handle.title())
    site.post(account.user_id, "a green ball falls onto a drum", "first try", assets=assets)
    site.video(account.user_id, "a blue box slides on a wooden floor Audio: a soft scrape", assets=assets)


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_download_my_library_from_the_settings(served: tuple[str, Web], chromium, clip_assets: dict[str, bytes],  # noqa: ANN001
                                               device: str, tmp_path: Path) -> None:
    base, site = served
    handle = f"lib_{device}"
    a_small_library(site, handle, clip_assets)
    context = chromium.new_context(**(PHONE if device == "phone" else DESKTOP), accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        sign_in(page, base, handle)
        page.goto(f"{base}/settings/account")
        section = page.locator("#library")
        section.scroll_into_view_if_needed()
        assert page.locator("[data-testid=export-first]").get_attribute("href") == "/settings/library"
        assert fits_width(page)
        shot(page, f"library-{device}-settings")

        with HeldExports(site) as exports:
            section.locator("[data-testid=start-export]").click()
            page.wait_for_url(f"{base}/settings/library/exports/export_*")
            box = page.locator("[data-testid=export-progress]")
            assert box.get_attribute("data-status") == "queued"
            assert page.locator("[data-testid=export-stage]").inner_text() == "Waiting to start…"
            assert page.locator("[data-testid=export-bar]").is_visible()
            assert fits_width(page)
            shot(page, f"library-{device}-progress")
            page.evaluate("window.stillThisPage = true")
            exports.release()
            # The script polls, and once the job has ended loads the page that has the link.
            download_link = page.locator("[data-testid=download-export]")
            download_link.wait_for()
        assert page.evaluate("window.stillThisPage === undefined")  # it loaded the finished page itself
        assert "Ready: 2 videos" in page.locator("[data-testid=export-ready]").inner_text()
        assert "Only you can download it, until" in page.locator("[data-testid=export-expires]").inner_text()
        assert fits_width(page)
        shot(page, f"library-{device}-ready")

        with page.expect_download() as info:
            download_link.click()
        download = info.value
        export_id = page.url.rsplit("/", 1)[1]
        assert download.suggested_filename == f"duetto-library-{export_id}.zip"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        with zipfile.ZipFile(saved) as archive:
            manifest = json.loads(archive.read("manifest.json"))
            assert archive.testzip() is None
        assert manifest["format"] == "duetto-library" and manifest["account"]["handle"] == handle
        assert len(manifest["videos"]) == 2
    finally:
        context.close()


def test_without_scripts_the_page_refreshes_to_the_download(served: tuple[str, Web], chromium,  # noqa: ANN001
                                                           clip_assets: dict[str, bytes]) -> None:
    base, site = served
    a_small_library(site, "lib_noscript", clip_assets)
    context = chromium.new_context(**DESKTOP, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        sign_in(page, base, "lib_noscript")
        page.goto(f"{base}/settings/library")
        with HeldExports(site) as exports:
            page.click("[data-testid=start-export]")
            page.wait_for_url(f"{base}/settings/library/exports/export_*")
            assert page.locator("[data-testid=export-progress] noscript").count() == 1
            exports.release()
            page.locator("[data-testid=download-export]").wait_for()  # after a refresh or several
        shot(page, "library-desktop-noscript-ready")
    finally:
        context.close()
