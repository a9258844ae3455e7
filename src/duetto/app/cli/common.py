"""What the studio's commands share: settings from options and DUETTO_* variables, a migrated database, and
the options every command takes. Nothing of the server is imported until a command runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from duetto.app.core.config import Settings

console = Console(stderr=True)

DataDir = typer.Option(None, "--data-dir", help="Where the SQLite file and media live (DUETTO_DATA_DIR).")
ModelsDir = typer.Option(None, "--models-dir", help="Folder of model folders (DUETTO_MODELS_DIR).")


def settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the options given on the command line; exit 2 when invalid."""
    from duetto.app.core.config import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except Exception as error:  # pydantic's message lists each bad DUETTO_* value
        console.print(f"[red]Invalid settings:[/red] {error}")
        raise typer.Exit(code=2) from None


def sessions(config: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database, migrated first unless DUETTO_AUTO_MIGRATE is off."""
    from duetto.app.core.db import make_engine, make_sessionmaker, upgrade_database

    engine = make_engine(config)
    if config.auto_migrate:
        upgrade_database(engine)
    return make_sessionmaker(engine)
