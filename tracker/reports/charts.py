"""The statistics charts, drawn on the server as SVG by pygal, so that the dashboard and
the PDF report show the same pictures. Each chart goes into an <img> as a data: URL
(the page's Content-Security-Policy allows data: images, and an SVG in an <img> runs
no script); the page and the report put the numbers in a table beside it."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import pygal
from flask_babel import gettext as _
from pygal.style import Style

from tracker.registration.forms import TYPE_SHORT_LABELS
from tracker.reports.services import Figures

REGISTERED_COLOUR = "#9a9ad8"
PRESENT_COLOUR = "#000091"
DOOR_COLOURS = ("#000091", "#18753c", "#b34000", "#7b1fa2", "#00695c", "#4b5563", "#ce0500")

_STYLE = dict(
    font_family="DejaVu Sans, Liberation Sans, Arial, sans-serif",
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#d0d0d8",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    value_font_size=12,
    title_font_size=15,
)


@dataclass
class Chart:
    title: str
    svg: str

    @property
    def data_url(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()


def _options(colours: tuple[str, ...], **extra: object) -> dict[str, object]:
    """pygal's settings; a setting in `extra` replaces the default here."""
    options: dict[str, object] = dict(
        js=[],  # no script from the network (and none runs in an <img> anyway)
        disable_xml_declaration=True,
        no_prefix=True,  # an SVG in an <img> is a document of its own: no id to scope its CSS
        width=720,
        height=340,
        style=Style(colors=colours, **_STYLE),
        legend_at_bottom=True,
        legend_at_bottom_columns=2,
        truncate_legend=-1,
        print_values=False,
        show_y_guides=True,
    )
    return options | extra


# What an SVG shown as an image never uses: pygal's comments, the script holding its whole
# configuration (about 5 KB a chart) and the tooltips' data of every bar, which only that
# script reads and which an <img> or a PDF does not run. The dashboard fetches its charts
# again every few seconds, so every kilobyte counts.
_UNUSED = re.compile(r"<!--.*?-->|<script\b.*?</script>|<desc\b[^>]*>[^<]*</desc>", re.DOTALL)


def _render(chart: pygal.graph.graph.Graph, title: str) -> Chart:
    return Chart(title=title, svg=_UNUSED.sub("", chart.render(is_unicode=True)))


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _count_axis(chart: pygal.graph.graph.Graph, highest: int) -> None:
    """Whole numbers on the value axis (people come one at a time), at most ~8 ticks."""
    step = next(
        s
        for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10**4, 10**5)
        if highest / s <= 6
    )
    top = max(step, -(-highest // step) * step)
    chart.range = (0, top)
    chart.y_labels = list(range(0, top + 1, step))


def by_type(figures: Figures) -> Chart:
    title = _("Registered and present by type of organisation")
    chart = pygal.Bar(**_options((REGISTERED_COLOUR, PRESENT_COLOUR)), title=title)
    chart.x_labels = [str(TYPE_SHORT_LABELS[t]) for t in figures.by_type]
    lines = figures.by_type.values()
    chart.add(_("Registered"), [line.registered for line in lines])
    chart.add(_("Present"), [line.present for line in lines])
    _count_axis(chart, max(max(line.registered, line.present) for line in lines))
    return _render(chart, title)


def by_session(figures: Figures) -> Chart:
    title = _("Registered and present by session")
    chart = pygal.HorizontalBar(**_options((REGISTERED_COLOUR, PRESENT_COLOUR)), title=title)
    # A horizontal bar chart draws its first label at the bottom: reverse to read top-down.
    sessions = figures.by_session[::-1]
    chart.x_labels = [_shorten(s.title, 26) for s in sessions]  # the full titles: the table
    chart.add(_("Registered"), [s.registered for s in sessions])
    chart.add(_("Present"), [s.present for s in sessions])
    _count_axis(chart, max([max(s.registered, s.present) for s in sessions], default=0))
    return _render(chart, title)


def arrivals(figures: Figures) -> Chart:
    title = _("Arrivals per 10 minutes, by door")
    chart = pygal.StackedBar(
        **_options(
            DOOR_COLOURS,
            x_label_rotation=-45,
            show_minor_x_labels=False,
            legend_at_bottom_columns=min(4, max(1, len(figures.doors))),
        ),
        title=title,
    )
    labels = figures.slot_labels
    chart.x_labels = labels
    # At most about twelve time labels, whatever the length of the day.
    step = max(1, len(labels) // 12)
    chart.x_labels_major = labels[::step]
    for door in figures.doors:
        chart.add(door, [slot.doors.get(door, 0) for slot in figures.timeline])
    _count_axis(chart, max(slot.total for slot in figures.timeline))
    return _render(chart, title)


def all_charts(figures: Figures) -> dict[str, Chart]:
    charts = {"by_type": by_type(figures)}
    if figures.by_session:
        charts["by_session"] = by_session(figures)
    if figures.timeline:
        charts["arrivals"] = arrivals(figures)
    return charts
