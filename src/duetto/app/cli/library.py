"""`duetto export USER -o FILE` and `duetto import USER FILE`: an operator takes a user's whole library out as
one archive, or brings one in, without the web app (the same archive and checks as the web and the API)."""

from __future__ import annotations

from pathlib import Path

import typer

from duetto.app.cli.common import DataDir, console, sessions, settings

User = typer.Argument(..., help="The user: their @handle or user name.")
Output = typer.Option(..., "-o", "--output", help="The .zip to write.")
Archive = typer.Argument(..., exists=True, dir_okay=False, help="The .zip a Duetto export made.")


def _user_id(session, who: str) -> str:  # noqa: ANN001 - a SQLAlchemy session, imported when the command runs
    from sqlalchemy import select

    from duetto.app.db.models import Account, User

    clean = who.lstrip("@")
    user_id = (session.scalar(select(Account.user_id).where(Account.handle == clean.lower()))
               or session.scalar(select(User.id).where(User.name == clean)))
    if user_id is None:
        console.print(f"[red]No user {who!r}; give their @handle or user name (duetto users list).[/red]")
        raise typer.Exit(code=1)
    return user_id


def export(
    user: str = User,
    output: Path = Output,
    instance: str | None = typer.Option(None, help="This instance's name in the archive (DUETTO_INSTANCE_NAME)."),
    data_dir: Path | None = DataDir,
) -> None:
    """Write a user's whole library (clips, drafts, posts, characters, messages, settings) to one archive."""
    import socket

    from duetto.app.core.db import session_scope
    from duetto.app.flows.library.export import write_archive
    from duetto.app.infra.storage import make_storage

    config = settings(data_dir=data_dir)
    factory = sessions(config)
    output.parent.mkdir(parents=True, exist_ok=True)
    with session_scope(factory) as session:
        user_id = _user_id(session, user)
        partial = output.with_name(output.name + ".part")
        counts = write_archive(session=session, storage=make_storage(config), settings=config, user_id=user_id,
                               instance=instance or config.instance_name or socket.gethostname(), target=partial)
        partial.replace(output)
    console.print(f"wrote {output}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


def import_(
    user: str = User,
    archive: Path = Archive,
    posted: bool = typer.Option(False, "--posted", help="Post what was posted (default: bring posts in as drafts)."),
    data_dir: Path | None = DataDir,
) -> None:
    """Bring an archive from another instance into a user's account; checked whole before anything is written."""
    import json

    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.flows.library.importer import check_archive, import_archive
    from duetto.app.infra.storage import make_storage

    config = settings(data_dir=data_dir)
    factory = sessions(config)
    try:
        checked = check_archive(archive, max_unpacked=config.max_import_unpacked_bytes)
        try:
            with session_scope(factory) as session:
                report = import_archive(session=session, storage=make_storage(config), user_id=_user_id(session, user),
                                        checked=checked, posted=posted)
        finally:
            checked.close()
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    typer.echo(json.dumps(report, indent=1))
