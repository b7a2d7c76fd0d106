"""PDF rendering: HTML + CSS through WeasyPrint, with a locked-down URL fetcher.

Attendee-typed text is escaped by the templates, but the fetcher is the second wall:
it serves only `data:` URLs and files inside the app's own static folder. Anything
else (file://, http(s)://, another folder) is refused with an ordinary error, which
WeasyPrint logs and skips, so the document renders without that resource and nothing
outside the app is read or requested. A FatalURLFetchingError would abort the whole
document instead: no badge batch should fail because of one person's name.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask_babel import gettext as _

# Before WeasyPrint is imported: its import already parses its own stylesheets, and
# would log each step at INFO on every start of the app and of every command.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

log = logging.getLogger(__name__)

STATIC_DIR = (Path(__file__).resolve().parent / "static").resolve()
STATIC_BASE_URL = STATIC_DIR.as_uri() + "/"


class SafeFetcher(URLFetcher):
    """Only `data:` URLs and the app's static files."""

    def __init__(self) -> None:
        super().__init__(timeout=2, allowed_protocols={"data", "file"}, allow_redirects=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        scheme = url.split(":", 1)[0].lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            path = Path(unquote(urlsplit(url).path)).resolve()
            if path.is_relative_to(STATIC_DIR) and path.is_file():
                return URLFetcherResponse(url, body=path.read_bytes())
        self.refused.append(url)
        log.warning("PDF rendering refused to fetch %.200s", url)
        raise ValueError(f"resource not allowed in a PDF: {url[:200]}")


_fonts = FontConfiguration()
_stylesheets: dict[str, CSS] = {}


def stylesheet(css: str) -> CSS:
    """A pre-built stylesheet, kept for the next document with the same text."""
    if css not in _stylesheets:
        _stylesheets[css] = CSS(
            string=css, font_config=_fonts, url_fetcher=SafeFetcher(), base_url=STATIC_BASE_URL
        )
    return _stylesheets[css]


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


def render_pdf(html: str, *, css: str = "", fetcher: SafeFetcher | None = None) -> bytes:
    """One PDF document from an HTML string (and a stylesheet string)."""
    fetcher = fetcher or SafeFetcher()
    document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=fetcher)
    sheets = [stylesheet(css)] if css else []
    return document.write_pdf(stylesheets=sheets, font_config=_fonts)
