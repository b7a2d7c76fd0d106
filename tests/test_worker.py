"""`tracker worker` as its own process: killed (SIGKILL) in the middle of a batch of
e-mails and started again, it sends every one of them, each exactly once.

The app and the worker share a SQLite database file and a SQLite queue file, as `make
run` does; the mail server (aiosmtpd, in this process) holds the conversation of the
sixth message until the worker has been killed, so that the kill always falls in the
middle of the batch, with a message claimed and not sent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from tests.conftest import Collector, free_port, make_event, registration_data
from tracker import create_app
from tracker.cli import upgrade_database
from tracker.db import utcnow
from tracker.models import MailState, OutgoingMail
from tracker.registration.services import register

pytestmark = pytest.mark.slow

BATCH = 20
SENT_BEFORE_THE_KILL = 5


@dataclass
class Holding(Collector):
    """Takes SENT_BEFORE_THE_KILL messages, then holds every new conversation at MAIL
    FROM until `release` is set (the worker is dead by then: nothing more arrives on
    those connections)."""

    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    # Conversations let past MAIL FROM: counted there, not when a message is received,
    # since the worker's threads talk to the server at the same time (two could pass
    # the check before either's message arrived). The server's one event loop runs
    # the check and the count with no await between them.
    accepted: int = 0

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.accepted >= SENT_BEFORE_THE_KILL and not self.release.is_set():
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return "421 4.3.0 Closing"  # to a worker that is gone
        self.accepted += 1
        envelope.mail_from = address
        return "250 OK"


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s for {what}")
        time.sleep(0.05)


@pytest.fixture
def worker_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_INSTANCE_PATH=str(tmp_path / "instance"),
        TRACKER_DATABASE_URL=f"sqlite:///{tmp_path / 'tracker.sqlite3'}",
        TRACKER_QUEUE_URL=f"sqlite:///{tmp_path / 'queue.sqlite3'}",
        TRACKER_MAIL_SERVER="127.0.0.1",
        TRACKER_MAIL_TIMEOUT="0.5",  # a worker's claim on a mail lasts 10 s then
        TRACKER_WORKER_THREADS="2",
        TRACKER_BASE_URL="https://tracker.example",
    )
    yield env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    tracker = Path(sys.executable).with_name("tracker")
    return subprocess.Popen(  # noqa: S603 - our own command
        [str(tracker), "worker"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def test_a_worker_killed_in_the_middle_of_a_batch_sends_every_mail_once_restarted(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    handler = Holding()
    port = free_port()
    worker_env["TRACKER_MAIL_PORT"] = str(port)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    app = create_app(
        {
            "ENV_NAME": "testing",
            "DATABASE_URL": worker_env["TRACKER_DATABASE_URL"],
            "QUEUE_URL": worker_env["TRACKER_QUEUE_URL"],
        }
    )
    engine = app.extensions["db"].engine
    upgrade_database(engine)
    factory = app.extensions["db"].sessionmaker
    with app.app_context(), factory.begin() as db:  # the web process's work: 20 e-mails
        event = make_event(db, capacity=None)
        for i in range(BATCH):
            register(db, event, registration_data(email=f"batch{i}@example.org"))
    log = tmp_path / "worker.log"
    worker = start_worker(worker_env, log)
    restarted: subprocess.Popen[bytes] | None = None
    try:
        wait_for(handler.holding.is_set, 120, "the worker to reach the sixth message")

        def sent() -> int:
            with factory() as db:
                return (
                    db.scalar(select(func.count()).where(OutgoingMail.state == MailState.SENT)) or 0
                )

        # The fifth is recorded as sent (a kill between the server's "250" and that
        # record is the one moment a mail can go twice: not what this test is about).
        wait_for(lambda: sent() == SENT_BEFORE_THE_KILL, 30, "the fifth to be recorded")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        handler.release.set()

        with factory() as db:
            states = dict(
                db.execute(
                    select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state)
                ).all()
            )
            claims = db.scalars(
                select(OutgoingMail.claimed_until).where(OutgoingMail.claimed_until.is_not(None))
            ).all()
        assert states[MailState.SENT] == SENT_BEFORE_THE_KILL == len(handler.received)
        assert states[MailState.QUEUED] == BATCH - SENT_BEFORE_THE_KILL
        assert claims  # the dead worker was in the middle of sending
        # A new worker takes over the mails of the dead one once its claim has lapsed.
        wait_for(lambda: utcnow() > max(claims) + timedelta(seconds=0.2), 30, "the claims")

        restarted = start_worker(worker_env, log)

        def all_sent() -> bool:
            with factory() as db:
                return (
                    db.scalar(select(func.count()).where(OutgoingMail.state != MailState.SENT)) == 0
                )

        wait_for(all_sent, 120, "every mail to be sent")
        time.sleep(1.5)  # anything sent twice would arrive now
    finally:
        for process in (worker, restarted):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        controller.stop()
        engine.dispose()

    recipients = sorted(r.rcpt_tos[0] for r in handler.received)
    assert recipients == sorted(f"batch{i}@example.org" for i in range(BATCH)), log.read_text()
    assert restarted is not None and restarted.returncode == 0
