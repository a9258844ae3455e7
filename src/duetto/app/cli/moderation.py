"""`duetto moderation`: the operator's commands for the moderation lists and the decision log."""

from __future__ import annotations

import getpass
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from duetto.app.cli.common import DataDir, sessions, settings
from duetto.app.core.words import counted

console = Console()
errors = Console(stderr=True)

moderation_app = typer.Typer(
    help="Edit the moderation lists (terms by category) and read the decision log.", no_args_is_help=True
)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name (some containers): still say it came from the command line
        return "cli"


def _session(data_dir: Path | None):  # noqa: ANN202 - a session context
    from duetto.app.core.db import session_scope

    return session_scope(sessions(settings(data_dir=data_dir)))


def _fail(message: str) -> None:
    errors.print(f"[red]{message}[/red]")
    raise typer.Exit(code=1)


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp))


@moderation_app.command("list")
def list_terms(
    category: str | None = typer.Argument(None, help="Only this category (see `duetto moderation categories`)."),
    data_dir: Path | None = DataDir,
) -> None:
    """List the terms, by category."""
    from duetto.app.core.errors import DomainError
    from duetto.app.moderation import lists

    try:
        with _session(data_dir) as session:
            rows = lists.terms(session=session, category=category)
            version = lists.list_version(session=session).number
    except DomainError as error:
        _fail(error.message)
    from rich.table import Table

    table = Table("category", "term", "added by", "added (UTC)", title=f"moderation terms (list version {version})")
    for row in rows:
        table.add_row(row.category, row.term, row.added_by, _when(row.created_at))
    console.print(table)


@moderation_app.command("add")
def add(
    category: Annotated[str, typer.Argument(help="The category to add to, e.g. public_figures.")],
    terms: Annotated[list[str], typer.Argument(help="Words or phrases; quote a phrase: \"Jane Doe\".")],
    data_dir: Path | None = DataDir,
) -> None:
    """Add terms to a category; running servers use them from their next check."""
    from duetto.app.core.errors import DomainError
    from duetto.app.moderation import lists

    try:
        with _session(data_dir) as session:
            added = lists.add_terms(session=session, category=category, terms=terms, actor=_actor())
    except DomainError as error:
        _fail(error.message)
    for term in terms:
        if term.strip() and " ".join(term.split()) not in added:
            errors.print(f"already listed: {term}")
    for term in added:
        console.print(f"added to {category}: {term}")


@moderation_app.command("remove")
def remove(
    category: Annotated[str, typer.Argument(help="The category to remove from.")],
    terms: Annotated[list[str], typer.Argument(help="Words or phrases, spelled as listed or any equivalent way.")],
    data_dir: Path | None = DataDir,
) -> None:
    """Remove terms from a category."""
    from duetto.app.core.errors import DomainError
    from duetto.app.moderation import lists

    try:
        with _session(data_dir) as session:
            removed = lists.remove_terms(session=session, category=category, terms=terms, actor=_actor())
    except DomainError as error:
        _fail(error.message)
    for term in removed:
        console.print(f"removed from {category}: {term}")


@moderation_app.command("categories")
def categories(data_dir: Path | None = DataDir) -> None:
    """List the categories: what a match does (refuse or flag) and the reason people are shown."""
    from duetto.app.moderation import lists

    with _session(data_dir) as session:
        rows = lists.categories(session=session)
        counts = lists.term_counts(session=session)
    from rich.table import Table

    table = Table("category", "label", "action", "terms", "reason shown (after \"This prompt was refused: \")")
    for row in rows:
        table.add_row(row.slug, row.label, row.action, str(counts.get(row.slug, 0)), row.reason)
    console.print(table)


@moderation_app.command("category")
def category(
    slug: str = typer.Argument(..., help="The category's name: lowercase letters, digits and _ (e.g. drugs)."),
    label: str | None = typer.Option(None, help="A readable name, e.g. \"Illegal drugs\"."),
    action: str | None = typer.Option(None, help="refuse (the text is not accepted) or flag (accepted, logged "
                                                 "as flagged for moderators)."),
    reason: str | None = typer.Option(None, help="What the person is told; {term} is replaced by the match."),
    delete: bool = typer.Option(False, "--delete", help="Delete the category and all its terms."),
    data_dir: Path | None = DataDir,
) -> None:
    """Create a category, change its label, action or reason, or delete it."""
    from duetto.app.core.errors import DomainError
    from duetto.app.moderation import lists

    try:
        with _session(data_dir) as session:
            if delete:
                count = lists.delete_category(session=session, slug=slug, actor=_actor())
                console.print(f"deleted {slug} and its {counted(count, 'term')}")
                return
            row = lists.save_category(session=session, slug=slug, actor=_actor(), label=label, action=action, reason=reason)
            console.print(f"{row.slug}: {row.label} · {row.action} · {row.reason}")
    except DomainError as error:
        _fail(error.message)


@moderation_app.command("test")
def test(
    text: str = typer.Argument(..., help="The text to try, e.g. a prompt someone reported."),
    surface: str = typer.Option("api_prompt", help="Which surface's wording to use in the reason."),
    data_dir: Path | None = DataDir,
) -> None:
    """Show what the current lists decide for a text, without logging it."""
    from duetto.app.moderation import evaluate

    with _session(data_dir) as session:
        decision = evaluate(session=session, text=text, surface=surface)
    console.print(f"{decision.verdict} (list version {decision.list_version})")
    if decision.category:
        console.print(f"category: {decision.category} · term: {decision.term}")
    if decision.reason:
        console.print(decision.reason)


@moderation_app.command("log")
def log(
    verdict: str | None = typer.Option(None, help="Only allowed, refused or flagged decisions."),
    surface: str | None = typer.Option(None, help="Only one surface: api_prompt, web_prompt, caption, comment, "
                                                  "message."),
    user: str | None = typer.Option(None, help="Only one user id."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many decisions, newest first."),
    data_dir: Path | None = DataDir,
) -> None:
    """Read the decision log, newest first."""
    from duetto.app.moderation.check import decisions

    if verdict is not None and verdict not in ("allowed", "refused", "flagged"):
        _fail(f"--verdict must be allowed, refused or flagged, not {verdict!r}.")
    with _session(data_dir) as session:
        rows = decisions(session=session, verdict=verdict, surface=surface, user_id=user, limit=limit)
    # One tab-separated line per decision, so the log can be grepped, cut and sorted.
    typer.echo("id\twhen_utc\tuser\tsurface\tverdict\tcategory\tterm\tlist_version\tsha256\texcerpt")
    for row in rows:
        fields = [str(row.id), _when(row.created_at), row.user_id or "-", row.surface, row.verdict,
                  row.category or "-", row.term or "-", str(row.list_version), row.text_hash, row.excerpt]
        typer.echo("\t".join(f.replace("\t", " ") for f in fields))
