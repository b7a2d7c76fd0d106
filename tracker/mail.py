"""Outgoing e-mail: SMTP when TRACKER_MAIL_SERVER is set, else .eml files in MAIL_OUTBOX.

Every e-mail is a row of the outbox (OutgoingMail), written by `queue` in the
transaction of the change that causes it: a rolled-back change sends nothing, a
committed one is sent by the worker, never by the request. A mail the server does not
take (down, silent, 4xx) stays queued with its error and is tried again with a growing
delay for MAIL_RETRY_HOURS; a refusal (5xx) fails it for good. Each attempt is claimed
by one worker with a conditional UPDATE, so two workers never send a row twice.
"""

from __future__ import annotations

import email.policy
import logging
import secrets
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import encoders
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import undefer

from tracker import jobs
from tracker.db import utcnow
from tracker.models import MailState, OutgoingMail, Registration

log = logging.getLogger(__name__)


@dataclass
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    inline_cid: str | None = None  # referenced from the HTML part as cid:... (content_id)

    def part(self) -> MIMEBase:
        params = {"charset": "utf-8"} if self.maintype == "text" else {}
        part = MIMEBase(self.maintype, self.subtype, **params)
        part.set_payload(self.content)
        encoders.encode_base64(part)
        if self.inline_cid:
            part["Content-ID"] = f"<{self.inline_cid}>"
        disposition = "inline" if self.inline_cid else "attachment"
        part.add_header("Content-Disposition", disposition, filename=self.filename)
        return part


def content_id(name: str, sender: str) -> str:
    """A Content-ID for a part of one message (without its angle brackets), unique to
    that message (RFC 2392: world-unique, like a Message-ID): a mail client that keeps
    a part by its id never shows one message's image in another."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return make_msgid(name, domain=domain)[1:-1]


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)

    def to_message(self, sender: str) -> Message:
        """The MIME message: the text and, when there is one, the HTML version with its
        inline images (multipart/related), then the other attachments.

        Built with the email.mime classes and the compat32 policy: the modern API
        (EmailMessage) parses and refolds every header through its header registry,
        which took 4 ms of each registration for the 30 headers of this message; this
        takes 1 ms."""
        body: MIMEBase = MIMEText(self.text, "plain", "utf-8")
        if self.html is not None:
            html: MIMEBase = MIMEText(self.html, "html", "utf-8")
            inline = [a for a in self.attachments if a.inline_cid]
            if inline:
                html = _multipart("related", [html, *(a.part() for a in inline)])
            body = _multipart("alternative", [body, html])
        attached = [a for a in self.attachments if not a.inline_cid or self.html is None]
        msg = _multipart("mixed", [body, *(a.part() for a in attached)]) if attached else body
        name, address = parseaddr(sender)
        msg["From"] = formataddr((name, address), charset="utf-8")
        msg["To"] = self.to
        msg["Subject"] = self.subject  # encoded (RFC 2047) when not ASCII
        msg["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
        # RFC 5322: a numeric zone, "+0000" ("GMT" is its obsolete form).
        msg["Date"] = format_datetime(datetime.now(UTC))
        return msg


def _multipart(subtype: str, parts: list[MIMEBase]) -> MIMEMultipart:
    # A boundary of our own: "=_" appears in neither base64 nor quoted-printable text,
    # where every part here is encoded, so it cannot collide. (Without one, the
    # generator makes one and compiles a regular expression to search the whole text
    # for it: a third of the time spent writing the message.)
    multipart = MIMEMultipart(subtype, boundary=f"=_{secrets.token_hex(16)}")
    for part in parts:
        multipart.attach(part)
    return multipart


def check_sender(sender: str) -> None:
    """Refuse to start with a From address that mail cannot be sent from (an unquoted
    comma in the name, for one, splits it into two addresses)."""
    _name, address = parseaddr(sender)
    if "@" not in address or not address.isascii():
        raise RuntimeError(
            "TRACKER_MAIL_SENDER must be an address such as 'Tracker <no-reply@example.org>' "
            "(a name with a comma in double quotes: '\"DGE, Bercy\" <dge@example.org>'), "
            f"not {sender!r}"
        )


def _send_smtp(data: bytes, to: str, s: dict[str, Any]) -> None:
    host, port, timeout = s["MAIL_SERVER"], s["MAIL_PORT"], s["MAIL_TIMEOUT"]
    smtp: smtplib.SMTP
    if s.get("MAIL_USE_SSL"):
        # An explicit context: without one, SMTP_SSL checks neither the certificate
        # nor the host name.
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if s.get("MAIL_USE_TLS"):
            smtp.starttls(context=ssl.create_default_context())
        if s.get("MAIL_USERNAME"):
            smtp.login(s["MAIL_USERNAME"], s.get("MAIL_PASSWORD") or "")
        # The envelope is given, not read back from the (encoded) headers; an address
        # that is not ASCII needs a server that speaks SMTPUTF8.
        sender = parseaddr(s["MAIL_SENDER"])[1]
        options = [] if (sender + to).isascii() else ["SMTPUTF8", "BODY=8BITMIME"]
        smtp.sendmail(sender, [to], data, mail_options=options)


class _Compat32(email.policy.Compat32):
    """compat32, writing a short ASCII header as it is: compat32 passes every header,
    the dozen of the message's parts included, through email.header.Header to fold and
    encode it (0.14 ms of the 0.65 ms spent writing a confirmation). The bytes written
    are the same."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii() and "\n" not in value and "\r" not in value:
            line = f"{name}: {value}"
            if len(line) <= (self.max_line_length or 78):
                return line + self.linesep
        return super()._fold(name, value, sanitize)  # type: ignore[misc]


