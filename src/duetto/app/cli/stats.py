"""`duetto stats`: figures for operators that say how the instance is doing, never who did what."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from duetto.app.cli.common import DataDir, sessions, settings
from duetto.app.core.words import counted

console = Console()

stats_app = typer.Typer(help="Aggregate, anonymous figures about this instance.", no_args_is_help=True)


@stats_app.command("wellbeing")
def wellbeing(
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    data_dir: Path | None = DataDir,
) -> None:
    """Check-in answers by week and the six-month answers, over groups of at least five people only."""
    from duetto.app.core.db import session_scope
    from duetto.app.wellbeing import checkins

    with session_scope(sessions(settings(data_dir=data_dir))) as session:
        figures = checkins.aggregate(session=session)
    if as_json:
        typer.echo(json.dumps({"accounts": figures.accounts, "checkins_off": figures.opted_out, "min_group": checkins.MIN_GROUP,
                          "weeks": [{"week": w, "people": n, "mean": m} for w, n, m in figures.weeks],
                          "weeks_withheld": figures.suppressed_weeks, "six_months": figures.six_months}))
        return
    from rich.table import Table

    console.print(f"{figures.accounts} accounts; {figures.opted_out} turned check-ins off.")
    table = Table("week", "people answering", "mean answer (1 worse … 5 better)", title="check-ins")
    for week, people, mean in figures.weeks:
        table.add_row(week, str(people), f"{mean:.2f}")
    console.print(table)
    if figures.suppressed_weeks:
        console.print(f"{counted(figures.suppressed_weeks, 'week')} withheld: fewer than {checkins.MIN_GROUP} people "
                      "answered in each.")
    if figures.six_months is None:
        console.print(f"Six months in: withheld until {checkins.MIN_GROUP} people have answered.")
    else:
        console.print("Six months in, has Duetto made things better: "
                      + ", ".join(f"{word} {count}" for word, count in figures.six_months.items()))
