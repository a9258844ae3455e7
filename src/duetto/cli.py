"""The `duetto` command: one entry point whose subcommands live beside the code they drive. The studio's command
modules are light (Typer only) and import the server when one of their commands runs, so `duetto generate`
starts without FastAPI or SQLAlchemy."""

from __future__ import annotations

import typer

from duetto.app.cli.library import export, import_
from duetto.app.cli.moderation import moderation_app
from duetto.app.cli.server import serve, worker
from duetto.app.cli.stats import stats_app
from duetto.app.cli.users import keys_app, users_app
from duetto.bench.cli import bench_app
from duetto.engine.cli import convert_app, generate
from duetto.training.cli import train_app
from duetto.world.cli import world_app

app = typer.Typer(
    name="duetto",
    help="Generate short videos with synchronized sound, serve them, and measure them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("generate")(generate)
app.add_typer(convert_app, name="convert")
app.command("serve")(serve)
app.command("worker")(worker)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(moderation_app, name="moderation")
app.add_typer(stats_app, name="stats")
app.command("export")(export)
app.command("import")(import_)
app.add_typer(world_app, name="world")
app.add_typer(bench_app, name="bench")
app.add_typer(train_app, name="train")


if __name__ == "__main__":
    app()
