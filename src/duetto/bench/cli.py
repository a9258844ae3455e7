"""`duetto bench …`: score models on the Toybox benchmark."""

import typer

bench_app = typer.Typer(help="Score models on the Toybox benchmark.", no_args_is_help=True)
