"""What every `duetto` subcommand shares: the one-line error that ends a command with exit code 2."""

from __future__ import annotations

import typer


def fail(message: str) -> typer.Exit:
    """Prints a one-line error and returns the exit to raise (code 2: the user's input was wrong)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=2)
