"""The `tracker` command (also `flask --app tracker ...`).

Errors are one line on standard error and a non-zero exit, never a traceback.

Every message and help text speaks the shell's language (LC_ALL, LC_MESSAGES, LANG:
tracker.i18n.select_locale). Help texts are lazy (`_l`), translated when shown: a
command's `help=` as click keeps it, an option's through `option` below (click would
otherwise turn it into the English text when the module is imported). Click's own words
("Usage:", "Options:", its errors) come from the same catalogue (`translate_click`).
"""

from __future__ import annotations

import functools
import gettext
import logging
import re
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.exc import SQLAlchemyError

from tracker.errors import DomainError
from tracker.i18n import lazy_gettext as _l

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"


def translate_click() -> None:
    """Click says its own words ("Usage:", "Options", "Missing option"...) through the
    standard library's gettext, default domain "messages", in the language of LANGUAGE,
    LC_ALL, LC_MESSAGES or LANG (as tracker.i18n chooses ours): that domain is bound to
    the app's catalogue, which holds them (`_click_messages`)."""
    gettext.bindtextdomain("messages", str(TRANSLATIONS_DIR))


def _click_messages() -> None:  # pragma: no cover - never called: read by extraction
    """Click's messages that the commands of tracker can show, so that the catalogue
    carries their translations (placeholders in braces are click's)."""
    _("Usage:")
    _("Options")
    _("Commands")
    _("Positional arguments")
    _("Show this message and exit.")
    _("Error: {message}")
    _("Try '{command} {option}' for help.")
    _("Invalid value for {param_hint}: {message}")
    _("Invalid value: {message}")
    _("Missing argument")
    _("Missing option")
    _("Missing parameter")
    _("Missing {param_type}")
    _("Missing command.")
    _("No such option {name!r}.")
    _("No such command {name!r}.")
    _("Option {name!r} does not take a value.")
    _("default: {default}")
    _("required")
    _("Aborted!")
    _("Error: The two entered values do not match.")
    _("{value!r} is not a valid {number_type}.")
    _("{value} is not in the range {range}.")
    _("file")
    _("directory")
    _("path")
    _("{name} {filename!r} does not exist.")
    _("{name} {filename!r} is a directory.")
    _("{name} {filename!r} is not readable.")
    _("{name} {filename!r} is not writable.")
    ngettext("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})", 1)
    ngettext(
        "Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments.", 1
    )
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 1)
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 1)


class Option(click.Option):
    """A click option whose help stays the lazy message it was given, translated each
    time the help is shown (click.Option would clean it into a plain string at import
    time, before any language is known)."""

    def __init__(self, *args: Any, help: Any = None, **kwargs: Any) -> None:  # noqa: A002
        super().__init__(*args, **kwargs)
        self.help = help

    @property
    def help(self) -> str | None:
        return None if self._help is None else str(self._help)

    @help.setter
    def help(self, value: Any) -> None:
        self._help = value


def option(*names: str, **attrs: Any) -> Callable[..., Any]:
    """`click.option` for the commands of tracker: its help is translated when shown."""
    return click.option(*names, cls=Option, **attrs)


def progress_bar(label: str) -> Callable[[int, int], None] | None:
    """A `progress(done, total)` that draws a bar on the terminal (on standard error,
    so that the command's output stays clean), or None when standard output is not a
    terminal: a script or a pipe gets only the command's result."""
    if not sys.stdout.isatty():
        return None
    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = click.progressbar(
                length=total, label=label, file=sys.stderr, show_pos=True
            )
            bar.render_progress()
        bar.update(done - bar.pos)
        if done >= total:
            bar.render_finish()

    return progress


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as e:
            raise click.ClickException(str(e.message)) from None
        except SQLAlchemyError as e:
            first_line = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
            raise click.ClickException(_("database error: %(error)s", error=first_line)) from None
        except (OSError, RuntimeError, ValueError) as e:
            raise click.ClickException(str(e)) from None

    return wrapper


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade_database(engine: Any, revision: str = "head") -> None:
    from alembic import command

    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)
        return
    # SQLite alters a table by copying it, dropping the old one and renaming the copy
    # (Alembic's batch mode). With foreign keys enforced, dropping a table deletes the
    # rows of other tables that refer to it (ON DELETE CASCADE): check-ins, choices of
    # sessions, history. Enforcement is switched off for the migration (the pragma works
    # only outside a transaction) and the references are checked before committing.
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        driver.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                command.upgrade(alembic_config(connection), revision)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(
                        _("the migration left broken references: %(rows)s", rows=broken[:5])
                    )
        finally:
            driver.execute("PRAGMA foreign_keys=ON")