COMPAT32 = _Compat32()


def _serialise(message: Message, to: str, linesep: str = "\n") -> bytes:
    """compat32 writes every header in ASCII (RFC 2047 encoded words), which an address
    cannot be written in: one that is not ASCII is written in UTF-8 (RFC 6532, what
    SMTPUTF8 carries)."""
    policy = COMPAT32 if to.isascii() else email.policy.SMTPUTF8
    return message.as_bytes(policy=policy.clone(linesep=linesep))


def _write_outbox(data: bytes, to: str, outbox: Path) -> None:
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = outbox / f"{stamp}-{secrets.token_hex(4)}.eml"
    path.write_bytes(data.replace(b"\r\n", b"\n"))
    log.info("mail written to %s", path)


# --- the outbox: queued with the change, sent by the worker ------------------------

# Between two attempts at a mail the server did not take: twice as long each time, from
# a minute to an hour at most, for MAIL_RETRY_HOURS (48 by default) after it was queued.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
# A sweep stops after this long (the next one, a minute later, goes on).
SWEEP_BUDGET = timedelta(seconds=50)
SWEEP_BATCH = 500


# How each kind of e-mail about a registration is written, by kind ("confirmation",
# "promoted"...): filled by the modules that write them (tracker.registration.notify).
# The worker writes the message when it first sends it, in the person's language.
COMPOSERS: dict[str, Callable[[Registration], Mail]] = {}


def queue(
    db: DbSession,
    *,
    kind: str,
    registration: Registration | None = None,
    composed: Mail | None = None,
) -> OutgoingMail:
    """Record an e-mail in the outbox, in `db`'s transaction, and have the worker send
    it once `db` commits (nothing is sent if it rolls back; if the worker is not told,
    its sweep finds the row within a minute). Either `registration`, whose e-mail of
    `kind` the worker writes (COMPOSERS), or a message `composed` now."""
    if composed is None and (registration is None or kind not in COMPOSERS):
        raise ValueError(f"no way to write a {kind!r} e-mail without its message")
    if registration is not None and registration.id is None:
        db.flush()
    row = OutgoingMail(
        registration_id=registration.id if registration is not None else None,
        recipient=composed.to if composed is not None else registration.email,  # type: ignore[union-attr]
        kind=kind,
        subject=composed.subject if composed is not None else None,
        message=_wire(composed, current_app.config["MAIL_SENDER"]) if composed else None,
        state=MailState.QUEUED,
        attempts=0,
        created_at=utcnow(),
        next_attempt_at=utcnow(),
    )
    db.add(row)
    db.flush()
    jobs.enqueue_after_commit(db, send_mail, row.id)
    return row


