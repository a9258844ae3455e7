"""The operator's side: `duetto moderation` edits reach a running server at its next check, and the
moderators' pages show and edit the lists and the decision log (and nobody else's browser can)."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from duetto.app.moderation import lists
from duetto.cli import app as duetto_app
from tests.app.sites import Web, handle

ADA = "Ada Lovelace would have loved this"


def _cli(web: Web, *args: str):  # noqa: ANN202 - a click Result
    data_dir = str(web.services.settings.data_dir)
    return CliRunner().invoke(duetto_app, ["moderation", *args, "--data-dir", data_dir])


def test_cli_edits_reach_a_running_server_without_a_restart(web: Web, clip_assets: dict[str, bytes]) -> None:
    ann = web.account("ann")
    post_id, _ = web.post(ann.user_id, "a ball", assets=clip_assets)
    browser = web.browser()
    browser.sign_in("ann")

    def comment(body: str) -> int:
        return browser.submit(f"/p/{post_id}/comments", {"body": body}, page=f"/p/{post_id}").status_code

    assert comment(ADA) == 303
    added = _cli(web, "add", "public_figures", "Ada  Lovelace", "Taylor Swift")
    assert added.exit_code == 0, added.output
    assert "added to public_figures: Ada Lovelace" in added.output and "already listed: Taylor Swift" in added.output
    refused = browser.submit(f"/p/{post_id}/comments", {"body": ADA}, page=f"/p/{post_id}")
    assert refused.status_code == 400 and "it names a public figure (Ada Lovelace)" in refused.text

    log = _cli(web, "log", "--verdict", "refused")
    assert log.exit_code == 0, log.output
    lines = [line.split("\t") for line in log.output.strip().splitlines()]
    assert lines[0][:5] == ["id", "when_utc", "user", "surface", "verdict"] and len(lines) == 2
    assert lines[1][2:7] == [ann.user_id, "comment", "refused", "public_figures", "Ada Lovelace"]
    assert lines[1][9] == ADA

    trial = _cli(web, "test", "a portrait of a.d.a lovelace", "--surface", "caption")
    assert trial.exit_code == 0 and "This caption was refused: it names a public figure (Ada Lovelace)" in trial.output

    removed = _cli(web, "remove", "public_figures", "ada lovelace")
    assert removed.exit_code == 0 and "removed from public_figures: Ada Lovelace" in removed.output
    assert comment(ADA) == 303

    made = _cli(web, "category", "drugs", "--label", "Illegal drugs", "--reason", "it asks for drugs ({term}).")
    assert made.exit_code == 0, made.output
    assert _cli(web, "add", "drugs", "cocaine").exit_code == 0
    refused = browser.submit(f"/p/{post_id}/comments", {"body": "more c0caine"}, page=f"/p/{post_id}")
    assert refused.status_code == 400 and "This comment was refused: it asks for drugs (cocaine)." in refused.text
    assert _cli(web, "category", "drugs", "--action", "flag").exit_code == 0
    assert comment("more cocaine") == 303  # flagged: let through, marked in the log
    flagged = _cli(web, "log", "--verdict", "flagged").output.strip().splitlines()
    assert len(flagged) == 2 and "\tflagged\tdrugs\tcocaine\t" in flagged[1]
    assert _cli(web, "category", "drugs", "--delete").exit_code == 0
    with web.session() as session:
        assert "drugs" not in {c.slug for c in lists.categories(session=session)}
        actors = {c.actor for c in lists.changes(session=session)}
    assert any(actor.startswith("cli") for actor in actors)


def test_cli_bad_input_gets_a_one_line_error(web: Web) -> None:
    unknown = _cli(web, "add", "nosuch", "word")
    assert unknown.exit_code == 1 and "No moderation category 'nosuch' (known: hate, minors" in unknown.output
    bad_action = _cli(web, "category", "hate", "--action", "block")
    assert bad_action.exit_code == 1 and "Action must be one of refuse, flag, not 'block'." in bad_action.output
    missing = _cli(web, "remove", "hate", "kindness")
    assert missing.exit_code == 1 and "None of 'kindness' is listed in 'hate'" in missing.output
    bad_verdict = _cli(web, "log", "--verdict", "maybe")
    assert bad_verdict.exit_code == 1 and "--verdict must be allowed, refused or flagged" in bad_verdict.output


def test_the_moderation_pages_need_a_moderator(web: Web) -> None:
    anonymous = web.browser()
    assert anonymous.get("/mod/moderation", follow_redirects=False).status_code == 303
    web.account("ann")
    ann = web.browser()
    ann.sign_in("ann")
    assert ann.get("/mod/moderation").status_code == 403
    assert ann.get("/mod/moderation/log").status_code == 403
    ann.get("/")
    for url, form in [("/mod/moderation/terms", {"category": "hate", "terms": "kindness"}),
                      ("/mod/moderation/terms/remove", {"category": "public_figures", "term": "Taylor Swift"}),
                      ("/mod/moderation/categories", {"slug": "hate", "action": "flag"}),
                      ("/mod/moderation/categories/hate/delete", {"confirm": "hate"})]:
        assert ann.submit(url, form).status_code == 403, url
    with web.session() as session:
        # nothing changed: the only versions are the shipped seeds
        assert {c.actor for c in lists.changes(session=session)} == {"defaults"}


def test_a_moderator_edits_the_lists_and_reads_the_log(web: Web, clip_assets: dict[str, bytes]) -> None:
    web.account("mia_mod")
    poster = web.account(handle())
    post_id, _ = web.post(poster.user_id, "a ball", assets=clip_assets)
    mia = web.browser()
    mia.sign_in("mia_mod")
    page = mia.get("/mod/moderation")
    assert page.status_code == 200 and page.text.count('data-testid="category"') == 5
    assert "Taylor Swift" in page.text and "it names a public figure ({term}). Rephrase without it." in page.text

    added = mia.submit("/mod/moderation/terms", {"category": "violence", "terms": "hemlock\n\n  poison dart \n"})
    assert added.status_code == 303
    assert "Added 2 of 2 to violence." in mia.get(added.headers["location"]).text
    refused = mia.submit(f"/p/{post_id}/comments", {"body": "a poison-dart frog"}, page=f"/p/{post_id}")
    assert refused.status_code == 400 and "graphic violence (poison dart)" in refused.text

    mia.get("/mod/moderation")
    assert mia.submit("/mod/moderation/terms/remove", {"category": "violence", "term": "poison dart"}).status_code == 303
    assert mia.submit(f"/p/{post_id}/comments", {"body": "a poison-dart frog"},
                      page=f"/p/{post_id}").status_code == 303

    # A mistake shows the reason and keeps what was typed.
    mia.get("/mod/moderation")
    wrong = mia.submit("/mod/moderation/categories", {"slug": "Weapons!", "label": "Weapons", "action": "refuse",
                                                      "reason": "it asks for weapons ({term})."})
    assert wrong.status_code == 400 and "is not a valid name" in wrong.text
    assert 'value="Weapons!"' in wrong.text and "it asks for weapons ({term}).</textarea>" in wrong.text
    made = mia.submit("/mod/moderation/categories", {"slug": "weapons", "label": "Weapons", "action": "refuse",
                                                     "reason": "it asks for weapons ({term})."})
    assert made.status_code == 303
    assert mia.get("/mod/moderation").text.count('data-testid="category"') == 6
    kept = mia.submit("/mod/moderation/categories/weapons/delete", {"confirm": ""})
    assert kept.status_code == 400 and "type its name (weapons)" in kept.text
    assert mia.submit("/mod/moderation/categories/weapons/delete", {"confirm": "weapons"}).status_code == 303

    trial = mia.submit("/mod/moderation/test", {"text": "p i p e b o m b"})
    assert trial.status_code == 200 and "it asks for graphic violence (pipe bomb)" in trial.text

    log = mia.get("/mod/moderation/log?verdict=refused")
    assert log.status_code == 200 and log.text.count('data-testid="decision"') == 1
    assert "a poison-dart frog" in log.text and "@mia_mod" in log.text
    # The refused comment, then the allowed one (the log also holds the two sign-ups' handle checks).
    assert mia.get("/mod/moderation/log?surface=comment").text.count('data-testid="decision"') == 2
    changes = mia.get("/mod/moderation/log").text
    assert "drop-category weapons" in changes and "add violence: hemlock; poison dart" in changes


def test_flagged_text_goes_through_and_into_the_report_queue(web: Web, clip_assets: dict[str, bytes]) -> None:
    web.account("mia_mod")
    with web.session() as session:
        lists.save_category(session=session, slug="spoilers", actor="test", label="Spoilers", action="flag",
                            reason="it gives away an ending ({term}).")
        lists.add_terms(session=session, category="spoilers", terms=["ending revealed"], actor="test")
    ann = web.account(handle())
    video_id = web.video(ann.user_id, "a ball", assets=clip_assets)
    browser = web.browser()
    browser.sign_in(ann.handle)
    posted = browser.submit(f"/drafts/{video_id}/post", {"caption": "ending revealed!"}, page=f"/drafts/{video_id}")
    assert posted.status_code == 303  # a flag lets the text through
    post_id = posted.headers["location"].rsplit("/", 1)[-1]
    assert browser.submit(f"/p/{post_id}/comments", {"body": "the ending revealed at last"},
                          page=f"/p/{post_id}").status_code == 303
    assert browser.submit("/settings/profile", {"display_name": "Ann", "bio": "ending revealed weekly"},
                          page="/settings/profile").status_code == 303
    assert browser.submit(f"/p/{post_id}/comments", {"body": "no spoilers here"}, page=f"/p/{post_id}").status_code == 303

    mia = web.browser()
    mia.sign_in("mia_mod")
    queue = mia.get("/mod").text
    assert queue.count('data-testid="report-item"') == 3  # the post, the flagged comment and the account
    assert queue.count("Flagged by the moderation lists") == 3 and "spoilers: “ending revealed”" in queue
    assert "the ending revealed at last" in queue and "no spoilers here" not in queue
    # People cannot pick the lists' own reason in the report form.
    assert "Flagged by the moderation lists" not in browser.get(f"/report?kind=post&id={post_id}").text
    with web.session() as session:
        from duetto.app.db.models import Report

        comment_report = session.scalar(select(Report.id).where(Report.target_kind == "comment"))
    assert mia.submit(f"/mod/{comment_report}", {"action": "remove"}, page="/mod").status_code == 303
    assert "the ending revealed at last" not in browser.get(f"/p/{post_id}").text
