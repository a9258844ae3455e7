"""The studio's commands: `serve`, `worker`, `users`, `keys`, `moderation`, `stats`, `export` and `import`. Each module here imports only
Typer and Rich when loaded, so that `duetto generate` and the other engine commands start without FastAPI,
SQLAlchemy or the moderation lists; a command imports what it needs when it runs."""

from __future__ import annotations

import typer

from duetto.app.cli.library import export, import_
from duetto.app.cli.moderation import moderation_app
from duetto.app.cli.server import serve, worker
from duetto.app.cli.stats import stats_app
from duetto.app.cli.users import keys_app, users_app


def studio_app() -> typer.Typer:
    """The studio's commands on their own (what `duetto` adds to its own app)."""
    app = typer.Typer(help="The Duetto studio server.", no_args_is_help=True, pretty_exceptions_enable=False)
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="keys")
    app.add_typer(moderation_app, name="moderation")
    app.add_typer(stats_app, name="stats")
    app.command("export")(export)
    app.command("import")(import_)
    return app
