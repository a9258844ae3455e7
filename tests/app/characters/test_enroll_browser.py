"""Enrollment end to end in headless Chromium, its camera and microphone fed from files (Chromium's
file-backed fake capture): a person signs up and gets a challenge; the test reads the digits and the turn
off the page, renders a take that answers it (or gets one part wrong), and only then launches a browser
whose fake devices play that take, opens the challenge page and records. The right take becomes a
character; wrong digits, no face and the wrong turn each fail with their own message; re-sending a
recording for the spent challenge is refused. Screenshots go to test-artifacts/characters/."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from duetto.app.characters import enrollment
from duetto.app.core.db import session_scope
from duetto.app.main import create_app
from tests.app.characters import media
from tests.app.servers import ThreadedServer, embedded_settings

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BASE_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]
DESKTOP = {"viewport": {"width": 1100, "height": 900}}
PASSWORD = "correct horse battery"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "characters"
TIMEOUT_MS = 180_000  # ten seconds of recording, then the checks, on a busy two-core machine


@dataclass
class Site:
    url: str
    app: object

    def ledger(self, handle: str) -> list[tuple[str, str]]:
        """The person's consent ledger, also kept beside the screenshots (it holds every check's measures)."""
        from duetto.app.users import accounts

        with session_scope(self.app.state.services.sessions) as session:
            user_id = accounts.get_account(session=session, handle=handle).user_id
            entries = [(r.result, r.detail) for r in enrollment.consent_history(session=session, user_id=user_id)]
        (ARTIFACTS / f"ledger-{handle}.json").write_text(json.dumps(entries, indent=1))
        return entries


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Site]:
    settings = embedded_settings(tmp_path_factory.mktemp("enroll-e2e"), models_dir, web_signup_rate="1000/hour")
    app = create_app(settings)
    with ThreadedServer(app) as running:
        yield Site(url=running.url, app=app)


@pytest.fixture(scope="module")
def playwright(can_render: None) -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def plain_browser(playwright) -> Iterator[object]:  # noqa: ANN001
    """A browser without fake devices, for signing up and getting challenges."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BASE_ARGS, headless=True)
    yield browser
    browser.close()


@dataclass
class Issued:
    url: str
    digits: str
    turn: str
    cookies: dict  # the signed-in browser's storage state, for the recording browser


def get_challenge(browser, base: str, handle: str, *, signed_in: dict | None = None) -> Issued:  # noqa: ANN001
    """Sign up as `handle` (or reuse a signed-in browser's state) and get a challenge from the pages."""
    context = browser.new_context(storage_state=signed_in, **DESKTOP)
    page = context.new_page()
    if signed_in is None:
        page.goto(f"{base}/signup")
        page.fill("input[name=handle]", handle)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=birth_year]", "1990")
        page.click("button[type=submit]:has-text('Create account')")
        page.wait_for_url(f"{base}/")
    page.goto(f"{base}/characters")
    page.click("[data-testid=enroll-link]")
    page.wait_for_url(f"{base}/characters/enroll")
    page.screenshot(path=str(ARTIFACTS / "01-intro.png"))
    page.click("[data-testid=enroll-begin]")
    page.wait_for_url(f"{base}/characters/enroll/chal_*")
    issued = Issued(url=page.url, digits=page.inner_text("[data-testid=digits]").replace(" ", ""),
                    turn=page.get_attribute("[data-cue=turn]", "data-turn"), cookies=context.storage_state())
    context.close()
    assert len(issued.digits) in (4, 5, 6) and issued.turn in ("left", "right")
    return issued


def record(playwright, issued: Issued, take: media.Take, folder: Path, name: str):  # noqa: ANN001, ANN201
    """Launch Chromium playing `take` as its camera and microphone, record the challenge, return the page."""
    video, audio, _ = media.fake_capture_files(take, folder, name)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=BASE_ARGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}", f"--use-file-for-fake-audio-capture={audio}"])
    context = browser.new_context(storage_state=issued.cookies, **DESKTOP)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(issued.url)
    assert page.inner_text("[data-testid=digits]").replace(" ", "") == issued.digits
    page.check("[data-testid=consent]")
    page.click("[data-testid=enroll-start]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=enroll-status]').textContent.startsWith('Recording')")
    page.wait_for_timeout(2000)
    page.screenshot(path=str(ARTIFACTS / f"{name}-recording.png"))
    page.wait_for_function("() => document.querySelector('[data-testid=enroll-message]').textContent.length > 0",
                           timeout=TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / f"{name}-result.png"), full_page=True)
    return browser, context, page


def failed_check(page) -> str:  # noqa: ANN001
    return page.locator("[data-testid=enroll-checks] li.bad").first.get_attribute("data-check")


