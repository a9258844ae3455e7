"""The `duetto` command: one entry point whose subcommands live beside the code they drive."""

from __future__ import annotations

import typer

from duetto.bench.cli import bench_app
from duetto.engine.cli import convert_app, generate
from duetto.world.cli import world_app

app = typer.Typer(
    name="duetto",
    help="Generate short videos with synchronized sound, serve them, and measure them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("generate")(generate)
app.add_typer(convert_app, name="convert")
app.add_typer(world_app, name="world")
app.add_typer(bench_app, name="bench")


if __name__ == "__main__":
    app()
