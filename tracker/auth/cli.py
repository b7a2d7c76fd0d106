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
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.orm import Session as DbSession

from tracker.auth import ratelimit, services
from tracker.cli import one_line_errors, option
from tracker.i18n import lazy_gettext as _l
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
            raise click.ClickException(_("no password on the first line of standard input"))
        return password
    return click.prompt(
        _("Password"),
        hide_input=True,
        confirmation_prompt=_("Repeat the password"),
    )


PASSWORD_STDIN_HELP = _l("Read the password from the first line of stdin.")

user_group = click.Group("user", help=_l("Organiser, door and admin accounts."))


@user_group.command("add", help=_l("Create an account; asks for its password twice."))
@click.argument("email")
@option(
    "--role",
    required=True,
    type=click.Choice(ROLES),
    help=_l("What the account may do: organiser, door or admin."),
)
@option(
    "--event",
    "events",
    multiple=True,
    metavar="SLUG",
    help=_l("An event the account may act on (repeatable; admins may act on all)."),
)
@option("--password-stdin", is_flag=True, help=PASSWORD_STDIN_HELP)
@with_appcontext
@one_line_errors
def user_add(email: str, role: str, events: tuple[str, ...], password_stdin: bool) -> None:
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
        click.echo(
            _("account %(email)s created (%(role)s)", email=user.email, role=user.role.value)
        )


@user_group.command("list", help=_l("Every account: address, role, events, status."))
@with_appcontext
@one_line_errors
def user_list() -> None:
    with _transaction() as db:
        for user in services.list_users(db):
            events = (
                _("all events")
                if user.role == Role.ADMIN
                else ",".join(sorted(e.slug for e in user.events)) or "-"
            )
            status = _("active") if user.active else _("disabled")
            click.echo("\t".join([user.email, user.role.value, status, events]))


def _set_active(email: str, active: bool) -> None:
    with _transaction() as db:
        user = services.get_user(db, email)
        changed = services.set_active(db, user, active, actor=None)
        if active:
            click.echo(
                _("account %(email)s enabled", email=user.email)
                if changed
                else _("already enabled")
            )
        else:
            click.echo(
                _("account %(email)s disabled", email=user.email)
                if changed
                else _("already disabled")
            )
        if changed:
            click.echo(
                _("its sessions ended")
                if active
                else _("its sessions ended and its API tokens revoked")
            )


@user_group.command(
    "disable",
    help=_l("Disable an account: no login, its sessions end, its API tokens are revoked."),
)
@click.argument("email")
@with_appcontext
@one_line_errors
def user_disable(email: str) -> None:
    _set_active(email, False)


@user_group.command(
    "enable", help=_l("Enable a disabled account again (its revoked API tokens stay revoked).")
)
@click.argument("email")
@with_appcontext
@one_line_errors
def user_enable(email: str) -> None:
    _set_active(email, True)


@user_group.command(
    "unlock", help=_l("Lift the login locks of an account typed as EMAIL, from every address.")
)
@click.argument("email")
@with_appcontext
@one_line_errors
def user_unlock(email: str) -> None:
    failures = ratelimit.unlock(email)
    click.echo(
        ngettext(
            "login locks of %(email)s lifted, from every address (%(num)d failed login forgotten)",
            "login locks of %(email)s lifted, from every address (%(num)d failed logins forgotten)",
            failures,
            email=email.strip(),
        )
    )
    if not ratelimit.limiter_for(current_app).shared:
        click.echo(
            _(
                "warning: TRACKER_RATELIMIT_STORAGE_URL is memory://, so each app process "
                "keeps its own counters, out of reach of this command: restart the app to "
                "clear them"
            ),
            err=True,
        )


@user_group.command(
    "password",
    help=_l("Set a new password for an account: its sessions end, its API tokens are revoked."),
)
@click.argument("email")
@option("--password-stdin", is_flag=True, help=PASSWORD_STDIN_HELP)
@with_appcontext
@one_line_errors
def user_password(email: str, password_stdin: bool) -> None:
    with _transaction() as db:
        services.get_user(db, email)
    password = _read_password(password_stdin)
    with _transaction() as db:
        user = services.get_user(db, email)
        revoked = services.set_password(db, user, password, actor=None)
        click.echo(
            ngettext(
                "password of %(email)s changed; its sessions ended and %(num)d API token revoked",
                "password of %(email)s changed; its sessions ended and %(num)d API tokens revoked",
                revoked,
                email=user.email,
            )
        )


token_group = click.Group("token", help=_l("API tokens (Authorization: Bearer ...)."))


@token_group.command(
    "create",
    help=_l("Create a token for an account; it is printed once, alone on the last line."),
)
@click.argument("email")
@option("--name", required=True, help=_l("What the token is for, e.g. “Door A”."))
@with_appcontext
@one_line_errors
def token_create(email: str, name: str) -> None:
    with _transaction() as db:
        user = services.get_user(db, email)
        token = services.issue_token(db, user, name, actor=None)
    click.echo(
        _(
            "token “%(name)s” for %(email)s (%(role)s); keep it secret:",
            name=name.strip(),
            email=user.email,
            role=user.role.value,
        )
    )
    click.echo(token)


@token_group.command("revoke", help=_l("Revoke an account’s live tokens of that name."))
@click.argument("email")
@option("--name", required=True, help=_l("The name of the tokens to revoke."))
@with_appcontext
@one_line_errors
def token_revoke(email: str, name: str) -> None:
    with _transaction() as db:
        user = services.get_user(db, email)
        count = services.withdraw_token(db, user, name, actor=None)
    click.echo(ngettext("%(num)d token revoked", "%(num)d tokens revoked", count))


@token_group.command(
    "list",
    help=_l("An account’s tokens: name, created, last used, revoked (never the token)."),
)
@click.argument("email")
@with_appcontext
@one_line_errors
def token_list(email: str) -> None:
    with _transaction() as db:
        user = services.get_user(db, email)
        for token in services.list_tokens(db, user):
            state = _("revoked") if token.revoked_at is not None else _("active")
            click.echo(
                "\t".join(
                    [
                        token.name,
                        state,
                        _("created %(when)s", when=when(token.created_at)),
                        _("last used %(when)s", when=when(token.last_used_at)),
                        _("revoked %(when)s", when=when(token.revoked_at)),
                    ]
                )
            )


def when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def register_account_commands(app: Flask) -> None:
    app.cli.add_command(user_group)
    app.cli.add_command(token_group)
