"""Glyphs and wording (issue 17, item 8): only characters every font has (icons are inline SVG, so "＋ Create"
is never an empty box), counts in the right number ("1 post"), the Characters header on one line at
390 px, and a favicon, so no page load asks for a missing /favicon.ico. The browser part runs in Chromium
on a phone (390×844) and a desktop, with screenshots under test-artifacts/web/."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from duetto.app.main import create_app
from tests.app.servers import ThreadedServer, embedded_settings
from tests.app.sites import ARTIFACTS, PASSWORD, Web, handle

WEB = resources.files("duetto.app.web")

# Characters outside ASCII that the pages may use: all in WGL4, the glyph list every Windows, Apple,
# Android and DejaVu/Liberation text font covers. Anything else (＋ U+FF0B, ⟲, ◐, ✓) is an icon of
# _icons.html or a shape drawn in CSS.
EVERY_FONT_HAS = set("·“”‘’…–—←→×♥é")


def test_pages_use_only_glyphs_every_font_has() -> None:
    found = []
    for folder, suffixes in (("templates", (".html",)), ("static", (".js", ".css"))):
        for path in (Path(str(WEB)) / folder).iterdir():
            if path.suffix not in suffixes:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                found += [f"{path.name}:{number}: {ch!r} U+{ord(ch):04X}" for ch in line
                          if ord(ch) > 127 and ch not in EVERY_FONT_HAS]
    assert not found, "glyphs some fonts lack (use an icon from _icons.html):\n" + "\n".join(found)


def test_counts_take_the_right_number(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann, bob = web.account(handle()), web.account(handle())
    browser = web.browser()
    browser.sign_in(bob.handle, PASSWORD)
    one = browser.get(f"/@{ann.handle}").text
    assert '0</b> posts' in one and '0</b> followers' in one
    web.post(ann.user_id, "a red ball bounces", assets=clip_assets)
    browser.submit(f"/@{ann.handle}/follow", page=f"/@{ann.handle}")
    page = browser.get(f"/@{ann.handle}").text
    assert '<b data-testid="post-count">1</b> post ·' in page and '1</b> follower</a>' in page
    assert "1 posts" not in page and "1</b> posts" not in page


def test_the_favicon_is_served(web: Web) -> None:
    response = web.client.get("/favicon.ico")
    assert response.status_code == 200 and response.headers["content-type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


# --- in Chromium -------------------------------------------------------------------------------------------

playwright_api = pytest.importorskip("playwright.sync_api")
SIZES = {"phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                   "device_scale_factor": 2},
         "desktop": {"viewport": {"width": 1280, "height": 800}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[str]:
    settings = embedded_settings(tmp_path_factory.mktemp("glyphs"), models_dir)
    with ThreadedServer(create_app(settings)) as running:
        yield running.url



@pytest.mark.parametrize("size", list(SIZES))
def test_headers_icons_and_no_missing_files_in_chromium(server: str, chromium, size: str) -> None:  # noqa: ANN001
    context = chromium.new_context(**SIZES[size])
    page = context.new_page()
    missing: list[str] = []
    page.on("response", lambda r: missing.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        name = handle()
        page.goto(f"{server}/signup")
        page.fill("input[name=handle]", name)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=birth_year]", "1990")
        page.click("button[type=submit]:has-text('Create account')")
        page.wait_for_url(f"{server}/")

        page.goto(f"{server}/characters")
        head = page.locator(".page-head")
        # One line: the title is one line high and the buttons sit beside it, not under it.
        lines = page.evaluate("""() => {
            const h1 = document.querySelector('.page-head h1');
            const range = document.createRange(); range.selectNodeContents(h1);
            const buttons = [...document.querySelectorAll('.page-head .button')].map(b => b.getBoundingClientRect());
            const title = h1.getBoundingClientRect();
            return {titleLines: range.getClientRects().length,
                    buttonLines: buttons.map(b => Math.round(b.height)),
                    besideTitle: buttons.every(b => b.top < title.bottom && b.bottom > title.top),
                    overflow: document.documentElement.scrollWidth > window.innerWidth + 1
                              || buttons.some(b => b.right > window.innerWidth)};
        }""")
        assert lines["titleLines"] == 1 and lines["besideTitle"] and not lines["overflow"], lines
        assert all(height <= 40 for height in lines["buttonLines"]), lines  # no button text wraps either
        new_toy = page.get_by_test_id("new-toy")
        assert new_toy.locator("svg").count() == 1 and new_toy.inner_text().strip() == "New toy"
        head.screenshot(path=str(ARTIFACTS / f"glyphs-characters-head-{size}.png"))
        page.screenshot(path=str(ARTIFACTS / f"glyphs-characters-{size}.png"))

        page.goto(f"{server}/drafts")
        create = page.locator("a.button[href='/create']").first
        assert create.locator("svg").count() == 1 and "＋" not in create.inner_text()
        page.screenshot(path=str(ARTIFACTS / f"glyphs-drafts-{size}.png"))

        page.goto(f"{server}/@{name}")
        assert "0 posts" in page.inner_text(".stats")
        page.screenshot(path=str(ARTIFACTS / f"glyphs-profile-{size}.png"))

        # The favicon a browser asks for on its own is there.
        assert page.request.get(f"{server}/favicon.ico").status == 200
        assert not missing, missing
    finally:
        context.close()
