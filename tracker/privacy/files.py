"""Files the app writes that hold personal data: lists waiting to be imported, exports,
e-mails written to the outbox folder (when no mail server is set). Each is removed once
it is no longer needed, at most MAX_AGE after it was written (the downloads folder
holds the exports made as jobs), and an event's e-mails
when its data is anonymised or a registration erased."""

from __future__ import annotations

import email
import email.policy
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses
from pathlib import Path

from flask import current_app
from sqlalchemy.orm import Session as DbSession

from tracker.db import after_commit

log = logging.getLogger(__name__)

MAX_AGE = 24 * 3600  # seconds: a day


def import_folder() -> Path:
    """Where uploaded lists wait between the preview and the import."""
    return Path(
        current_app.config.get("IMPORT_FOLDER") or Path(current_app.instance_path) / "imports"
    )


def outbox_folder() -> Path | None:
    """The folder e-mails are written to, or None when they go to a mail server."""
    if current_app.config.get("MAIL_SERVER"):
        return None
    folder = current_app.config.get("MAIL_OUTBOX")
    return Path(folder) if folder else None


def folders() -> list[tuple[Path, str]]:
    """Each folder of files the app writes, with the pattern of its files."""
    found = [(import_folder(), "*.upload")]
    outbox = outbox_folder()
    if outbox is not None:
        found.append((outbox, "*.eml"))
    # Exports and badge batches made as jobs, waiting to be downloaded.
    found.append((Path(current_app.instance_path) / "downloads", "*"))
    return found


def stale_files(now: float | None = None) -> list[Path]:
    """The files written more than MAX_AGE ago."""
    limit = (now if now is not None else time.time()) - MAX_AGE
    stale = []
    for folder, pattern in folders():
        for path in _files(folder, pattern):
            try:
                if path.stat().st_mtime < limit:
                    stale.append(path)
            except OSError:
                continue  # removed meanwhile
    return stale


def _files(folder: Path, pattern: str) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(pattern)):
        if path.is_file():
            yield path


def remove(paths: Iterable[Path]) -> int:
    """Remove the files; how many were removed (one removed meanwhile is not counted)."""
    removed = 0
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            log.exception("could not remove %s", path)
            continue
        removed += 1
    return removed


def remove_after_commit(db: DbSession, paths: Iterable[Path]) -> None:
    """Remove the files once `db` commits (not if it rolls back)."""
    kept = list(paths)

    def run() -> None:
        remove(kept)

    after_commit(db, run)


@dataclass
class Recipients:
    """Whose e-mails to find in the outbox folder: a message holding one of `secrets`
    (private links, check-in codes: unique to a registration) is theirs, and so is one
    to one of `addresses` (folded) that mentions one of `marks` (the event's page)."""

    addresses: set[str] = field(default_factory=set)
    marks: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)


def outbox_messages(recipients: Recipients) -> list[Path]:
    """The e-mails in the outbox folder sent to one of `recipients.addresses` about one
    of their registrations."""
    outbox = outbox_folder()
    if outbox is None or not (recipients.addresses or recipients.secrets):
        return []
    found = []
    for path in _files(outbox, "*.eml"):
        message = read_message(path)
        if message is None:
            continue
        texts = _texts(message)
        if any(secret in text for text in texts for secret in recipients.secrets):
            found.append(path)
            continue
        to = {address.casefold() for _name, address in getaddresses(message.get_all("To", []))}
        if to & recipients.addresses and any(
            mark in text for text in texts for mark in recipients.marks
        ):
            found.append(path)
    return found


def read_message(path: Path) -> email.message.EmailMessage | None:
    try:
        return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    except OSError:
        return None


def _texts(message: email.message.Message) -> list[str]:
    """The subject and the decoded text parts."""
    texts = [str(message.get("Subject", ""))]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(str(part.get_content()))  # type: ignore[attr-defined]
            except (LookupError, ValueError):
                continue
    return texts
