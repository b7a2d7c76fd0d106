"""WeasyPrint itself, for tracker.pdf: its locked-down URL fetcher and the function a
rendering process runs. Imported by the fork server that forks those processes, and by
a process that asks for a PDF; never merely by starting the app."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Before WeasyPrint is imported: its import already parses its own stylesheets, and
# would log each step at INFO.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

from tracker.pdf import STATIC_BASE_URL, STATIC_DIR, Rendered  # noqa: E402

# The PDF helper's own logger: what a fetcher refused is told in tracker.pdf's name.
log = logging.getLogger("tracker.pdf")


class SafeFetcher(URLFetcher):
    """Only `data:` URLs and the app's static files."""

    def __init__(self) -> None:
        super().__init__(timeout=2, allowed_protocols={"data", "file"}, allow_redirects=False)
        self.asked: list[str] = []
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        self.asked.append(url)
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


def render_in_child(html: str, css: str) -> Rendered:
    """Runs in the child: WeasyPrint, and what it was asked to fetch."""
    fetcher = SafeFetcher()
    pdf = _render(html, css, fetcher)
    return Rendered(pdf=pdf, asked=fetcher.asked, refused=fetcher.refused)


def _render(html: str, css: str, fetcher: SafeFetcher) -> bytes:
    document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=fetcher)
    # Parsed in the child at each document: a fresh process keeps nothing for the next.
    sheets = (
        [CSS(string=css, font_config=_fonts, url_fetcher=fetcher, base_url=STATIC_BASE_URL)]
        if css
        else []
    )
    return document.write_pdf(stylesheets=sheets, font_config=_fonts)