def _parse_local(value: str, tz: str, option: str, field: str) -> datetime:
    """A local time typed in `tz` (or with its own offset), aware; a time the clocks
    skip or repeat in `tz` is refused with the organiser screens' message, naming the
    `field` as the screens and the service do (starts_at, ends_at)."""
    from tracker.events.services import local_to_utc

    try:
        typed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            _("“%(value)s” is not a date and time like 2026-12-10T09:00", value=value),
            param_hint=option,
        ) from None
    return local_to_utc(typed, tz, field=field)  # type: ignore[return-value]


db_group = click.Group("db", help=_l("Database schema."))


@db_group.command("upgrade", help=_l("Apply the Alembic migrations."))
@option(
    "--revision",
    default="head",
    show_default=True,
    help=_l("The Alembic revision to reach."),
)
@with_appcontext
@one_line_errors
def db_upgrade(revision: str) -> None:
    upgrade_database(current_app.extensions["db"].engine, revision)
    click.echo(_("database at %(revision)s", revision=revision))


@click.command("demo", help=_l("Create the demo event (bercy-2012) with its registrations, once."))
@with_appcontext
@one_line_errors
def demo() -> None:
    from tracker.demo import seed_demo

    with current_app.extensions["db"].sessionmaker.begin() as db:
        event, created = seed_demo(db)
        if created:
            click.echo(
                _(
                    "demo event %(slug)s created with %(count)d registrations",
                    slug=event.slug,
                    count=created,
                )
            )
        else:
            click.echo(_("demo event %(slug)s already present: nothing added", slug=event.slug))
        if current_app.config["ENV_NAME"] != "production":
            _demo_accounts(db, event)


