"""Every web form that refuses what was typed answers in the form itself: the reason in words beside it (never
an error page, never an exception's name) and the input as it was typed (issue 17, item 7)."""

from __future__ import annotations

import html
import re

import pytest

from duetto.app.db.models import Account
from tests.app.sites import PASSWORD, Browser, Web, handle

# An exception's name in a message ("ValueError", "InvalidDataError", "KeyError") means nothing to a person.
EXCEPTION_NAME = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b")


def signed_in(web: Web, account: Account) -> Browser:
    browser = web.browser()
    browser.sign_in(account.handle, PASSWORD)
    return browser


def refused_in_form(response, *, status: int, form_action: str) -> str:  # noqa: ANN001 - an httpx response
    """The message of a refusal shown in the page's own form; fails on an error page or an exception name."""
    assert response.status_code == status, response.text[:500]
    text = response.text
    assert 'class="error-message"' not in text, "answered with the error page, not the form"
    assert f'action="{form_action}"' in text, "the form is not on the page"
    found = re.search(r'data-testid="error">(.*?)</p>', text, re.S)
    assert found, "no message beside the form"
    message = html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()
    assert not EXCEPTION_NAME.search(message), message
    return message


@pytest.mark.parametrize("typed", ["0", "100000"])
def test_a_daily_limit_out_of_range_is_answered_in_the_form_with_the_value_kept(web: Web, typed: str) -> None:
    browser = signed_in(web, web.account(handle()))
    response = browser.submit("/settings/feed", {"daily_limit_minutes": typed, "personalized": "on"},
                              page="/settings/feed")
    message = refused_in_form(response, status=400, form_action="/settings/feed")
    assert "from 1 to 1440" in message
    assert f'value="{typed}" data-testid="limit-input"' in response.text


def test_a_message_to_an_unknown_handle_says_so_in_the_form(web: Web) -> None:
    browser = signed_in(web, web.account(handle()))
    response = browser.submit("/messages", {"to": "@nobody_here"}, page="/messages")
    message = refused_in_form(response, status=404, form_action="/messages")
    assert message.startswith("No one here goes by @nobody_here.") and "Check the spelling" in message
    assert 'value="@nobody_here"' in response.text  # what was typed stays in the box

    empty = browser.submit("/messages", {"to": "   "}, page="/messages")
    assert "Type the handle" in refused_in_form(empty, status=400, form_action="/messages")

    # Someone who blocked the viewer is as unknown as nobody, also here.
    blocker = web.account(handle())
    signed_in(web, blocker).submit(f"/@{browser_handle(web, browser)}/block", page="/")
    hidden = browser.submit("/messages", {"to": blocker.handle}, page="/messages")
    assert refused_in_form(hidden, status=404, form_action="/messages").startswith(f"No one here goes by @{blocker.handle}")


def browser_handle(web: Web, browser: Browser) -> str:
    found = re.search(r'href="/@([a-z0-9_]+)" title="Your profile"', browser.get("/messages").text)
    assert found
    return found.group(1)


def test_verify_with_a_file_that_is_not_a_video_says_what_to_do(web: Web) -> None:
    browser = web.browser()  # the verify page is public
    response = browser.submit("/verify", files={"file": ("notes.txt", b"just some words\n", "text/plain")},
                              page="/verify")
    message = refused_in_form(response, status=400, form_action="/verify")
    assert "could not be read as a video" in message and "MP4" in message and "notes.txt" in message
    assert "ValueError" not in response.text


def test_a_report_that_is_refused_keeps_its_reason_and_details(web: Web) -> None:
    browser = signed_in(web, web.account(handle()))
    target = web.account(handle())
    page = f"/report?kind=user&id={target.user_id}&next=/"
    long_details = "it goes on " * 120  # more than the 1000 characters a report may carry
    response = browser.submit("/report", {"kind": "user", "target_id": target.user_id, "reason": "spam",
                                          "details": long_details}, page=page)
    assert "at most 1000 characters" in refused_in_form(response, status=400, form_action="/report")
    assert html.escape(long_details, quote=False) in response.text
    assert 'value="spam" required checked' in response.text


def test_a_birth_year_out_of_range_is_answered_where_it_was_typed(web: Web) -> None:
    browser = signed_in(web, web.account(handle()))
    response = browser.submit("/characters/birth-year", {"year": "1800"}, page="/characters")
    assert "Birth year must be between" in refused_in_form(response, status=400,
                                                          form_action="/characters/birth-year")
    assert 'value="1800"' in response.text
