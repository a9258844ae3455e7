"""check_text and the decision log, public_figure_match, and editing the lists, on a migrated database."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from duetto.app.core.errors import InvalidRequest, NotFound
from duetto.app.db.models import ModerationCategory, ModerationDecision, ModerationTerm
from duetto.app.moderation import check_text, evaluate, lists, public_figure_match


def test_migration_loads_the_default_lists(db: Session) -> None:
    slugs = {c.slug for c in lists.categories(session=db)}
    assert {"minors", "violence", "hate", "self_harm", "public_figures"} <= slugs
    assert all(c.action == "refuse" and c.reason for c in lists.categories(session=db))
    counts = lists.term_counts(session=db)
    assert all(counts[slug] >= 10 for slug in slugs)
    # The shipped seeds (0004's lists, 0007's public figures) are the first versions.
    seeds = lists.changes(session=db)
    assert {(c.actor, c.action) for c in seeds} == {("defaults", "seed")}
    assert lists.list_version(session=db).number == len(seeds) == 2
    assert "Taylor Swift" in {t.term for t in lists.terms(session=db, category="public_figures")}


def test_refusal_names_the_category_and_is_logged(db: Session) -> None:
    decision = check_text(session=db, text="Taylor  Swift dancing on a stage", surface="api_prompt", user_id="user_1")
    assert not decision.allowed and decision.verdict == "refused"
    assert (decision.category, decision.term) == ("public_figures", "Taylor Swift")
    assert decision.reason == ("This prompt was refused: it names a public figure (Taylor Swift). "
                               "Rephrase without it.")
    row = db.get(ModerationDecision, decision.log_id)
    assert (row.user_id, row.surface, row.verdict, row.category, row.term) == (
        "user_1", "api_prompt", "refused", "public_figures", "Taylor Swift")
    assert row.text_hash == hashlib.sha256(b"Taylor  Swift dancing on a stage").hexdigest()
    assert row.excerpt == "Taylor Swift dancing on a stage"  # spaces folded
    assert row.list_version == lists.list_version(session=db).number and row.created_at > 0


def test_allowed_text_is_logged_too(db: Session) -> None:
    decision = check_text(session=db, text="A red ball bounces in a classroom.", surface="comment", user_id=None)
    assert decision.allowed and decision.verdict == "allowed" and decision.reason is None
    row = db.get(ModerationDecision, decision.log_id)
    assert (row.verdict, row.surface, row.user_id, row.category) == ("allowed", "comment", None, None)
    assert row.excerpt == "A red ball bounces in a classroom."


def test_excerpts_are_short_and_allowed_private_messages_keep_only_the_hash(db: Session) -> None:
    long = check_text(session=db, text="word " * 200, surface="caption", user_id="u")
    assert len(db.get(ModerationDecision, long.log_id).excerpt) <= 160
    private = check_text(session=db, text="see you at eight", surface="message", user_id="u")
    row = db.get(ModerationDecision, private.log_id)
    assert row.excerpt == "" and row.text_hash == hashlib.sha256(b"see you at eight").hexdigest()
    refused = check_text(session=db, text="a pipe bomb", surface="message", user_id="u")
    assert db.get(ModerationDecision, refused.log_id).excerpt == "a pipe bomb"
    assert refused.reason.startswith("This message was refused: it asks for graphic violence (pipe bomb)")


def test_the_log_cannot_be_edited_or_deleted(db: Session) -> None:
    decision = check_text(session=db, text="a quiet room", surface="comment", user_id="u")
    for statement in ("UPDATE moderation_decisions SET verdict = 'refused'", "DELETE FROM moderation_decisions"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.execute(text(statement))
        db.rollback()
    assert db.get(ModerationDecision, decision.log_id).verdict == "allowed"


def test_public_figure_match(db: Session) -> None:
    assert public_figure_match(session=db, text="a cartoon of e.l.o.n m.u.s.k on mars") == "Elon Musk"
    assert public_figure_match(session=db, text="my friend Elon and his musk ox") is None
    assert public_figure_match(session=db, text="a pipe bomb") is None  # other categories do not count
    before = db.scalar(select(func.count()).select_from(ModerationDecision))
    lists.add_terms(session=db, category="public_figures", terms=["Ada Lovelace"], actor="test")
    assert public_figure_match(session=db, text="ada lovelace at her desk") == "Ada Lovelace"
    assert db.scalar(select(func.count()).select_from(ModerationDecision)) == before  # not logged


def test_edits_take_effect_at_the_next_check_and_bump_the_version(db: Session) -> None:
    version = lists.list_version(session=db).number
    assert evaluate(session=db, text="a cup of hemlock").allowed
    assert lists.add_terms(session=db, category="violence", terms=["hemlock", " Hemlock ", "violence"], actor="t") == [
        "hemlock", "violence"]
    assert lists.list_version(session=db).number == version + 1
    blocked = check_text(session=db, text="a cup of H3MLOCK", surface="web_prompt", user_id="u")
    assert (blocked.verdict, blocked.term, blocked.list_version) == ("refused", "hemlock", version + 1)
    assert lists.remove_terms(session=db, category="violence", terms=["HEMLOCK"], actor="t") == ["hemlock"]
    assert evaluate(session=db, text="a cup of hemlock").allowed
    assert lists.list_version(session=db).number == version + 2


def test_a_flag_category_lets_text_through_and_marks_the_decision(db: Session) -> None:
    lists.save_category(session=db, slug="drugs", label="Drugs", action="flag", reason="it mentions drugs ({term}).",
                        actor="t")
    lists.add_terms(session=db, category="drugs", terms=["cocaine"], actor="t")
    decision = check_text(session=db, text="c0caine on a mirror", surface="caption", user_id="u")
    assert decision.allowed and decision.verdict == "flagged" and decision.reason is None
    assert (decision.category, decision.term) == ("drugs", "cocaine")
    assert db.get(ModerationDecision, decision.log_id).verdict == "flagged"
    # A refusing category wins over a flagging one when both match.
    assert evaluate(session=db, text="cocaine and a pipe bomb").verdict == "refused"
    lists.save_category(session=db, slug="drugs", action="refuse", actor="t")
    assert evaluate(session=db, text="cocaine", surface="comment").reason == "This comment was refused: it mentions drugs (cocaine)."


def test_deleting_a_category_takes_its_terms(db: Session) -> None:
    assert lists.delete_category(session=db, slug="self_harm", actor="t") >= 10
    assert db.get(ModerationCategory, "self_harm") is None
    assert db.scalar(select(func.count()).select_from(ModerationTerm).where(ModerationTerm.category == "self_harm")) == 0
    assert evaluate(session=db, text="I want to kill myself").allowed
    assert [c.action for c in lists.changes(session=db, limit=1)] == ["drop-category"]


@pytest.mark.parametrize(("call", "message"), [
    (lambda db: lists.add_terms(session=db, category="nope", terms=["x"], actor="t"), "No moderation category 'nope'"),
    (lambda db: lists.add_terms(session=db, category="hate", terms=["..."], actor="t"), "has no letters or digits"),
    (lambda db: lists.add_terms(session=db, category="hate", terms=["w " * 20], actor="t"), "too long"),
    (lambda db: lists.remove_terms(session=db, category="hate", terms=["kindness"], actor="t"), "is listed in 'hate'"),
    (lambda db: lists.save_category(session=db, slug="Bad Name", actor="t"), "not a valid name"),
    (lambda db: lists.save_category(session=db, slug="hate", action="block", actor="t"), "refuse, flag"),
    (lambda db: lists.save_category(session=db, slug="hate", reason="  ", actor="t"), "Reason must be"),
])
def test_bad_edits_get_a_clear_error(db: Session, call, message: str) -> None:  # noqa: ANN001
    version = lists.list_version(session=db).number
    with pytest.raises((InvalidRequest, NotFound), match=message):
        call(db)
    db.rollback()
    assert lists.list_version(session=db).number == version


def test_surface_must_be_a_short_name(db: Session) -> None:
    with pytest.raises(ValueError, match="surface must be a short name"):
        check_text(session=db, text="hi", surface="", user_id=None)