def test_the_right_take_enrolls_and_a_replay_is_refused(site: Site, playwright, plain_browser,  # noqa: ANN001
                                                        tmp_path: Path) -> None:
    issued = get_challenge(plain_browser, site.url, "pia_pass")
    browser, context, page = record(playwright, issued, media.Take(issued.digits, issued.turn), tmp_path, "pass")
    if any(detail.startswith("sync failed") for _, detail in site.ledger("pia_pass")):
        # Chromium's file-backed camera and microphone run on timers of their own: on a busy machine the
        # camera can stall and fall a second behind the sound, which the sync check rightly refuses. That
        # is the test rig, not the take, so one more take answers a new challenge.
        browser.close()
        issued = get_challenge(plain_browser, site.url, "pia_pass", signed_in=issued.cookies)
        browser, context, page = record(playwright, issued, media.Take(issued.digits, issued.turn), tmp_path,
                                        "pass")
    try:
        message = page.inner_text("[data-testid=enroll-message]")
        assert message == "You are enrolled: @pia_pass is ready.", site.ledger("pia_pass")
        assert page.locator("[data-testid=enroll-checks] li.ok").count() == 4
        page.click("[data-testid=enroll-character]")
        page.wait_for_url(f"{site.url}/characters/char_*")
        character_url = page.url
        still = page.evaluate("""async (url) => { const r = await fetch(url + '/still');
            return [r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength]; }""", character_url)
        assert still[0] == 200 and still[1] == "image/png" and still[2] > 5000
        voice = page.evaluate("async (url) => (await fetch(url + '/voice')).headers.get('content-type')", character_url)
        assert voice == "audio/wav"
        page.screenshot(path=str(ARTIFACTS / "pass-character.png"), full_page=True)

        # The same recording sent again for the same challenge: refused, whatever the recording says.
        token = page.get_attribute('meta[name="csrf-token"]', "content")
        recording = media.webm_bytes(media.render(media.Take(issued.digits, issued.turn)))
        replay = context.request.post(issued.url, headers={"accept": "application/json"}, multipart={
            "csrf_token": token, "consent": "yes", "name": "pia_pass",
            "recording": {"name": "enrollment.webm", "mimeType": "video/webm", "buffer": recording}})
        assert replay.status == 409
        assert replay.json()["message"] == "This enrollment challenge was already used; start the enrollment again."
        # The challenge page now says who they are enrolled as, with no way to record again.
        page.goto(issued.url)
        assert page.inner_text("[data-testid=enrolled]").startswith("You are enrolled as @pia_pass.")
        assert page.locator("[data-testid=enroll-start]").count() == 0
        page.screenshot(path=str(ARTIFACTS / "pass-enrolled.png"))
    finally:
        browser.close()
    # On a phone the pages fit the width (nothing to scroll sideways).
    phone = plain_browser.new_context(storage_state=issued.cookies, viewport={"width": 390, "height": 844},
                                      is_mobile=True, has_touch=True)
    small = phone.new_page()
    for path in ("/characters", "/characters/enroll", issued.url.removeprefix(site.url)):
        small.goto(site.url + path)
        assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    small.screenshot(path=str(ARTIFACTS / "phone-enrolled.png"))
    phone.close()
    ledger = site.ledger("pia_pass")
    assert [result for result, _ in ledger][-2:] == ["passed", "refused"] and len(ledger) <= 3
    assert "sync: pass" in ledger[-2][1] and "already used" in ledger[-1][1]


def _other_digits(digits: str) -> str:
    return digits[:-1] + str((int(digits[-1]) + 3) % 10)


@pytest.mark.parametrize("variant", ["wrong-digits", "no-face", "wrong-turn"])
def test_each_wrong_take_fails_with_its_own_message(site: Site, playwright, plain_browser, tmp_path: Path,  # noqa: ANN001
                                                    variant: str) -> None:
    handle = "pia_" + variant.replace("-", "_")
    issued = get_challenge(plain_browser, site.url, handle)
    other_turn = "right" if issued.turn == "left" else "left"
    take, check, expected = {
        "wrong-digits": (media.Take(_other_digits(issued.digits), issued.turn), "digits",
                         f"We heard {' '.join(_other_digits(issued.digits))}, not {' '.join(issued.digits)}. "
                         "Try again and read each digit clearly."),
        "no-face": (media.Take(issued.digits, issued.turn, face=False), "face",
                    "We could not see a face. Face the camera in good light, with your whole face in view, and "
                    "record again."),
        "wrong-turn": (media.Take(issued.digits, other_turn), "turn",
                       f"You turned your head to your {other_turn}, not your {issued.turn}. Try again and turn to "
                       f"your {issued.turn}."),
    }[variant]
    browser, _context, page = record(playwright, issued, take, tmp_path, variant)
    try:
        assert page.inner_text("[data-testid=enroll-message]") == expected
        assert failed_check(page) == check
        assert page.locator("[data-testid=enroll-character]").is_hidden()
        assert page.locator("[data-testid=enroll-retry]").is_visible()
    finally:
        browser.close()
    ledger = site.ledger(handle)
    assert len(ledger) == 1 and ledger[0][0] == "failed" and ledger[0][1].startswith(f"{check} failed")
