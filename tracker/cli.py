"""The `tracker` command (also `flask --app tracker ...`).

Errors are one line on standard error and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from tracker.errors import DomainError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DomainError as e:
            raise click.ClickException(str(e.message)) from None
        except SQLAlchemyError as e:
            first_line = str(e.orig if getattr(e, "orig", None) else e).strip().splitlines()[0]
            raise click.ClickException(f"database error: {first_line}") from None
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
                    raise RuntimeError(f"the migration left broken references: {broken[:5]}")
        finally:
            driver.execute("PRAGMA foreign_keys=ON")


def _parse_local(value: str, tz: str, option: str) -> datetime:
    """A local time typed in `tz` (or with its own offset), aware; a time the clocks
    skip or repeat in `tz` is refused with the organiser screens' message."""
    from tracker.events.services import local_to_utc

    try:
        typed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date and time like 2026-12-10T09:00", param_hint=option
        ) from None
    return local_to_utc(typed, tz, field=option.lstrip("-"))  # type: ignore[return-value]


db_group = click.Group("db", help="Database schema.")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
@one_line_errors
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations."""
    upgrade_database(current_app.extensions["db"].engine, revision)
    click.echo(f"database at {revision}")


@click.command("demo")
@with_appcontext
@one_line_errors
def demo() -> None:
    """Create the demo event (bercy-2012) with its registrations, once."""
    from tracker.demo import seed_demo

    with current_app.extensions["db"].sessionmaker.begin() as db:
        event, created = seed_demo(db)
        if created:
            click.echo(f"demo event {event.slug} created with {created} registrations")
        else:
            click.echo(f"demo event {event.slug} already present: nothing added")
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
        click.echo(f"demo accounts (log in at /login):\n{path.read_text().rstrip()}")


event_group = click.Group("event", help="Events.")


@event_group.command("create")
@click.argument("slug")
@click.option("--title", required=True)
@click.option("--starts", required=True, help="Local start, e.g. 2026-12-10T09:00")
@click.option("--ends", help="Local end (default: 8 hours after the start)")
@click.option("--timezone", "tz", default="Europe/Paris", show_default=True)
@click.option("--venue")
@click.option("--organiser")
@click.option("--capacity", type=click.IntRange(min=0))
@click.option(
    "--session",
    "sessions",
    multiple=True,
    metavar="TITLE[@START/END]",
    help="A session, with its local times if given, e.g. "
    "'Table ronde 1@2026-12-10T11:00/2026-12-10T12:30' (repeatable)",
)
@click.option(
    "--quota",
    "quotas",
    multiple=True,
    metavar="TYPE=N",
    help="At most N confirmed people of an organisation type, e.g. cluster=60 (repeatable)",
)
@click.option(
    "--visibility",
    type=click.Choice(["draft", "unlisted", "public"]),
    default="public",
    show_default=True,
    help="draft: only its organisers and admins see it; unlisted: reachable by its link, "
    "not on the home page; public: listed on the home page",
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
    visibility: str,
) -> None:
    """Create an event; registration opens now and closes at its start."""
    from tracker.events.services import EventSpec, create_event

    spec = EventSpec(
        slug=slug,
        title=title,
        timezone=tz,
        venue=venue,
        organiser=organiser,
        capacity=capacity,
        starts_at=_parse_local(starts, tz, "--starts"),
        ends_at=_parse_local(ends, tz, "--ends") if ends else None,
        sessions=[_parse_session(value, tz) for value in sessions],
        type_quotas=_parse_quotas(quotas),
        visibility=visibility,
    )
    with current_app.extensions["db"].sessionmaker.begin() as db:
        event = create_event(db, spec)
        click.echo(f"event {event.slug} created (id {event.id})")
        for s in event.sessions:
            click.echo(f"  session {s.id}: {s.title}")


# "Title@2026-12-10T11:00/2026-12-10T12:30": a title, then its local start and end.
_SESSION_TIMES = re.compile(r"^(?P<title>.*\S)\s*@\s*(?P<when>\d{4}-\d{2}-\d{2}.*)$")


def _parse_session(value: str, tz: str) -> Any:
    """A --session value: a title alone, or TITLE@START/END with local times in `tz`
    (START and END like 2026-12-10T11:00, or END as 12:30 on the start's day)."""
    from tracker.events.services import SessionSpec

    found = _SESSION_TIMES.match(value.strip())
    if found is None:
        return SessionSpec(title=value)
    starts_text, _, ends_text = found["when"].partition("/")
    starts = _parse_local(starts_text.strip(), tz, "--session")
    ends_text = ends_text.strip()
    if len(ends_text) <= 5:  # a time of the start's day
        ends_text = f"{starts_text.strip()[:10]}T{ends_text}"
    ends = _parse_local(ends_text, tz, "--session")
    return SessionSpec(title=found["title"], starts_at=starts, ends_at=ends)


def _parse_quotas(values: tuple[str, ...]) -> dict[str, int]:
    quotas = {}
    for value in values:
        type_, _, number = value.partition("=")
        if not number.isdigit():
            raise click.BadParameter(
                f"{value!r} is not TYPE=N, e.g. cluster=60", param_hint="--quota"
            )
        quotas[type_.strip()] = int(number)
    return quotas


def register_commands(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo)
    app.cli.add_command(event_group)
    from tracker.auth.cli import register_account_commands  # user, token

    register_account_commands(app)
    from tracker.organiser.commands import import_command  # tracker import SLUG FILE

    app.cli.add_command(import_command)
    from tracker.badges.cli import badges_command  # tracker badges SLUG -o FILE

    app.cli.add_command(badges_command)
    from tracker.reports.cli import export_command  # tracker export SLUG --what ... -o FILE

    app.cli.add_command(export_command)


def _create_app() -> Flask:
    from tracker import create_app

    try:
        return create_app()
    except RuntimeError as e:  # configuration refused
        raise click.ClickException(str(e)) from None


def main() -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    FlaskGroup(create_app=_create_app, help="tracker: event registration and check-in.")()
