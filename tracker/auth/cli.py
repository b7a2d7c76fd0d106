"""`tracker user ...` and `tracker token ...`: accounts and API tokens.

Passwords are typed at a hidden prompt (twice) or read from the first line of standard
input with --password-stdin; they never appear on the command line. A new token is
printed alone on the last line, so that `tracker token create ... | tail -n 1` is it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session as DbSession

from tracker.auth import ratelimit, services
from tracker.cli import one_line_errors
from tracker.models import Role

ROLES = [r.value for r in Role]


@contextmanager
def _transaction() -> Iterator[DbSession]:
    with current_app.extensions["db"].sessionmaker.begin() as db:
        yield db


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on the first line of standard input")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)  # type: ignore[no-any-return]


user_group = click.Group("user", help="Organiser, door and admin accounts.")


@user_group.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--event",
    "events",
    multiple=True,
    metavar="SLUG",
    help="An event the account may act on (repeatable; admins may act on all).",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@with_appcontext
@one_line_errors
def user_add(email: str, role: str, events: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account; asks for its password twice."""
    with _transaction() as db:  # refuse what can be refused before asking the password
        services.check_new_account(db, email)
        services.events_by_slugs(db, list(events))
    password = _read_password(password_stdin)
    with _transaction() as db:
        user = services.add_user(
            db,
            email,
            password,
            Role(role),
            services.events_by_slugs(db, list(events)),
            actor=None,
        )
        click.echo(f"account {user.email} created ({user.role.value})")


@user_group.command("list")
@with_appcontext
@one_line_errors
def user_list() -> None:
    """Every account: address, role, events, status."""
    with _transaction() as db:
        for user in services.list_users(db):
            events = (
                "all events"
                if user.role == Role.ADMIN
                else ",".join(sorted(e.slug for e in user.events)) or "-"
            )
            status = "active" if user.active else "disabled"
            click.echo(f"{user.email}\t{user.role.value}\t{status}\t{events}")


def _set_active(email: str, active: bool) -> None:
    with _transaction() as db:
        user = services.get_user(db, email)
        changed = services.set_active(db, user, active, actor=None)
        state = "enabled" if active else "disabled"
        click.echo(f"account {user.email} {state}" if changed else f"already {state}")
        if changed:
            click.echo("its sessions ended" + ("" if active else " and its API tokens revoked"))


@user_group.command("disable")
@click.argument("email")
@with_appcontext
@one_line_errors
def user_disable(email: str) -> None:
    """Disable an account: no login, its sessions end, its API tokens are revoked."""
    _set_active(email, False)


@user_group.command("enable")
@click.argument("email")
@with_appcontext
@one_line_errors
def user_enable(email: str) -> None:
    """Enable a disabled account again (its revoked API tokens stay revoked)."""
    _set_active(email, True)


@user_group.command("unlock")
@click.argument("email")
@with_appcontext
@one_line_errors
def user_unlock(email: str) -> None:
    """Lift the login locks of an account typed as EMAIL, from every address."""
    failures = ratelimit.unlock(email)
    click.echo(
        f"login locks of {email.strip()} lifted, from every address"
        f" ({failures} failed login{'s' if failures != 1 else ''} forgotten)"
    )
    if not ratelimit.limiter_for(current_app).shared:
        click.echo(
            "warning: TRACKER_RATELIMIT_STORAGE_URL is memory://, so each app process keeps "
            "its own counters, out of reach of this command: restart the app to clear them",
            err=True,
        )


@user_group.command("password")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@with_appcontext
@one_line_errors
def user_password(email: str, password_stdin: bool) -> None:
    """Set a new password for an account: its sessions end, its API tokens are revoked."""
    with _transaction() as db:
        services.get_user(db, email)
    password = _read_password(password_stdin)
    with _transaction() as db:
        user = services.get_user(db, email)
        revoked = services.set_password(db, user, password, actor=None)
        click.echo(
            f"password of {user.email} changed; its sessions ended"
            f" and {revoked} API token{'s' if revoked != 1 else ''} revoked"
        )


token_group = click.Group("token", help="API tokens (Authorization: Bearer ...).")


@token_group.command("create")
@click.argument("email")
@click.option("--name", required=True, help='What the token is for, e.g. "Door A".')
@with_appcontext
@one_line_errors
def token_create(email: str, name: str) -> None:
    """Create a token for an account; it is printed once, alone on the last line."""
    with _transaction() as db:
        user = services.get_user(db, email)
        token = services.issue_token(db, user, name, actor=None)
    click.echo(f"token {name.strip()!r} for {user.email} ({user.role.value}); keep it secret:")
    click.echo(token)


@token_group.command("revoke")
@click.argument("email")
@click.option("--name", required=True)
@with_appcontext
@one_line_errors
def token_revoke(email: str, name: str) -> None:
    """Revoke an account's live tokens of that name."""
    with _transaction() as db:
        user = services.get_user(db, email)
        count = services.withdraw_token(db, user, name, actor=None)
    click.echo(f"{count} token{'s' if count != 1 else ''} revoked")


@token_group.command("list")
@click.argument("email")
@with_appcontext
@one_line_errors
def token_list(email: str) -> None:
    """An account's tokens: name, created, last used, revoked (never the token)."""
    with _transaction() as db:
        user = services.get_user(db, email)
        for token in services.list_tokens(db, user):
            state = "revoked" if token.revoked_at is not None else "active"
            click.echo(
                f"{token.name}\t{state}\tcreated {when(token.created_at)}"
                f"\tlast used {when(token.last_used_at)}\trevoked {when(token.revoked_at)}"
            )


def when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def register_account_commands(app: Flask) -> None:
    app.cli.add_command(user_group)
    app.cli.add_command(token_group)
