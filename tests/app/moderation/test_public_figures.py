"""The shipped public-figure list (migration 0007, moderation/public_figures.txt): a new instance refuses
"president Biden gives a speech", keeps ordinary words, never adds back what its operator removed, and the
list stays the operator's to edit (issue 17, item 9)."""

from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from duetto.app.core.db import alembic_config, make_sessionmaker
from duetto.app.moderation import evaluate, lists
from duetto.app.moderation.matching import term_key
from tests.app.sites import PASSWORD, Web, handle

seed = importlib.import_module("duetto.app.db.migrations.versions.0007_public_figures_list")


def test_a_new_instance_refuses_public_figures_by_surname_and_keeps_ordinary_words(db: Session) -> None:
    decision = evaluate(session=db, text="president Biden gives a speech about the election", surface="web_prompt")
    assert not decision.allowed and (decision.category, decision.term) == ("public_figures", "Biden")
    assert decision.reason == "This prompt was refused: it names a public figure (Biden). Rephrase without it."
    # The fullest name used is the one named.
    assert evaluate(session=db, text="Joe Biden waves", surface="web_prompt").term == "Joe Biden"
    for text, term in [("PUTIN rides a bear", "Putin"), ("a speech by Obama", "Obama"),
                       ("Erdogan at a desk", "Erdoğan"), ("prime minister Starmer laughs", "Starmer")]:
        assert evaluate(session=db, text=text, surface="web_prompt").term == term, text
    for text in ("a bush in the rain", "a brown bear meets a major storm in may", "a red ball bounces",
                 "the pope's hat is purple", "a carney runs the fair"):
        assert evaluate(session=db, text=text, surface="web_prompt").allowed, text

    listed = {t.key for t in lists.terms(session=db, category=lists.PUBLIC_FIGURES)}
    names = seed.shipped_names()
    assert len(names) >= 90 and {term_key(n) for n in names} <= listed
    assert len(listed) > 100  # the thirty of 0004 and the shipped list


def test_the_file_cites_its_sources() -> None:
    header = (Path(seed.__file__).parents[3] / "moderation" / "public_figures.txt").read_text().split("\n\n")[0]
    assert "List of current heads of state and government" in header and "https://en.wikipedia.org/" in header


def test_an_upgrade_adds_only_what_the_operator_did_not_remove(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine)
    command.upgrade(config, "0006")  # an instance from before the shipped list
    with make_sessionmaker(engine)() as session:
        lists.remove_terms(session=session, category=lists.PUBLIC_FIGURES, terms=["Vladimir Putin"], actor="op")
        lists.add_terms(session=session, category=lists.PUBLIC_FIGURES, terms=["Ada Lovelace"], actor="op")
    command.upgrade(config, "head")
    with make_sessionmaker(engine)() as session:
        keys = {t.key for t in lists.terms(session=session, category=lists.PUBLIC_FIGURES)}
        assert "joe biden" in keys and "biden" in keys and "ada lovelace" in keys
        assert "vladimir putin" not in keys  # the operator's removal stands
        assert lists.changes(session=session)[0].detail.endswith("names of the shipped public-figure list "
                                                                 "(public_figures.txt)")
    command.downgrade(config, "0006")
    with make_sessionmaker(engine)() as session:
        keys = {t.key for t in lists.terms(session=session, category=lists.PUBLIC_FIGURES)}
        assert "biden" not in keys and "ada lovelace" in keys and "joe biden" in keys
    engine.dispose()


def test_the_prompt_is_refused_in_the_form_and_a_moderator_can_edit_the_list(web: Web) -> None:
    person = web.account(handle())
    browser = web.browser()
    browser.sign_in(person.handle, PASSWORD)
    prompt = "president Biden gives a speech about the election"
    refused = browser.submit("/create", {"prompt": prompt, "request_key": "k1"}, page="/create")
    assert refused.status_code == 400 and "names a public figure (Biden)" in refused.text
    assert prompt in refused.text  # kept in the form

    web.account("mia_mod")
    moderator = web.browser()
    moderator.sign_in("mia_mod", PASSWORD)
    removed = moderator.submit("/mod/moderation/terms/remove", {"category": "public_figures", "term": "Biden"},
                               page="/mod/moderation")
    assert removed.status_code == 303
    with web.session() as session:
        assert evaluate(session=session, text=prompt, surface="web_prompt").allowed
