"""Mailings speed: what an organiser's message, the reminder and a certificate cost.

    .venv/bin/python benchmarks/mailing.py [--count 1000] [--database-url URL]

Makes a scratch database (a SQLite file in a temporary folder, or a scratch PostgreSQL
database beside --database-url, dropped at the end), applies the migrations, registers
--count people through the real registration service (a third in English), checks every
second one in, then times, as the request or the worker does them: the preview of a
message to everyone (count, one e-mail per language), sending it (the request records
the mailing), its job (each e-mail written and put in the outbox with its history
entry, in one transaction), the reminder run
(claimed and queued for everyone, then a second run that finds nobody), and one
certificate of attendance as a PDF (twice: the first render of a process also loads the
fonts). The queue is memory://: nothing is sent, the outbox rows are counted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session as DbSession  # noqa: E402

from benchmarks.harness import person, scratch_database  # noqa: E402
from tracker import create_app  # noqa: E402
from tracker.checkin.services import check_in  # noqa: E402
from tracker.cli import upgrade_database  # noqa: E402
from tracker.db import utcnow  # noqa: E402
from tracker.events.services import EventSpec, SessionSpec, create_event  # noqa: E402
from tracker.mailings import services  # noqa: E402
from tracker.mailings.certificate import render_certificate  # noqa: E402
from tracker.models import OutgoingMail, Registration  # noqa: E402
from tracker.organiser.services import Filters  # noqa: E402
from tracker.registration.services import register  # noqa: E402

BODY = """Bonjour,

L’accueil ouvre à 8 h 30, bâtiment Colbert, 139 rue de Bercy, Paris 12e.
Pensez à votre pièce d’identité : l’entrée du ministère la demande.

À bientôt."""


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"{label:<48} {time.perf_counter() - started:8.3f} s")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="tracker-mailing-bench-") as tmp,
        scratch_database(args.database_url, Path(tmp)) as url,
    ):
        app = create_app(
            {
                "DATABASE_URL": url,
                "MAIL_OUTBOX": str(Path(tmp) / "outbox"),
                "QUEUE_URL": "memory://",
                "SERVER_NAME": None,
            }
        )
        engine = app.extensions["db"].engine
        upgrade_database(engine)
        with app.test_request_context("/", headers={"Accept-Language": "fr"}):
            db = DbSession(engine, expire_on_commit=False)
            now = utcnow()
            event = create_event(
                db,
                EventSpec(
                    slug="bench-mailing",
                    title="Journée nationale des pôles de compétitivité",
                    organiser="Direction générale des entreprises",
                    starts_at=now + timedelta(days=1),
                    venue="Bercy, Paris",
                    capacity=args.count + 10,
                    registration_opens_at=now - timedelta(days=10),
                    sessions=[SessionSpec("Plénière", "plenary")],
                ),
            )
            people = [
                register(
                    db,
                    event,
                    person(n, locale="en" if n % 3 == 0 else "fr"),
                    now=now - timedelta(days=5),
                )
                for n in range(args.count)
            ]
            for registration in people[::2]:
                check_in(db, event, actor=None, door="A", code=registration.checkin_code)
            for registration in people:
                registration.created_at = now - timedelta(days=5)
            db.commit()
            outbox = select(func.count()).select_from(OutgoingMail)
            before = db.scalar(outbox) or 0
            print(f"{args.count} people registered ({engine.dialect.name})")

            draft = services.Draft("Plan d’accès", BODY)
            _draft, preview = timed(
                "preview (count, one e-mail per language)",
                services.preview_message,
                db,
                event,
                Filters(),
                draft,
            )
            sent = timed(
                "send the message (the request: recorded)",
                services.send_message,
                db,
                event,
                Filters(),
                draft,
                actor=None,
                nonce=services.new_nonce(),
                expected=preview.recipients.count,
            )
            timed("  commit", db.commit)
            timed(
                "its job: each e-mail in the outbox + history",
                services.deliver_mailing,
                db,
                sent.mailing.id,
            )
            timed("  commit", db.commit)
            queued = (db.scalar(outbox) or 0) - before
            print(f"  {sent.mailing.recipients} recipients, {queued} e-mails in the outbox")
            reminded = timed(
                "reminders due now (claim + queue)", services.send_reminders, db, event
            )
            timed("  commit", db.commit)
            again = timed("reminders again (nobody left)", services.send_reminders, db, event)
            print(f"  {len(reminded)} reminded, then {len(again)}")

            event.starts_at, event.ends_at = now - timedelta(hours=9), now - timedelta(hours=1)
            db.commit()
            present = db.get(Registration, people[0].id)
            first = timed("one certificate (first of the process)", render_certificate, db, present)
            timed("one certificate (next)", render_certificate, db, present)
            print(f"  {len(first)} bytes")
            db.close()
        engine.dispose()
    ok = queued == args.count and len(reminded) == args.count and not again
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
