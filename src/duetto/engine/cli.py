"""`duetto generate` and `duetto convert …`: the engine's command-line face."""

import typer

convert_app = typer.Typer(help="Import official checkpoints into Duetto's model-folder layout.", no_args_is_help=True)


def generate(prompt: str = typer.Argument(..., help="What to make.")) -> None:
    """Generate a video with its sound from a prompt."""
    raise typer.Exit(code=2)
