"""Check-ins: when the feed asks, what an answer does, who can read it, the six-months page, and the
operators' aggregate that never names anyone."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from duetto.app.cli import studio_app
from duetto.app.db.models import Account, CheckIn
from duetto.app.feed import service as feed
from duetto.app.wellbeing import checkins
from tests.app.sites import Site

DAY = 86400.0


def _age(site: Site, account: Account, days: float) -> None:
    with site.session() as session:
        session.execute(update(Account).where(Account.user_id == account.user_id)
                        .values(created_at=time.time() - days * DAY))


def test_the_question_comes_at_most_weekly_never_at_first_and_never_when_turned_off(site: Site) -> None:
    person = site.person("p")
    now = time.time()
    with site.session() as session:
        assert not checkins.due(session=session, user_id=person.user_id)  # a new account
    _age(site, person, 4)
    browser = site.browser_for(person)
    assert 'data-testid="checkin"' in browser.get("/").text
    assert browser.submit("/checkins", {"score": "4"}, page="/").status_code == 303
    assert 'data-testid="checkin"' not in browser.get("/").text
    with site.session() as session:
        assert not checkins.due(session=session, user_id=person.user_id, now=now + 6 * DAY)
        assert checkins.due(session=session, user_id=person.user_id, now=now + 7.1 * DAY)
        checkins.dismiss(session=session, user_id=person.user_id, now=now + 7.1 * DAY)  # "not now" waits a week too
        assert not checkins.due(session=session, user_id=person.user_id, now=now + 10 * DAY)
    assert browser.submit("/settings/wellbeing", {}, page="/settings/wellbeing").status_code == 303  # turned off
    with site.session() as session:
        assert not checkins.due(session=session, user_id=person.user_id, now=now + 60 * DAY)
    bad = browser.submit("/checkins", {"score": "9"}, page="/")
    assert bad.status_code == 400


def test_a_low_answer_offers_a_break_and_a_calmer_feed_and_answers_stay_private(
        site: Site, clip_assets: dict[str, bytes]) -> None:
    person, other, maker = site.person("p"), site.person("o"), site.person("m")
    site.post(maker.user_id, "a loud drum bangs in a room", assets=clip_assets)
    _age(site, person, 10)
    browser = site.browser_for(person)
    low = browser.submit("/checkins", {"score": "1"}, page="/")
    assert low.status_code == 200 and 'data-testid="checkin-low"' in low.text
    assert browser.submit("/checkins/calmer", page="/").status_code == 303
    with site.session() as session:
        assert feed.get_prefs(session=session, user_id=person.user_id).steering == "more calm videos"
    assert browser.submit("/checkins/break", page="/").status_code == 303
    resting = browser.get("/")
    assert 'data-testid="end-break"' in resting.text and 'data-testid="reel"' not in resting.text
    assert browser.submit("/checkins/break/end", page="/").status_code == 303
    assert 'data-testid="reel"' in browser.get("/").text
    trend = browser.get("/settings/wellbeing").text
    assert 'data-testid="trend"' in trend and "Worse" in trend
    assert 'data-testid="trend-empty"' in site.browser_for(other).get("/settings/wellbeing").text


def test_the_six_months_page_and_its_one_question(site: Site, clip_assets: dict[str, bytes]) -> None:
    person = site.person("p")
    site.post(person.user_id, "a blue box slides", assets=clip_assets)
    with site.session() as session:
        feed.add_watch_time(session=session, viewer_id=person.user_id, seconds=30)
        feed.add_watch_time(session=session, viewer_id=person.user_id, seconds=30)
        checkins.answer(session=session, user_id=person.user_id, score=2)
    browser = site.browser_for(person)
    early = browser.get("/settings/wellbeing/six-months").text
    assert 'data-testid="six-watched">1<' in early and 'data-testid="six-made">1<' in early
    assert 'data-testid="six-1"' not in early and "opens 182 days after you joined" in early
    refused = browser.submit("/settings/wellbeing/six-months", {"score": "3"}, page="/settings/wellbeing/six-months")
    assert refused.status_code == 409 and "opens 182 days" in refused.text
    _age(site, person, 190)
    page = browser.get("/settings/wellbeing/six-months").text
    assert 'data-testid="six-days">You joined 190 days ago' in page and 'data-testid="six-3"' in page
    assert browser.submit("/settings/wellbeing/six-months", {"score": "3"},
                          page="/settings/wellbeing/six-months").status_code == 303
    assert 'data-testid="six-answer">Better' in browser.get("/settings/wellbeing/six-months").text
    again = browser.submit("/settings/wellbeing/six-months", {"score": "1"}, page="/settings/wellbeing/six-months")
    assert again.status_code == 409


def test_operators_see_only_aggregates_over_five_people_or_more(site: Site, tmp_path: Path) -> None:
    people = [site.person("p") for _ in range(7)]
    week_a, week_b = time.time() - 14 * DAY, time.time()
    with site.session() as session:
        for index, person in enumerate(people):
            session.add(CheckIn(user_id=person.user_id, kind="mood", score=1 + index % 5, created_at=week_a))
        for person in people[:3]:  # too few to show
            session.add(CheckIn(user_id=person.user_id, kind="mood", score=5, created_at=week_b))
        for person in people[:5]:
            session.add(CheckIn(user_id=person.user_id, kind="six_months", score=3, created_at=week_b))
    data_dir = site.services.settings.data_dir
    result = CliRunner().invoke(studio_app(), ["stats", "wellbeing", "--json", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert [(w["people"], w["mean"]) for w in figures["weeks"]] == [(7, round((1 + 2 + 3 + 4 + 5 + 1 + 2) / 7, 2))]
    assert figures["weeks_withheld"] == 1 and figures["six_months"] == {"Worse": 0, "No different": 0, "Better": 5}
    assert not any(person.user_id in result.stdout or person.handle in result.stdout for person in people)
    table = CliRunner().invoke(studio_app(), ["stats", "wellbeing", "--data-dir", str(data_dir)])
    assert table.exit_code == 0 and "1 week withheld" in table.stdout
