"""The PDF helper: rendering in child processes with a time and a memory limit, what
the children fetched and logged reported back, documents in parts merged in order."""

from __future__ import annotations

import io
import logging
import multiprocessing.forkserver
import os
import time
from pathlib import Path

import pytest
from pypdf import PdfReader

from tracker.pdf import PdfLimitError, render_pdf, render_pdf_parts

pytestmark = pytest.mark.usefixtures("app_ctx")


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def long_document(paragraphs: int) -> str:
    return "<body>" + "<p>Émargement Łódź İstanbul Nguyễn</p>" * paragraphs + "</body>"


def render_processes() -> list[int]:
    """The processes the fork server has started and that are still running."""
    server = multiprocessing.forkserver._forkserver._forkserver_pid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, parent = stat.rsplit(")", 1)[1].split()[:2]
        if int(parent) == server and state != "Z":
            found.append(int(entry.name))
    return found


def test_a_document_is_rendered_in_another_process_and_comes_back_whole():
    pdf = render_pdf("<h1>Feuille d'émargement</h1>", css="h1 { color: #000091; }")
    assert pdf.startswith(b"%PDF") and "Feuille d'émargement" in pages_text(pdf)[0]
    assert multiprocessing.forkserver._forkserver._forkserver_pid not in (None, os.getpid())


def test_parts_are_rendered_side_by_side_and_merged_in_order(caplog):
    parts = [
        f"<p>part {n} page 1</p><p style='break-before: page'>part {n} page 2</p>" for n in range(3)
    ]
    with caplog.at_level(logging.INFO, logger="tracker.pdf"):
        pdf = render_pdf_parts(parts)
    texts = [t.strip() for t in pages_text(pdf)]
    assert texts == [f"part {n} page {p}" for n in range(3) for p in (1, 2)]
    (done,) = [r for r in caplog.records if hasattr(r, "pdf_peaks_mib")]
    assert len(done.pdf_peaks_mib) == 3


def test_what_the_child_fetched_and_logged_comes_back(fetched, caplog):
    with caplog.at_level(logging.WARNING):
        pdf = render_pdf('<p>before</p><img src="file:///etc/passwd"><p>after</p>')
    assert "file:///etc/passwd" in list(fetched)
    assert Path("/etc/passwd").read_bytes()[:20] not in pdf
    assert "before" in pages_text(pdf)[0] and "after" in pages_text(pdf)[0]
    refused = [r for r in caplog.records if r.name == "tracker.pdf" and "refused" in r.message]
    assert refused and "file:///etc/passwd" in refused[0].getMessage()
    assert any(r.name.startswith("weasyprint") for r in caplog.records)


def test_a_render_over_its_time_is_stopped_with_a_clear_message(app, monkeypatch):
    monkeypatch.setitem(app.config, "PDF_TIMEOUT", 0.3)
    started = time.monotonic()
    with pytest.raises(PdfLimitError) as caught:
        render_pdf_parts([long_document(20000), long_document(20000)])
    assert time.monotonic() - started < 5
    assert "took longer than 0.3 seconds" in str(caught.value.message)
    for _ in range(50):  # killed, not left running
        if not render_processes():
            break
        time.sleep(0.05)
    assert render_processes() == []


def test_a_render_over_its_memory_is_stopped_with_a_clear_message(app, monkeypatch):
    monkeypatch.setitem(app.config, "PDF_MEMORY_LIMIT", 64)
    with pytest.raises(PdfLimitError) as caught:
        render_pdf(long_document(2000))
    assert "more than 64 MiB" in str(caught.value.message)
    monkeypatch.setitem(app.config, "PDF_MEMORY_LIMIT", 1024)
    assert render_pdf("<p>fine again</p>").startswith(b"%PDF")


def test_a_failure_inside_the_renderer_is_an_error_not_a_hang_nor_a_memory_message():
    with pytest.raises(RuntimeError, match="PDF rendering failed: UnicodeEncodeError"):
        render_pdf("<p>a lone surrogate \ud800</p>")
