"""The enrollment pages and upload without a browser: signing in first, issuing a challenge, what leaves a
challenge unspent (no consent, a bad name, no recording) and what spends it (any recording, readable or
not), other people's challenges, and the consent ledger entry of each answer."""

from __future__ import annotations

import re

from duetto.app.characters import enrollment
from duetto.app.db.models import EnrollmentChallenge
from tests.app.sites import Browser, Web

WEBM = {"recording": ("enrollment.webm", b"\x1aE\xdf\xa3 not really a recording", "video/webm")}


def signed_in(web: Web, handle: str) -> tuple[Browser, str]:
    user_id = web.account(handle).user_id
    browser = web.browser()
    browser.sign_in(handle)
    return browser, user_id


def issue(browser: Browser) -> str:
    response = browser.submit("/characters/enroll", page="/characters/enroll")
    assert response.status_code == 303
    return response.headers["location"]


def test_enrollment_needs_a_signed_in_person(web: Web) -> None:
    response = web.browser().client.get("/characters/enroll", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin?next=/characters/enroll"


def test_the_challenge_page_shows_the_issued_digits_and_turn(web: Web) -> None:
    browser, user_id = signed_in(web, "ana")
    url = issue(browser)
    page = browser.get(url)
    with web.session() as session:
        challenge = session.get(EnrollmentChallenge, url.rsplit("/", 1)[1])
        assert challenge.user_id == user_id
        shown = re.search(r'data-testid="digits">([0-9 ]+)<', page.text).group(1)
        assert shown == " ".join(challenge.digits)
        assert f'data-turn="{challenge.turn}"' in page.text
        assert f"to your {challenge.turn}, and back" in page.text
    # Someone else's challenge does not exist for them.
    other, _ = signed_in(web, "ben")
    assert other.get(url).status_code == 404


def test_form_problems_leave_the_challenge_unspent(web: Web) -> None:
    browser, user_id = signed_in(web, "cai")
    url = issue(browser)
    headers = {"accept": "application/json"}
    no_consent = browser.submit(url, {"name": "cai"}, files=WEBM, headers=headers)
    assert no_consent.status_code == 400 and no_consent.json()["message"].startswith("Tick the box")
    bad_name = browser.submit(url, {"name": "9lives", "consent": "yes"}, files=WEBM, headers=headers)
    assert bad_name.status_code == 400 and "character name must be" in bad_name.json()["message"]
    no_file = browser.submit(url, {"name": "cai", "consent": "yes"}, headers=headers)
    assert no_file.status_code == 400 and no_file.json()["message"].startswith("No recording arrived")
    with web.session() as session:
        assert session.get(EnrollmentChallenge, url.rsplit("/", 1)[1]).used_at is None
        assert enrollment.consent_history(session=session, user_id=user_id) == []


def test_any_recording_spends_the_challenge_and_is_written_to_the_ledger(web: Web) -> None:
    browser, user_id = signed_in(web, "dee")
    url = issue(browser)
    unreadable = browser.submit(url, {"name": "dee", "consent": "yes"}, files=WEBM,
                                headers={"accept": "application/json"})
    assert unreadable.status_code == 422
    assert unreadable.json() == {"passed": False, "message": "The recording could not be read as a video; record "
                                 "again.", "checks": [], "character": None}
    # Sent again (a form without JavaScript this time): the challenge is spent.
    again = browser.submit(url, {"name": "dee", "consent": "yes"}, files=WEBM)
    assert again.status_code == 409
    assert "This enrollment challenge was already used; start the enrollment again." in again.text
    assert "Try again with a new challenge" in again.text
    # A made-up challenge id is refused too, and still recorded.
    made_up = browser.submit("/characters/enroll/chal_madeup", {"name": "dee", "consent": "yes"}, files=WEBM,
                             headers={"accept": "application/json"})
    assert made_up.status_code == 409 and "unknown" in made_up.json()["message"]
    with web.session() as session:
        challenge = session.get(EnrollmentChallenge, url.rsplit("/", 1)[1])
        ledger = enrollment.consent_history(session=session, user_id=user_id)
        assert [(r.result, r.challenge_hash) for r in ledger[:2]] == [
            ("failed", enrollment.challenge_hash(challenge)), ("refused", enrollment.challenge_hash(challenge))]
        assert ledger[0].detail.startswith("recording: ") and ledger[2].result == "refused"
        assert ledger[2].challenge_hash != ledger[0].challenge_hash
    assert "This challenge was already used." in browser.get(url).text
