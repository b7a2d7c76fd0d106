"""The statistics charts, drawn on the server as SVG by pygal, so that the dashboard and
the PDF report show the same pictures. The report embeds each chart as a data: URL; the
dashboard shows it as an <img> of its own address whose `v` is the chart's key, a digest
of what it shows, so that the live refresh carries no picture and the browser fetches a
chart again only when its numbers changed (an SVG in an <img> runs no script). The page
and the report put the numbers in a table beside it."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable
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
    """A chart described by its numbers; drawn (by pygal, ~10-30 ms) only when its SVG is
    asked for."""

    title: str
    key: str  # a digest of the title, labels and numbers: another picture, another key
    draw: Callable[[], pygal.graph.graph.Graph]

    @functools.cached_property
    def svg(self) -> str:
        return _UNUSED.sub("", self.draw().render(is_unicode=True))

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


def _chart(title: str, data: object, draw: Callable[[], pygal.graph.graph.Graph]) -> Chart:
    """`data`: everything the picture shows beside its title (labels and numbers)."""
    shown = json.dumps([title, data], ensure_ascii=False, default=str)
    key = hashlib.blake2s(shown.encode(), digest_size=8).hexdigest()
    return Chart(title=title, key=key, draw=draw)


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
    labels = [str(TYPE_SHORT_LABELS[t]) for t in figures.by_type]
    lines = figures.by_type.values()
    series = [
        (_("Registered"), [line.registered for line in lines]),
        (_("Present"), [line.present for line in lines]),
    ]

    def draw() -> pygal.graph.graph.Graph:
        chart = pygal.Bar(**_options((REGISTERED_COLOUR, PRESENT_COLOUR)), title=title)
        chart.x_labels = labels
        for name, values in series:
            chart.add(name, values)
        _count_axis(chart, max(max(line.registered, line.present) for line in lines))
        return chart

    return _chart(title, [labels, series], draw)


def by_session(figures: Figures) -> Chart:
    title = _("Registered and present by session")
    # A horizontal bar chart draws its first label at the bottom: reverse to read top-down.
    sessions = figures.by_session[::-1]
    labels = [_shorten(s.title, 26) for s in sessions]  # the full titles: the table
    series = [
        (_("Registered"), [s.registered for s in sessions]),
        (_("Present"), [s.present for s in sessions]),
    ]

    def draw() -> pygal.graph.graph.Graph:
        chart = pygal.HorizontalBar(**_options((REGISTERED_COLOUR, PRESENT_COLOUR)), title=title)
        chart.x_labels = labels
        for name, values in series:
            chart.add(name, values)
        _count_axis(chart, max([max(s.registered, s.present) for s in sessions], default=0))
        return chart

    return _chart(title, [labels, series], draw)


def arrivals(figures: Figures) -> Chart:
    title = _("Arrivals per 10 minutes, by door")
    labels = figures.slot_labels
    series = [
        (door, [slot.doors.get(door, 0) for slot in figures.timeline]) for door in figures.doors
    ]

    def draw() -> pygal.graph.graph.Graph:
        chart = pygal.StackedBar(
            **_options(
                DOOR_COLOURS,
                x_label_rotation=-45,
                show_minor_x_labels=False,
                legend_at_bottom_columns=min(4, max(1, len(figures.doors))),
            ),
            title=title,
        )
        chart.x_labels = labels
        # At most about twelve time labels, whatever the length of the day.
        step = max(1, len(labels) // 12)
        chart.x_labels_major = labels[::step]
        for door, values in series:
            chart.add(door, values)
        _count_axis(chart, max(slot.total for slot in figures.timeline))
        return chart

    return _chart(title, [labels, series], draw)


CHARTS = ("by_type", "by_session", "arrivals")


def all_charts(figures: Figures) -> dict[str, Chart]:
    charts = {"by_type": by_type(figures)}
    if figures.by_session:
        charts["by_session"] = by_session(figures)
    if figures.timeline:
        charts["arrivals"] = arrivals(figures)
    return charts
