"""The first moderator on a fresh install (issue 17, item 4): `duetto users create alice` made a user with no
password, so signing up as alice then said "The handle @alice is taken", and with DUETTO_ADMIN_HANDLES unset
(the README never named it) /mod answered 403 to everyone. `--password` makes the web account, `--moderator`
gives it the queue, and `duetto users moderator` gives the role to someone who signed up on the web."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from duetto.app.cli import studio_app
from duetto.app.main import create_app
from tests.app.servers import embedded_settings
from tests.app.sites import Browser

PASSWORD = "a long enough pass"


def _run(args: list[str], data_dir: Path, stdin: str = ""):  # noqa: ANN202 - click's Result
    return CliRunner().invoke(studio_app(), [*args, "--data-dir", str(data_dir / "data")], input=stdin)


def test_users_create_with_password_and_moderator_opens_mod(tmp_path: Path, models_dir: Path) -> None:
    made = _run(["users", "create", "alice", "--password", "--moderator"], tmp_path, f"{PASSWORD}\n")
    assert made.exit_code == 0, made.output
    assert "(moderator)" in made.output and made.output.strip().splitlines()[-1].startswith("dk-")  # the API key
    assert _run(["users", "create", "bob", "--password"], tmp_path, f"{PASSWORD}\n").exit_code == 0

    settings = embedded_settings(tmp_path, models_dir)  # no DUETTO_ADMIN_HANDLES at all
    assert settings.admin_handles == ""
    with TestClient(create_app(settings)) as client:
        alice, bob = Browser(client), Browser(TestClient(client.app))
        alice.sign_in("alice", PASSWORD)
        queue = alice.get("/mod")
        assert queue.status_code == 200 and "Report queue" in queue.text and 'href="/mod"' in queue.text
        bob.sign_in("bob", PASSWORD)
        assert bob.get("/mod").status_code == 403

        # A person who signed up on the web is made a moderator from the command line, and unmade.
        carol = Browser(TestClient(client.app))
        assert carol.submit("/signup", {"handle": "carol", "password": PASSWORD, "birth_year": "1990"}, page="/signup").status_code == 303
        assert carol.get("/mod").status_code == 403
        granted = _run(["users", "moderator", "@carol"], tmp_path)
        assert granted.exit_code == 0 and "@carol is a moderator" in granted.output
        assert carol.get("/mod").status_code == 200
        assert _run(["users", "moderator", "carol", "--remove"], tmp_path).exit_code == 0
        assert carol.get("/mod").status_code == 403


def test_bad_input_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    lonely = _run(["users", "create", "dana", "--moderator"], tmp_path)
    assert lonely.exit_code == 2 and "--moderator needs --password" in lonely.output
    short = _run(["users", "create", "dana", "--password"], tmp_path, "short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    nothing = _run(["users", "create", "dana", "--password"], tmp_path, "")
    assert nothing.exit_code == 2 and "no password on stdin" in nothing.output
    bad_handle = _run(["users", "create", "no spaces here", "--password"], tmp_path, f"{PASSWORD}\n")
    assert bad_handle.exit_code == 1 and "Traceback" not in bad_handle.output
    unknown = _run(["users", "moderator", "nobody"], tmp_path)
    assert unknown.exit_code == 1 and "No web account @nobody" in unknown.output
    # Nothing was half made: dana can still be created.
    assert _run(["users", "create", "dana", "--password"], tmp_path, f"{PASSWORD}\n").exit_code == 0
