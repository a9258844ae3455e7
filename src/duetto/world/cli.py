"""`duetto world …`: render Toybox clips and write datasets."""

import typer

world_app = typer.Typer(help="Render Toybox clips and datasets.", no_args_is_help=True)
