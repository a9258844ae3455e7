"""The README's "First moderator" walkthrough, as written (issue 17, acceptance): its commands run in a shell
from the repository root (`duetto serve` until the test ends), then its browser steps run in Chromium: bob
reports @alice on a 390×844 phone, alice resolves the report at /mod on a desktop. Screenshots go to
test-artifacts/web/readme-*.png."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.app.servers import free_port, wait_until
from tests.app.sites import ARTIFACTS

playwright_api = pytest.importorskip("playwright.sync_api")
ROOT = Path(__file__).resolve().parents[3]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PASSWORD = "a password for the readme"


def walkthrough() -> tuple[list[str], str]:
    """The section's shell lines (comments dropped) and its prose."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## First moderator.*?(?=^## )", text, re.S | re.M)
    assert section, "README.md has no 'First moderator' section"
    block = re.search(r"```bash\n(.*?)```", section.group(0), re.S)
    assert block, "the section has no bash block"
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line], section.group(0)


@pytest.fixture
def shell_env(tmp_path: Path, models_dir: Path) -> dict[str, str]:
    """Where the walkthrough's server keeps its data, and a free port: set in the environment, so that the
    commands run exactly as the README prints them."""
    return {**os.environ, "DUETTO_DATA_DIR": str(tmp_path / "data"), "DUETTO_MODELS_DIR": str(models_dir),
            "DUETTO_PORT": str(free_port()), "DUETTO_EMBEDDED_WORKER": "thread", "DUETTO_ADMIN_HANDLES": ""}


def run_line(line: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    # Each line after the first runs in the environment the first one activated.
    return subprocess.run(["bash", "-c", f". .venv/bin/activate && {line}"], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=300)



def test_the_readme_walkthrough_ends_with_a_moderator_resolving_a_report(shell_env: dict[str, str],
                                                                         chromium) -> None:  # noqa: ANN001
    if not (ROOT / ".venv" / "bin" / "activate").exists():
        pytest.skip("no .venv in the repository: `make setup` makes it (make test and .ci/run do)")
    lines, prose = walkthrough()
    assert lines[0] == "make setup && . .venv/bin/activate" and lines[-1] == "duetto serve"
    # 1. Set up. `make setup` is a no-op once .venv is installed (as under `make test`); when pyproject.toml is
    #    newer it would reinstall, so then only its plan is checked (`make -n`).
    up_to_date = subprocess.run(["make", "-q", "setup"], cwd=ROOT, capture_output=True).returncode == 0
    first = lines[0] if up_to_date else "make -n setup >/dev/null && . .venv/bin/activate"
    assert subprocess.run(["bash", "-c", first], cwd=ROOT, env=shell_env, timeout=600).returncode == 0
    # 2. The users, each password typed (piped) the way the comment says.
    for line in lines[1:-1]:
        done = run_line(line, shell_env, stdin=f"{PASSWORD}\n" if "--password" in line else "")
        assert done.returncode == 0, f"{line!r} failed:\n{done.stdout}\n{done.stderr}"
    # 3. The server, until the test ends.
    base = f"http://127.0.0.1:{shell_env['DUETTO_PORT']}"
    log = Path(shell_env["DUETTO_DATA_DIR"]).parent / "serve.log"
    server = subprocess.Popen(["bash", "-c", f". .venv/bin/activate && exec {lines[-1]}"], cwd=ROOT, env=shell_env,
                              stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def up() -> bool:
            assert server.poll() is None, f"`{lines[-1]}` exited: {log.read_text()[-2000:]}"
            try:
                return httpx.get(base + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout=180, interval=0.2, what="duetto serve")
        _browser_steps(chromium, base, prose)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)


def _sign_in(page, base: str, handle: str) -> None:  # noqa: ANN001 - a Playwright page
    page.goto(f"{base}/signin")
    page.fill("input[name=handle]", handle)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]:has-text('Sign in')")
    page.wait_for_url(f"{base}/")


def _browser_steps(chromium, base: str, prose: str) -> None:  # noqa: ANN001
    assert "Sign in as bob" in prose and "/@alice" in prose and "**Dismiss**" in prose
    # Bob, on a phone: alice's profile, Report, a reason, Send.
    phone = chromium.new_context(**PHONE)
    page = phone.new_page()
    _sign_in(page, base, "bob")
    page.goto(f"{base}/@alice")
    page.click("a:has-text('Report')")
    page.check("input[name=reason] >> nth=0")
    page.fill("textarea[name=details]", "Testing the README walkthrough.")
    page.screenshot(path=str(ARTIFACTS / "readme-report-phone.png"))
    page.click("[data-testid=submit-report]")
    page.wait_for_load_state()
    assert "/report" in page.url and page.locator("text=Report").count()
    assert page.locator("nav.topnav a:has-text('Reports')").count() == 0  # bob is no moderator
    phone.close()

    # Alice, on a desktop: Reports in the top bar, bob's report, Dismiss.
    desk = chromium.new_context(**DESKTOP)
    page = desk.new_page()
    _sign_in(page, base, "alice")
    page.click("nav.topnav a:has-text('Reports')")
    page.wait_for_url(f"{base}/mod")
    item = page.locator("[data-testid=report-item]")
    assert item.count() == 1 and "@bob" in item.inner_text() and "@alice" in item.inner_text()
    assert "Testing the README walkthrough." in item.inner_text()
    page.screenshot(path=str(ARTIFACTS / "readme-mod-desktop.png"))
    page.click("[data-testid=dismiss]")
    page.wait_for_url(f"{base}/mod")
    assert page.locator("[data-testid=report-item]").count() == 0
    page.goto(f"{base}/mod?status=dismissed")
    assert page.locator("[data-testid=report-item]").count() == 1
    page.screenshot(path=str(ARTIFACTS / "readme-mod-dismissed-desktop.png"))
    # The same queue on a phone: reachable and nothing sticks out sideways.
    phone = chromium.new_context(**PHONE, storage_state=desk.storage_state())
    page = phone.new_page()
    assert page.goto(f"{base}/mod").status == 200
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=str(ARTIFACTS / "readme-mod-phone.png"))
    phone.close()
    desk.close()