def _demo_accounts(db: Any, event: Any) -> None:
    """An organiser and a door account for the demo event, each with a random password
    kept (0600) in instance/demo-accounts.txt: created once, shown every time."""
    import secrets

    from sqlalchemy import func, select

    from tracker.auth.services import create_user
    from tracker.models import Role, User

    path = Path(current_app.instance_path) / "demo-accounts.txt"
    if db.scalar(select(func.count(User.id))) == 0:
        lines = []
        for email, role in [
            ("organiser@example.org", Role.ORGANISER),
            ("door@example.org", Role.DOOR),
        ]:
            password = secrets.token_urlsafe(12)
            create_user(db, email, password, role, [event])
            lines.append(f"{role.value}\t{email}\t{password}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    if path.exists():
        click.echo(_("demo accounts (log in at /login):"))
        click.echo(path.read_text().rstrip())


event_group = click.Group("event", help=_l("Events."))


@event_group.command(
    "create", help=_l("Create an event; registration opens now and closes at its start.")
)
@click.argument("slug")
@option("--title", required=True, help=_l("The event’s title."))
@option("--starts", required=True, help=_l("Local start, e.g. 2026-12-10T09:00"))
@option("--ends", help=_l("Local end (default: 8 hours after the start)"))
@option(
    "--timezone",
    "tz",
    default="Europe/Paris",
    show_default=True,
    help=_l("The time zone of the local times."),
)
@option("--venue", help=_l("Where the event takes place."))
@option("--organiser", help=_l("Who organises the event."))
@option(
    "--capacity",
    type=click.IntRange(min=0),
    help=_l("The number of places (none: no limit)."),
)
@option(
    "--session",
    "sessions",
    multiple=True,
    metavar="TITLE[@START/END]",
    help=_l(
        "A session, with its local times if given, e.g. "
        "'Table ronde 1@2026-12-10T11:00/2026-12-10T12:30' (repeatable)"
    ),
)
@option(
    "--quota",
    "quotas",
    multiple=True,
    metavar="TYPE=N",
    help=_l("At most N confirmed people of an organisation type, e.g. cluster=60 (repeatable)"),
)
@option(
    "--per-organisation",
    type=click.IntRange(min=0),
    help=_l("At most N confirmed people of one organisation (none: no cap)."),
)
@option(
    "--per-organisation-type",
    "per_organisation_types",
    multiple=True,
    metavar="TYPE=N",
    help=_l(
        "At most N confirmed people of one organisation of a type, e.g. cluster=2 "
        "(repeatable; overrides --per-organisation for that type)"
    ),
)
@option(
    "--visibility",
    type=click.Choice(["draft", "unlisted", "public"]),
    default="public",
    show_default=True,
    help=_l(
        "draft: only its organisers and admins see it; unlisted: reachable by its link, "
        "not on the home page; public: listed on the home page"
    ),
)
@option(
    "--reminder-days",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help=_l("The reminder is e-mailed this many days before the start (0: no reminder)."),
)
@option(
    "--admission",
    type=click.Choice(["open", "invitation", "mixed"]),
    default="open",
    show_default=True,
    help=_l(
        "open: anyone registers through the public form; invitation: only through an "
        "invitation's link; mixed: both"
    ),
)
@option(
    "--reserved-for-invitees",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help=_l("Places of the capacity held for people registering through an invitation."),
)
@with_appcontext
@one_line_errors
def event_create(
    slug: str,
    title: str,
    starts: str,
    ends: str | None,
    tz: str,
    venue: str | None,
    organiser: str | None,
    capacity: int | None,
    sessions: tuple[str, ...],
    quotas: tuple[str, ...],
    per_organisation: int | None,
    per_organisation_types: tuple[str, ...],
    visibility: str,
    reminder_days: int,
    admission: str,
    reserved_for_invitees: int,
) -> None:
    from tracker.events.services import EventSpec, create_event

    spec = EventSpec(
        slug=slug,
        title=title,
        timezone=tz,
        venue=venue,
        organiser=organiser,
        capacity=capacity,
        starts_at=_parse_local(starts, tz, "--starts", "starts_at"),
        ends_at=_parse_local(ends, tz, "--ends", "ends_at") if ends else None,
        sessions=[_parse_session(value, tz) for value in sessions],
        type_quotas=_parse_quotas(quotas),
        per_organisation=per_organisation,
        per_organisation_types=_parse_quotas(
            per_organisation_types, option="--per-organisation-type"
        ),
        visibility=visibility,
        reminder_days=reminder_days or None,
        admission=admission,
        reserved_for_invitees=reserved_for_invitees,
    )
    with current_app.extensions["db"].sessionmaker.begin() as db:
        event = create_event(db, spec, actor=None)
        click.echo(_("event %(slug)s created (id %(id)d)", slug=event.slug, id=event.id))
        for s in event.sessions:
            click.echo("  " + _("session %(id)d: %(title)s", id=s.id, title=s.title))


# "Title@2026-12-10T11:00/2026-12-10T12:30": a title, then its local start and end.
_SESSION_TIMES = re.compile(r"^(?P<title>.*\S)\s*@\s*(?P<when>\d{4}-\d{2}-\d{2}.*)$")


def _parse_session(value: str, tz: str) -> Any:
    """A --session value: a title alone, or TITLE@START/END with local times in `tz`
    (START and END like 2026-12-10T11:00, or END as 12:30 on the start's day)."""
    from tracker.events.services import SessionSpec

    found = _SESSION_TIMES.match(value.strip())
    if found is None:
        return SessionSpec(title=value)
    starts_text, _slash, ends_text = found["when"].partition("/")
    starts = _parse_local(starts_text.strip(), tz, "--session", "starts_at")
    ends_text = ends_text.strip()
    if len(ends_text) <= 5:  # a time of the start's day
        ends_text = f"{starts_text.strip()[:10]}T{ends_text}"
    ends = _parse_local(ends_text, tz, "--session", "ends_at")
    return SessionSpec(title=found["title"], starts_at=starts, ends_at=ends)


def _parse_quotas(values: tuple[str, ...], option: str = "--quota") -> dict[str, int]:
    quotas = {}
    for value in values:
        type_, _equals, number = value.partition("=")
        if not number.isdigit():
            raise click.BadParameter(
                _("“%(value)s” is not TYPE=N, e.g. cluster=60", value=value),
                param_hint=option,
            )
        quotas[type_.strip()] = int(number)
    return quotas


@click.command("worker", help=_l("Run the background jobs (e-mails...) until stopped."))
@option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help=_l("Jobs run at once (default: TRACKER_WORKER_THREADS, 2)."),
)
@with_appcontext
@one_line_errors
def worker(threads: int | None) -> None:
    from tracker import jobs

    consumer = jobs.create_consumer(threads or current_app.config["WORKER_THREADS"])
    consumer.run()  # until SIGINT (finishes the running jobs) or SIGTERM


