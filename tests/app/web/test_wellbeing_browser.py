"""In Chromium, on a phone (390×844) and a desktop: a parent invites a teen and the teen accepts, the parent
changes the teen's daily limit, the teen answers a check-in and the six-month question, and a comment filter
hides a comment (issue 20). Screenshots go to test-artifacts/web/wellbeing-*.png."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from duetto.app.db.models import Account
from duetto.app.flows import accounts as account_flows
from duetto.app.main import create_app
from duetto.app.social import engagement
from duetto.app.wellbeing import teens
from tests.app.servers import ThreadedServer, embedded_settings
from tests.app.sites import PASSWORD, Web
from tests.app.web.test_browser import DESKTOP, PHONE, TIMEOUT_MS, fits_width, shot
from tests.app.web.test_library_browser import sign_in

playwright_api = pytest.importorskip("playwright.sync_api")

TEEN_YEAR = dt.datetime.now(dt.UTC).year - 15


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[tuple[str, Web]]:
    settings = embedded_settings(tmp_path_factory.mktemp("wellbeing-e2e"), models_dir)
    app = create_app(settings)
    with ThreadedServer(app) as running:
        yield running.url, Web(client=None, app=app)  # type: ignore[arg-type] - only its database is used


def person(site: Web, handle: str, year: int, *, days_old: float = 0) -> Account:
    with site.session() as session:
        account = account_flows.sign_up(session=session, handle=handle, password=PASSWORD, birth_year=year)
        session.execute(update(Account).where(Account.user_id == account.user_id)
                        .values(created_at=time.time() - days_old * 86400))
        return account


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_family_check_ins_and_comment_filters(served: tuple[str, Web], chromium, clip_assets: dict[str, bytes],  # noqa: ANN001
                                              device: str) -> None:
    base, site = served
    parent = person(site, f"parent_{device}", 1985)
    teen = person(site, f"teen_{device}", TEEN_YEAR, days_old=190)
    rude = person(site, f"rude_{device}", 1990)
    post_id, _ = site.post(parent.user_id, "a red ball bounces on a drum", assets=clip_assets)
    with site.session() as session:
        engagement.add_comment(session=session, viewer_id=rude.user_id, post_id=post_id, body="what a meanie you are")
        engagement.add_comment(session=session, viewer_id=rude.user_id, post_id=post_id, body="nice drum")
    options = PHONE if device == "phone" else DESKTOP
    contexts = [chromium.new_context(**options) for _ in range(2)]
    try:
        for context in contexts:
            context.set_default_timeout(TIMEOUT_MS)
        mum, kid = (context.new_page() for context in contexts)
        sign_in(mum, base, parent.handle)
        sign_in(kid, base, teen.handle)

        # The parent asks to link.
        mum.goto(f"{base}/settings/family")
        mum.fill("[data-testid=invite-handle]", teen.handle)
        mum.click("[data-testid=invite]")
        mum.wait_for_selector("[data-testid=child-waiting]")
        assert fits_width(mum)
        shot(mum, f"wellbeing-{device}-invited")

        # The teen answers the check-in in the feed, then accepts the link.
        kid.goto(f"{base}/")
        kid.wait_for_selector("[data-testid=checkin]")
        shot(kid, f"wellbeing-{device}-checkin")
        kid.click("[data-testid=checkin-4]")
        kid.wait_for_url(f"{base}/?checked=1")
        assert kid.locator("[data-testid=checkin]").count() == 0
        kid.goto(f"{base}/settings/family")
        kid.wait_for_selector("[data-testid=invitation]")
        kid.click("[data-testid=accept-link]")
        kid.wait_for_selector("[data-testid=linked-parent]")
        assert "60 min" in kid.locator("[data-testid=teen-limit]").inner_text()
        assert fits_width(kid)
        shot(kid, f"wellbeing-{device}-linked")

        # The parent changes the daily limit; the teen sees it.
        mum.goto(f"{base}/settings/family")
        mum.wait_for_selector("[data-testid=controls-form]")
        mum.fill("[data-testid=control-limit]", "25")
        mum.click("[data-testid=save-controls]")
        mum.wait_for_selector("[data-testid=family-saved]")
        assert mum.locator("[data-testid=control-limit]").input_value() == "25"
        assert fits_width(mum)
        shot(mum, f"wellbeing-{device}-limit")
        with site.session() as session:
            assert teens.controls(session=session, user_id=teen.user_id).daily_limit_minutes == 25
        kid.goto(f"{base}/settings/family")
        assert "25 min" in kid.locator("[data-testid=teen-limit]").inner_text()

        # Six months in: the page and its one question.
        kid.goto(f"{base}/settings/wellbeing/six-months")
        assert "190 days" in kid.locator("[data-testid=six-days]").inner_text()
        kid.click("[data-testid=six-3]")
        kid.wait_for_selector("[data-testid=six-answer]")
        assert kid.locator("[data-testid=six-answer]").inner_text() == "Better"
        assert fits_width(kid)
        shot(kid, f"wellbeing-{device}-six-months")
        kid.goto(f"{base}/settings/wellbeing")
        assert "A bit better" in kid.locator("[data-testid=trend]").inner_text()

        # A comment filter hides a comment on the parent's post.
        mum.goto(f"{base}/p/{post_id}")
        assert mum.locator("[data-testid=comment]", has_text="meanie").count() == 1
        mum.goto(f"{base}/settings/safety")
        mum.fill("[data-testid=comment-filter]", "meanie")
        mum.click("[data-testid=save-safety]")
        mum.wait_for_url(f"{base}/settings/safety?saved=1")
        mum.goto(f"{base}/p/{post_id}")
        mum.wait_for_selector("[data-testid=comments-filtered]")
        assert mum.locator("[data-testid=comment]", has_text="meanie").count() == 0
        assert mum.locator("[data-testid=comment]", has_text="nice drum").count() == 1
        mum.locator("#comments").scroll_into_view_if_needed()
        assert fits_width(mum)
        shot(mum, f"wellbeing-{device}-filtered")
    finally:
        for context in contexts:
            context.close()
