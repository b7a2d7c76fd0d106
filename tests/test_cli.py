"""The `tracker` command: demo seeding and event creation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from tracker.auth.services import authenticate
from tracker.cli import demo, event_create
from tracker.demo import DEMO_COUNTS, DEMO_SLUG, seed_demo
from tracker.models import Event, OutgoingMail, Registration, User
from tracker.registration.organisations import suggest_organisations


@pytest.fixture(autouse=True)
def english_shell(monkeypatch):
    """The command line speaks the shell's language; these tests read English."""
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "en_GB.UTF-8")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_demo_event_is_realistic_and_seeded_once(db, app_ctx):
    event, added = seed_demo(db)
    assert added == sum(DEMO_COUNTS.values()) == 130
    assert event.title.startswith("Atelier d'échanges sur l'internationalisation")
    assert "Bercy" in event.venue
    titles = [s.title for s in event.sessions]
    assert any(t.startswith("Table ronde 1") for t in titles)
    assert any(t.startswith("Table ronde 2") for t in titles)
    assert any(t.startswith("Focus") for t in titles)
    regs = db.scalars(select(Registration).where(Registration.event_id == event.id)).all()
    assert Counter(r.organisation_type.value for r in regs) == DEMO_COUNTS
    assert all(r.status == "confirmed" for r in regs)
    assert len({r.email_key for r in regs}) == 130
    assert event.registration_opens_at < event.registration_closes_at  # open now
    # Made-up people at made-up addresses: no e-mail is queued for them.
    assert db.scalar(select(func.count()).select_from(OutgoingMail)) == 0
    again, added_again = seed_demo(db)
    assert again.id == event.id and added_again == 0


def test_the_demo_organisations_are_suggested(db, app, app_ctx):
    seed_demo(db)
    db.commit()
    with app.test_client() as client:
        found = client.get("/organisations.json?q=vegepolys").get_json()
    assert [o["type"] for o in found] == ["cluster"]
    assert len(suggest_organisations(db)) >= 20


@pytest.mark.parametrize(
    ("seeded", "held"),
    [
        ("2026-11-27T10:00", "2026-12-28"),  # four weeks on is Christmas Day: the Monday after
        ("2026-06-13T10:00", "2026-07-13"),  # a Saturday: the Monday after, before 14 July
        ("2026-11-26T10:00", "2026-12-24"),  # a Thursday stays a Thursday
    ],
)
def test_the_demo_event_is_held_on_a_working_day(db, app_ctx, seeded, held):
    now = datetime.fromisoformat(seeded).replace(tzinfo=UTC)
    event, _added = seed_demo(db, now=now)
    assert event.starts_at.astimezone(ZoneInfo("Europe/Paris")).date().isoformat() == held


def test_demo_command_twice_adds_nothing(app, runner, tmp_path, monkeypatch):
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    try:
        first = runner.invoke(demo)
        assert first.exit_code == 0, first.output
        second = runner.invoke(demo)
        assert second.exit_code == 0 and "nothing added" in second.output
        # Demo accounts: made once, with their passwords kept privately and shown again.
        lines = (tmp_path / "demo-accounts.txt").read_text().splitlines()
        assert [line.split("\t")[:2] for line in lines] == [
            ["organiser", "organiser@example.org"],
            ["door", "door@example.org"],
        ]
        assert (tmp_path / "demo-accounts.txt").stat().st_mode & 0o077 == 0
        assert lines[1] in second.output
        with app.app_context(), app.extensions["db"].sessionmaker() as db:
            door = db.scalar(select(User).where(User.email_key == "door@example.org"))
            event = db.scalar(select(Event).where(Event.slug == DEMO_SLUG))
            assert door.role == "door" and door.may_access(event)
            assert authenticate(db, "door@example.org", lines[1].split("\t")[2]) is not None
    finally:
        with app.extensions["db"].sessionmaker.begin() as db:
            db.execute(delete(User).where(User.email_key.like("%@example.org")))
            db.execute(delete(Event).where(Event.slug == DEMO_SLUG))


def test_event_create(app, runner):
    args = [
        "cli-event",
        "--title",
        "Réunion des pôles",
        "--starts",
        "2030-12-10T09:00",
        "--capacity",
        "40",
        "--venue",
        "Bercy",
        "--session",
        "Plénière",
        "--session",
        "Table ronde 1",
        "--quota",
        "cluster=25",
    ]
    try:
        result = runner.invoke(event_create, args)
        assert result.exit_code == 0, result.output
        with app.extensions["db"].sessionmaker() as db:
            event = db.scalar(select(Event).where(Event.slug == "cli-event"))
            assert event.capacity == 40 and event.timezone == "Europe/Paris"
            assert event.type_quotas == {"cluster": 25}
            assert event.starts_at.hour == 8  # 09:00 in Paris in December is 08:00 UTC
            assert event.registration_closes_at == event.starts_at
            assert [s.title for s in event.sessions] == ["Plénière", "Table ronde 1"]
        again = runner.invoke(event_create, args)
        assert again.exit_code != 0 and "already exists" in again.output
    finally:
        with app.extensions["db"].sessionmaker.begin() as db:
            db.execute(delete(Event).where(Event.slug == "cli-event"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["Bad Slug!", "--title", "x", "--starts", "2030-01-01T09:00"], "slug"),
        (["ok-slug", "--title", "x", "--starts", "tomorrow"], "--starts"),
        (
            ["ok-slug", "--title", "x", "--starts", "2030-01-01T09:00", "--timezone", "Mars/Base"],
            "time zone",
        ),
        (
            [
                "ok-slug",
                "--title",
                "x",
                "--starts",
                "2030-01-01T09:00",
                "--ends",
                "2029-01-01T09:00",
            ],
            "end after",
        ),
        (
            ["ok-slug", "--title", "x", "--starts", "2030-01-01T09:00", "--capacity", "-3"],
            "capacity",
        ),
        (
            ["ok-slug", "--title", "x", "--starts", "2030-01-01T09:00", "--quota", "cluster"],
            "--quota",
        ),
        (
            ["ok-slug", "--title", "x", "--starts", "2030-01-01T09:00", "--quota", "pirates=3"],
            "quota",
        ),
    ],
)
def test_event_create_errors_are_one_line(runner, args, message):
    # one "Error: ..." line (a usage error also shows click's usage reminder above it)
    result = runner.invoke(event_create, args)
    assert result.exit_code != 0
    assert message in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Traceback" not in result.output


def test_console_script_reports_errors_in_one_line(tmp_path: Path, database_url):
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "TRACKER_INSTANCE_PATH": str(tmp_path),
    }
    tracker = Path(sys.executable).parent / "tracker"
    ok = subprocess.run([tracker, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [tracker, "event", "create", "x", "--title", "t", "--starts", "nope"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr and "--starts" in bad.stderr
    prod = subprocess.run(
        [tracker, "db", "upgrade"],
        env={**env, "TRACKER_ENV": "production"},
        capture_output=True,
        text=True,
    )
    assert prod.returncode != 0
    assert "TRACKER_SECRET_KEY" in prod.stderr and "Traceback" not in prod.stderr


def test_a_progress_bar_is_drawn_only_on_a_terminal(monkeypatch, capsys):
    import sys

    from tracker.cli import progress_bar

    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert progress_bar("Pages") is None  # a pipe or a file: the result line alone

    class Terminal:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = progress_bar("Pages")
    assert progress is not None
    for done in (0, 3, 7, 10):
        progress(done, 10)
    assert "Pages" in terminal.text and "10/10" in terminal.text