def register_commands(app: Flask) -> None:
    translate_click()
    app.cli.add_command(db_group)
    app.cli.add_command(demo)
    app.cli.add_command(worker)
    app.cli.add_command(event_group)
    from tracker.auth.cli import register_account_commands  # user, token

    register_account_commands(app)
    from tracker.organiser.commands import import_command  # tracker import SLUG FILE

    app.cli.add_command(import_command)
    from tracker.badges.cli import badges_command  # tracker badges SLUG -o FILE

    app.cli.add_command(badges_command)
    from tracker.reports.cli import export_command  # tracker export SLUG --what ... -o FILE

    app.cli.add_command(export_command)
    from tracker.registration.cli import capacity_group  # tracker capacity recompute [SLUG]

    app.cli.add_command(capacity_group)
    from tracker.questions.cli import question_group  # tracker question add SLUG ...

    app.cli.add_command(question_group)

    from tracker.backup import backup_command, restore_command  # tracker backup, restore

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)

    from tracker.mailings.cli import mail_command, reminders_command  # tracker mail SLUG

    app.cli.add_command(mail_command)
    app.cli.add_command(reminders_command)

    from tracker.privacy.cli import retention_group  # tracker retention run [--dry-run]

    app.cli.add_command(retention_group)

    from tracker.invitations.cli import invite_command  # tracker invite SLUG FILE [--send]

    app.cli.add_command(invite_command)


def _create_app() -> Flask:
    from tracker import create_app

    try:
        return create_app()
    except RuntimeError as e:  # configuration refused
        raise click.ClickException(str(e)) from None


class _Tracker(FlaskGroup):
    """`tracker`: its own help is written in the app's context, so in the shell's
    language (a subcommand's help already is: Flask loads the app to find it)."""

    def get_help(self, ctx: click.Context) -> str:
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except click.ClickException:  # the app cannot start: help in English, then why
            return super().get_help(ctx)
        with app.app_context():
            return super().get_help(ctx)


def command_line(create_app: Callable[[], Flask] = _create_app) -> click.Group:
    """The `tracker` command, its app made by `create_app`."""
    translate_click()  # before the app exists: click's words of the top-level help too
    return _Tracker(create_app=create_app, help=_l("tracker: event registration and check-in."))


def main() -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    command_line()()
