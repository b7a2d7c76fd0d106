"""The PDF attendance report: the event, the headline figures, the tables and the charts
of the dashboard, with page numbers and the time it was made."""

from __future__ import annotations

from flask import render_template
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.models import Event
from tracker.pdf import page_counter, render_pdf
from tracker.questions import answers as qa
from tracker.registration.forms import TYPE_SHORT_LABELS
from tracker.reports import charts
from tracker.reports.services import figures


def render_report(db: DbSession, event: Event) -> bytes:
    now = utcnow()
    result = figures(db, event, now=now)
    html = render_template(
        "pdf/report.html",
        event=event,
        figures=result,
        charts=charts.all_charts(result),
        type_labels=TYPE_SHORT_LABELS,
        answer_counts=qa.option_counts(db, event),
        generated_at=now,
    )
    return render_pdf(html, css=render_template("pdf/report.css", page_counter=page_counter()))
