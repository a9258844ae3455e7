"""`duetto` starts without the studio server: its command modules import Typer only, and FastAPI, SQLAlchemy,
pydantic-settings, Jinja and the moderation lists load when a studio command runs."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("fastapi", "starlette", "sqlalchemy", "pydantic_settings", "jinja2", "alembic", "duetto.app.core.config",
         "duetto.app.moderation")


def loaded_after(statement: str) -> list[str]:
    """Which of HEAVY a fresh interpreter has imported after running `statement`."""
    probe = f"import json, sys\n{statement}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_duetto_command_loads_no_studio_server() -> None:
    assert loaded_after("import duetto.cli") == []


def test_the_studio_commands_are_registered_all_the_same() -> None:
    from typer.testing import CliRunner

    from duetto.cli import app

    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "users", "keys", "moderation", "generate"):
        assert command in result.output


def test_a_studio_command_loads_the_server_when_it_runs() -> None:
    """The probe itself: it sees the server's modules once a studio command's code has run."""
    loaded = loaded_after("from duetto.app.cli.common import settings\nsettings()")
    assert "sqlalchemy" not in loaded and "duetto.app.core.config" in loaded
