"""`tracker backup -o FILE` and `tracker restore FILE`.

SQLite: SQLite's online backup API, one consistent copy of the database while the app
goes on writing (readers and the writer carry on meanwhile: WAL), into a temporary file
renamed to FILE once complete. PostgreSQL: pg_dump's custom format (a consistent
snapshot too), restored with pg_restore in one transaction. A restore goes only into an
empty database: it never mixes a backup with rows already there.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import Engine, inspect
from sqlalchemy.engine import URL

from tracker.cli import one_line_errors, option
from tracker.i18n import lazy_gettext as _l

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


def _engine() -> Engine:
    return current_app.extensions["db"].engine


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise RuntimeError(_("an in-memory database cannot be backed up or restored"))
    return Path(url.database)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            _(
                "%(tool)s is not installed: install the PostgreSQL client tools "
                "(Debian: apt-get install postgresql-client), of the server's version or newer",
                tool=name,
            )
        )
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The connection string for pg_dump and pg_restore, without the password, which
    goes in the environment (a command line is visible to every account)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise RuntimeError(
            _(
                "%(tool)s failed: %(error)s",
                tool=Path(command[0]).name,
                error=lines[0] if lines else done.returncode,
            )
        )


def backup(engine: Engine, target: Path) -> None:
    """A copy of the whole database in `target` (replaced once the copy is complete)."""
    url = engine.url
    target = target.resolve()
    if not target.parent.is_dir():
        raise RuntimeError(_("the folder %(folder)s does not exist", folder=target.parent))
    handle, partial = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(handle)
    try:
        if url.get_backend_name() == "sqlite":
            source = sqlite3.connect(_sqlite_path(url))
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)  # all pages in one step: one consistent snapshot
                # One self-contained file (a WAL database's copy would be WAL too).
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
                source.close()
        else:
            dsn, env = _libpq(url)
            _run(
                [
                    _tool("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={partial}",
                    f"--dbname={dsn}",
                ],
                env,
            )
        os.chmod(partial, 0o600)  # personal data: for the account that made it
        os.replace(partial, target)
    except sqlite3.Error as e:
        raise RuntimeError(_("the backup failed: %(error)s", error=e)) from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _kind(source: Path) -> str:
    try:
        with source.open("rb") as f:
            start = f.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        raise RuntimeError(_("%(file)s does not exist", file=source)) from None
    if start.startswith(SQLITE_MAGIC):
        return "sqlite"
    if start.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise RuntimeError(_("%(file)s is not a backup made by tracker backup", file=source))


def restore(engine: Engine, source: Path) -> None:
    """The backup `source` into the database, which must be empty."""
    url = engine.url
    backend = url.get_backend_name()
    kind = _kind(source)
    if kind != backend:
        raise RuntimeError(
            _(
                "%(file)s is a backup of a %(kind)s database: it cannot be restored into "
                "a %(backend)s one",
                file=source,
                kind="SQLite" if kind == "sqlite" else "PostgreSQL",
                backend="SQLite" if backend == "sqlite" else "PostgreSQL",
            )
        )
    tables = inspect(engine).get_table_names()
    engine.dispose()
    if tables:
        raise RuntimeError(
            _(
                "the database is not empty (%(count)d tables): restore into an empty "
                "database, never over one in use",
                count=len(tables),
            )
        )
    if backend == "sqlite":
        try:
            backup_file = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
            if not backup_file.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'"
            ).fetchone():
                raise RuntimeError(
                    _("%(file)s is not a backup made by tracker backup", file=source)
                )
            target = sqlite3.connect(_sqlite_path(url))
            try:
                backup_file.backup(target)
            finally:
                target.close()
                backup_file.close()
        except sqlite3.Error as e:
            raise RuntimeError(_("the restore failed: %(error)s", error=e)) from None
        return
    dsn, env = _libpq(url)
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={dsn}",
            str(source),
        ],
        env,
    )


@click.command("backup", help=_l("Copy the whole database into a file, while the app runs."))
@option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_l("The backup file to write (replaced if it exists)."),
)
@with_appcontext
@one_line_errors
def backup_command(output: Path) -> None:
    backup(_engine(), output)
    size = output.stat().st_size
    click.echo(_("database backed up to %(file)s (%(size)d bytes)", file=output, size=size))


@click.command(
    "restore", help=_l("Restore a backup made by tracker backup into an empty database.")
)
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@one_line_errors
def restore_command(source: Path) -> None:
    restore(_engine(), source)
    click.echo(_("database restored from %(file)s", file=source))
