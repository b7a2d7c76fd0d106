"""Outgoing e-mail: SMTP when TRACKER_MAIL_SERVER is set, else .eml files in the outbox.

Messages are queued on the database session and delivered only once the transaction
has committed, so a rolled-back registration never sends anything.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session as DbSession

from tracker.db import after_commit

log = logging.getLogger(__name__)


@dataclass
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    inline_cid: str | None = None  # referenced from the HTML part as cid:...


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    attachments: list[Attachment] = field(default_factory=list)

    def to_message(self, sender: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = sender
        msg["To"] = self.to
        msg["Subject"] = self.subject
        msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
        msg["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
        msg.set_content(self.text)
        if self.html is not None:
            msg.add_alternative(self.html, subtype="html")
            html_part = msg.get_payload()[-1]
            for att in self.attachments:
                if att.inline_cid:
                    html_part.add_related(
                        att.content,
                        att.maintype,
                        att.subtype,
                        cid=f"<{att.inline_cid}>",
                        filename=att.filename,
                        disposition="inline",
                    )
        for att in self.attachments:
            if not att.inline_cid or self.html is None:
                msg.add_attachment(
                    att.content, maintype=att.maintype, subtype=att.subtype, filename=att.filename
                )
        return msg


def deliver(mail: Mail, settings: dict[str, Any]) -> None:
    """Send now. Failures are logged, never raised: the registration is already saved.

    Runs after the commit, inside the request: anything escaping here would turn a
    saved registration into an error page (and skip the other queued mails), so every
    failure is caught, not only network ones (smtplib raises UnicodeEncodeError for
    non-ASCII credentials, for instance)."""
    try:
        message = mail.to_message(settings["MAIL_SENDER"])
        if settings.get("MAIL_SERVER"):
            _send_smtp(message, settings)
        else:
            _write_outbox(message, Path(settings["MAIL_OUTBOX"]))
    except Exception:
        log.exception("could not deliver mail %r to %s", mail.subject, mail.to)


def _send_smtp(message: EmailMessage, s: dict[str, Any]) -> None:
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
        smtp.send_message(message)


def _write_outbox(message: EmailMessage, outbox: Path) -> None:
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = outbox / f"{stamp}-{secrets.token_hex(4)}.eml"
    path.write_bytes(bytes(message))
    log.info("mail to %s written to %s", message["To"], path)


def queue(db: DbSession, mail: Mail) -> None:
    """Deliver `mail` when `db` commits."""
    settings = {k: v for k, v in current_app.config.items() if k.startswith("MAIL_")}
    after_commit(db, lambda: deliver(mail, settings))
