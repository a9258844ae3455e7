"""`duetto users create` and `duetto keys create|list|revoke`: the studio's users and their API keys."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

from duetto.app.cli.common import DataDir, console, sessions, settings

users_app = typer.Typer(help="Manage users of the studio server.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    name: str = typer.Argument(..., help="A unique user name (with --password, also the @handle to sign in with)."),
    password: bool = typer.Option(
        False, "--password",
        help="Also make a web account: asks for its password (hidden, twice), or reads one line from stdin "
             "when it is not a terminal."),
    moderator: bool = typer.Option(
        False, "--moderator", help="Make the account a moderator (opens /mod); needs --password."),
    daily_quota: float | None = typer.Option(None, help="Credits per UTC day (default: DUETTO_DAILY_QUOTA)."),
    with_key: bool = typer.Option(True, help="Also create an API key and print it."),
    data_dir: Path | None = DataDir,
) -> None:
    """Create a user; prints its webhook signing secret and (by default) a first API key. With --password the
    user can also sign in on the web as @NAME; with --moderator as well, they can open /mod."""
    if moderator and not password:
        console.print("[red]--moderator needs --password: a moderator signs in on the web to open /mod.[/red]")
        raise typer.Exit(code=2)
    secret = _read_password(name) if password else None
    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.flows.accounts import sign_up
    from duetto.app.users.accounts import get_user, set_moderator
    from duetto.app.users.service import create_api_key, create_user

    factory = sessions(settings(data_dir=data_dir))
    try:
        with session_scope(factory) as session:
            if secret is None:
                user = create_user(session=session, name=name, daily_quota=daily_quota)
            else:
                # The same checks and steps as signing up on the web (handle rules, names, password).
                account = sign_up(session=session, handle=name, password=secret)
                if moderator:
                    set_moderator(session=session, account=account)
                user = get_user(session=session, account=account)
                user.daily_quota = daily_quota
            key = create_api_key(session=session, user=user) if with_key else None
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    role = " (moderator)" if moderator else ""
    console.print(f"user {user.name} ({user.id}){role}")
    if secret is not None:
        console.print(f"web account: sign in as @{user.name} at /signin" + (", then open /mod" if moderator else ""))
    console.print(f"webhook secret: {user.webhook_secret}")
    if key:
        console.print("API key (shown once; keep it):")
        typer.echo(key.secret)


@users_app.command("moderator")
def users_moderator(
    handle: str = typer.Argument(..., help="The @handle of a web account (made on /signup or with --password)."),
    remove: bool = typer.Option(False, "--remove", help="Take the moderator role away instead."),
    data_dir: Path | None = DataDir,
) -> None:
    """Make a web account a moderator (or, with --remove, no longer one); it applies from their next page."""
    from duetto.app.core.db import session_scope
    from duetto.app.users.accounts import get_account, set_moderator

    factory = sessions(settings(data_dir=data_dir))
    with session_scope(factory) as session:
        account = get_account(session=session, handle=handle)
        if account is None:
            console.print(f"[red]No web account @{handle.lstrip('@')}; sign up on /signup or run "
                          f"`duetto users create NAME --password` first.[/red]", soft_wrap=True)
            raise typer.Exit(code=1)
        set_moderator(session=session, account=account, moderator=not remove)
        console.print(f"@{account.handle} is {'no longer ' if remove else ''}a moderator")


def _read_password(name: str) -> str:
    """The new account's password: asked twice with echo off at a terminal, else stdin's first line (so a
    script can pipe it in without it showing in the process list)."""
    if sys.stdin.isatty():
        return typer.prompt(f"Password for @{name}", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        console.print("[red]--password: no password on stdin; type it at a terminal or pipe one line in.[/red]")
        raise typer.Exit(code=2)
    return line.rstrip("\r\n")


@keys_app.command("create")
def keys_create(
    user: str = typer.Argument(..., help="The user name the key is for."),
    data_dir: Path | None = DataDir,
) -> None:
    """Create an API key for a user and print it (it is shown only this once)."""
    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.users.service import create_api_key, get_user_by_name

    factory = sessions(settings(data_dir=data_dir))
    try:
        with session_scope(factory) as session:
            key = create_api_key(session=session, user=get_user_by_name(session=session, name=user))
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    typer.echo(key.secret)


@keys_app.command("list")
def keys_list(
    user: str = typer.Argument(..., help="The user name whose keys to list."),
    data_dir: Path | None = DataDir,
) -> None:
    """List a user's API keys: id, the key's first characters, when it was made and whether it is revoked."""
    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.users.service import get_user_by_name, list_api_keys

    factory = sessions(settings(data_dir=data_dir))
    try:
        with session_scope(factory) as session:
            keys = list_api_keys(session=session, user_id=get_user_by_name(session=session, name=user).id)
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    # Plain columns, never cut to the terminal's width: the id is what `duetto keys revoke` needs.
    typer.echo(f"{'id':<29}  {'key starts':<11}  {'created (UTC)':<19}  revoked (UTC)")
    for key in keys:
        revoked = _utc(key.revoked_at) if key.revoked_at else "-"
        typer.echo(f"{key.id:<29}  {key.prefix + '...':<11}  {_utc(key.created_at):<19}  {revoked}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (key_…), as `duetto keys list` shows it."),
    data_dir: Path | None = DataDir,
) -> None:
    """Revoke an API key: every server refuses it from its next request on."""
    from duetto.app.core.db import session_scope
    from duetto.app.core.errors import DomainError
    from duetto.app.users.service import revoke_api_key

    factory = sessions(settings(data_dir=data_dir))
    try:
        with session_scope(factory) as session:
            key = revoke_api_key(session=session, key_id=key_id)
    except DomainError as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(code=1) from None
    console.print(f"revoked {key.id} ({key.prefix}...) at {_utc(key.revoked_at)} UTC")


def _utc(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(timestamp or 0))