def _wire(composed: Mail, sender: str) -> bytes:
    """The message as it goes over SMTP (CRLF line ends)."""
    return _serialise(composed.to_message(sender), composed.to, "\r\n")


def _write_message(row: OutgoingMail) -> bytes:
    """The message of a row queued without one, written now (once: a retry sends the
    same message, Message-ID included) and kept in the row. Written while reading only:
    on SQLite the other writers are not kept waiting meanwhile."""
    db = current_app.extensions["db"].read_session()
    try:
        registration = db.get(Registration, row.registration_id) if row.registration_id else None
        if registration is None:
            raise SendError("the registration no longer exists", permanent=True)
        composed = COMPOSERS[row.kind](registration)
    finally:
        db.rollback()
        db.close()
    composed.to = row.recipient  # the address at the time of the change
    data = _wire(composed, current_app.config["MAIL_SENDER"])
    _record(row.id, {"message": data, "subject": composed.subject})
    return data


# Authentication required (530), too weak (534), refused (535), needs encryption (538).
LOGIN_CODES = frozenset({530, 534, 535, 538})


class SendError(Exception):
    """A mail the server did not take: `permanent` for a refusal (5xx), which no
    retry will change; otherwise (down, timed out, 4xx) it is tried again later."""

    def __init__(self, reason: str, *, permanent: bool, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.unreachable = unreachable  # no answer at all: down, silent, refused


def _reason(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{error.smtp_code} {' '.join(str(text).split())}"[:1000]


def _send(data: bytes, to: str, settings: dict[str, Any]) -> None:
    """Send or write one message; a failure is a SendError that says whether to retry."""
    try:
        if settings.get("MAIL_SERVER"):
            _send_smtp(data, to, settings)
        else:
            _write_outbox(data, to, Path(settings["MAIL_OUTBOX"]))
    except smtplib.SMTPRecipientsRefused as e:
        code, text = next(iter(e.recipients.values()))
        reason = f"{code} {text.decode('utf-8', 'replace') if isinstance(text, bytes) else text}"
        raise SendError(reason, permanent=code >= 500) from e
    except smtplib.SMTPResponseException as e:  # refused at some step: 4xx or 5xx
        # A login refused or missing is the configuration's fault, not the message's:
        # tried again, so that it goes once the configuration is put right.
        permanent = e.smtp_code >= 500 and e.smtp_code not in LOGIN_CODES
        raise SendError(_reason(e), permanent=permanent) from e
    except smtplib.SMTPNotSupportedError as e:  # SMTPUTF8 needed, not offered
        raise SendError(str(e) or type(e).__name__, permanent=True) from e
    except (OSError, smtplib.SMTPServerDisconnected) as e:  # down, silent, refused
        raise SendError(f"{type(e).__name__}: {e}"[:1000], permanent=False, unreachable=True) from e
    except Exception as e:  # bad credentials' encoding...: retried
        raise SendError(f"{type(e).__name__}: {e}"[:1000], permanent=False) from e


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a mail is tried again."""
    return min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16), LONGEST_RETRY)


def claim_lease(settings: dict[str, Any]) -> timedelta:
    """How long a worker holds a mail it is sending: well beyond what a conversation
    with the server can last (each of its steps waits MAIL_TIMEOUT at most). A worker
    that died holding one leaves it to the others after this."""
    return timedelta(seconds=10 * float(settings["MAIL_TIMEOUT"]) + 5)


def _claim(mail_id: int, now: datetime, lease: timedelta) -> OutgoingMail | None:
    """The row, if this worker may send it now (one conditional UPDATE: of two workers,
    one gets it); None if it is sent, failed, not due, or another worker holds it."""
    with jobs.session() as db:
        claimed = db.execute(
            update(OutgoingMail)
            .where(
                OutgoingMail.id == mail_id,
                OutgoingMail.state == MailState.QUEUED,
                OutgoingMail.next_attempt_at <= now,
                or_(OutgoingMail.claimed_until.is_(None), OutgoingMail.claimed_until < now),
            )
            .values(
                claimed_until=now + lease,
                attempts=OutgoingMail.attempts + 1,
                last_attempt_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = db.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.id == mail_id)
            .options(undefer(OutgoingMail.message))
        ).one()
        db.expunge(row)
        return row


def send_queued(mail_id: int, *, now: datetime | None = None) -> MailState | None:
    """Send one mail of the outbox if it is due and nobody else is sending it, and
    record what happened; returns its state then (None: not this worker's to send).
    The send happens outside any transaction: no lock is held while the server thinks.
    Raises SendError for a failure that is retried, after recording it."""
    settings = {k: v for k, v in current_app.config.items() if k.startswith("MAIL_")}
    now = now or utcnow()
    row = _claim(mail_id, now, claim_lease(settings))
    if row is None:
        return None
    try:
        data = row.message
        if data is None:
            try:
                data = _write_message(row)
            except SendError:
                raise
            except Exception as e:  # a template or the database: tried again later
                log.exception("mail %s (%s) could not be written", row.id, row.kind)
                raise SendError(f"{type(e).__name__}: {e}"[:1000], permanent=False) from e
        _send(data, row.recipient, settings)
    except SendError as e:
        give_up = e.permanent or now - row.created_at >= timedelta(
            hours=float(settings["MAIL_RETRY_HOURS"])
        )
        values: dict[str, Any] = {"claimed_until": None, "last_error": e.reason}
        if give_up:
            values["state"] = MailState.FAILED
            log.error(
                "mail %s (%s) not sent after %d attempt(s): %s",
                row.id,
                row.kind,
                row.attempts,
                e.reason,
                exc_info=e.__cause__,
            )
        else:
            values["next_attempt_at"] = max(now, utcnow()) + retry_delay(row.attempts)
            log.warning(
                "mail %s (%s) not sent (attempt %d), tried again later: %s",
                row.id,
                row.kind,
                row.attempts,
                e.reason,
                exc_info=e.__cause__,
            )
        _record(row.id, values)
        if not give_up:
            raise
        return MailState.FAILED
    _record(row.id, {"state": MailState.SENT, "sent_at": utcnow(), "claimed_until": None})
    log.info("mail %s (%s) sent", row.id, row.kind)
    return MailState.SENT


def _record(mail_id: int, values: dict[str, Any]) -> None:
    with jobs.session() as db:
        db.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == mail_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def send_due(*, now: datetime | None = None) -> int:
    """Send what is queued and due, oldest first: mails whose first send was never
    queued (the web process stopped after its commit), whose next attempt has come, or
    whose worker died while sending them. Stops at the first failure to reach the
    server (it is down: the next sweep tries again) and after SWEEP_BUDGET. Returns
    how many were sent."""
    now = now or utcnow()
    sent = 0
    deadline = utcnow() + SWEEP_BUDGET
    while True:
        with jobs.session() as db:
            due = db.scalars(
                select(OutgoingMail.id)
                .where(
                    OutgoingMail.state == MailState.QUEUED,
                    OutgoingMail.next_attempt_at <= now,
                    or_(OutgoingMail.claimed_until.is_(None), OutgoingMail.claimed_until < now),
                )
                .order_by(OutgoingMail.next_attempt_at, OutgoingMail.id)
                .limit(SWEEP_BATCH)
            ).all()
        if not due:
            return sent
        for mail_id in due:
            if utcnow() > deadline:
                return sent
            try:
                state = send_queued(mail_id, now=max(now, utcnow()))
            except SendError:
                return sent
            sent += state == MailState.SENT


# Until when this worker leaves new mails to the sweep, after the server did not answer:
# with the server down or silent, every attempt waits MAIL_TIMEOUT, and the mails queued
# meanwhile would keep the worker's threads waiting for hours instead of other jobs.
_unreachable_until: datetime | None = None


@jobs.task()
def send_mail(mail_id: int) -> None:
    """The worker's job for one mail just queued (retries are the sweep's)."""
    global _unreachable_until
    if _unreachable_until is not None and utcnow() < _unreachable_until:
        return  # the sweep sends it once the server answers again
    try:
        send_queued(mail_id)
    except SendError as e:  # recorded; the sweep tries again when it is due
        if e.unreachable:
            _unreachable_until = utcnow() + FIRST_RETRY
    else:
        _unreachable_until = None


@jobs.periodic_task(jobs.crontab(minute="*"), at_start=True)
def sweep_outbox() -> None:
    """Every minute, and when a worker starts: what is due in the outbox."""
    send_due()
