"""PDF rendering: HTML + CSS through WeasyPrint, with a locked-down URL fetcher, in
child processes with a time and a memory limit.

Attendee-typed text is escaped by the templates, but the fetcher is the second wall:
it serves only `data:` URLs and files inside the app's own static folder. Anything
else (file://, http(s)://, another folder) is refused with an ordinary error, which
WeasyPrint logs and skips, so the document renders without that resource and nothing
outside the app is read or requested. A FatalURLFetchingError would abort the whole
document instead: no badge batch should fail because of one person's name.

Every document is rendered in a child process by tracker.limited, whose fork server has
loaded WeasyPrint (tracker.weasy) once. The child runs under an address-space limit
(PDF_MEMORY_LIMIT MiB) and the parent waits at most PDF_TIMEOUT seconds before killing it;
either way the caller gets a PdfLimitError with a message that says what to do, instead
of a machine brought to its knees. A document made of independent parts (sheets of
badges, which carry no page numbers) is rendered in several children at once and the
parts are merged with pypdf. What the children logged and which URLs they were asked for
come back to this process.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _

from tracker import limited
from tracker.errors import DomainError
from tracker.i18n import lazy_gettext as _l

log = logging.getLogger(__name__)
# WeasyPrint is imported by tracker.weasy, in the fork server (and in this process only
# when it renders): a command or a page that makes no PDF does not pay its 0.5 s import.
limited.preload("tracker.weasy")

DEFAULT_TIMEOUT = 120.0  # seconds
DEFAULT_MEMORY_LIMIT = 1024  # MiB of address space per rendering process

STATIC_DIR = (Path(__file__).resolve().parent / "static").resolve()
STATIC_BASE_URL = STATIC_DIR.as_uri() + "/"


def __getattr__(name: str) -> Any:
    """`tracker.pdf.SafeFetcher`, imported (with WeasyPrint) when first asked for."""
    if name == "SafeFetcher":
        from tracker.weasy import SafeFetcher

        return SafeFetcher
    raise AttributeError(name)


def css_string(text: str) -> str:
    """A CSS string literal of `text`, for the app's own words (translations) only:
    anything but ASCII letters, digits and spaces becomes a hex escape, so no text can
    close the string, the declaration or the rule. Attendee- or organiser-typed text
    never goes into a stylesheet: it reaches the page through the HTML (string-set).
    """
    kept = (c if c.isascii() and (c.isalnum() or c == " ") else f"\\{ord(c):x} " for c in text)
    return '"' + "".join(kept) + '"'


_PAGE, _PAGES = "\x01", "\x02"


def page_counter() -> str:
    """The CSS `content` of "Page N / M" in the reader's language: the translated words
    as escaped CSS strings around counter(page) and counter(pages)."""
    # TRANSLATORS: the footer of every page of a PDF document, e.g. "Page 2 / 5".
    marked = _("Page %(page)s / %(pages)s", page=_PAGE, pages=_PAGES)
    parts = []
    for piece in re.split(f"([{_PAGE}{_PAGES}])", marked):
        if piece == _PAGE:
            parts.append("counter(page)")
        elif piece == _PAGES:
            parts.append("counter(pages)")
        elif piece:
            parts.append(css_string(piece))
    return " ".join(parts) or "counter(page)"


class PdfLimitError(DomainError):
    code = "pdf_limit"
    status = 422


def render_pdf(html: str, *, css: str = "") -> bytes:
    """One PDF document from an HTML string (and a stylesheet string)."""
    return render_pdf_parts([html], css=css)


def render_pdf_parts(parts: Iterable[str], *, css: str = "") -> bytes:
    """One PDF from several HTML documents rendered side by side, one process each, and
    merged in order. For documents whose pages stand alone (no "page N of M"). Each
    part's process starts as soon as the part is produced, while the next is made."""
    pdfs = render_pdf_documents(parts, css=css)
    if len(pdfs) == 1:
        return pdfs[0]
    return _merge(pdfs)


def render_pdf_documents(parts: Iterable[str], *, css: str = "") -> list[bytes]:
    """One PDF for each HTML document, rendered side by side, one process each."""
    from tracker.weasy import SafeFetcher, render_in_child

    limits = _limits()
    fetcher = SafeFetcher()  # this process's record of what the children were asked for
    started = time.monotonic()
    try:
        outcomes = limited.run(
            render_in_child, ((html, css) for html in parts), limits, what="PDF rendering"
        )
    except limited.TimeLimitExceeded:
        raise PdfLimitError(
            _l(
                "Making this PDF took longer than %(seconds)s seconds and was stopped: "
                "ask for fewer pages at a time.",
                seconds=f"{limits.timeout:g}",
            )
        ) from None
    except limited.MemoryLimitExceeded:
        raise PdfLimitError(
            _l(
                "Making this PDF needed more than %(mib)d MiB of memory and was stopped: "
                "ask for fewer pages at a time.",
                mib=limits.memory_mib,
            )
        ) from None
    results: list[Rendered] = [outcome.value for outcome in outcomes]
    for result in results:
        fetcher.asked.extend(result.asked)
        fetcher.refused.extend(result.refused)
    log.info(
        "PDF rendered in %.2f s by %d process(es), largest peak %d MiB",
        time.monotonic() - started,
        len(outcomes),
        max(o.peak_mib for o in outcomes),
        extra={"pdf_peaks_mib": [o.peak_mib for o in outcomes]},
    )
    return [r.pdf for r in results]


@dataclass
class Rendered:
    """What a rendering process sends back."""

    pdf: bytes = b""
    asked: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _limits() -> limited.Limits:
    config = current_app.config if has_app_context() else {}
    return limited.Limits(
        timeout=float(config.get("PDF_TIMEOUT") or DEFAULT_TIMEOUT),
        memory_mib=int(config.get("PDF_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT),
    )


def pdf_processes() -> int:
    """How many documents to render at once (PDF_PROCESSES, default: one per CPU)."""
    configured = current_app.config.get("PDF_PROCESSES") if has_app_context() else None
    return max(1, int(configured or multiprocessing.cpu_count()))


def _merge(parts: list[bytes]) -> bytes:
    """The parts' pages in order, in a copy of the first part (its metadata kept)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(parts[0])))
    for part in parts[1:]:
        for page in PdfReader(io.BytesIO(part)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
