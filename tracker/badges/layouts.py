"""Badge layouts: a page size, a badge size and a grid. Adding one is a line here
(and, for an unusual shape, a tweak in templates/pdf/badges.css)."""

from __future__ import annotations

from dataclasses import dataclass

NAME_MARGIN = 5.0  # mm between the name and each side of the badge
CUT_GUIDE = 0.2  # mm: the dashed border drawn inside a badge with cut guides


@dataclass(frozen=True)
class Layout:
    name: str
    page_width: float  # mm
    page_height: float
    badge_width: float
    badge_height: float
    columns: int = 1
    rows: int = 1
    cut_marks: bool = False

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def margin_left(self) -> float:
        return (self.page_width - self.columns * self.badge_width) / 2

    @property
    def margin_top(self) -> float:
        return (self.page_height - self.rows * self.badge_height) / 2

    def position(self, index: int) -> tuple[float, float]:
        """Where the index-th badge of a page sits (left, top), in mm."""
        row, column = divmod(index, self.columns)
        return (
            self.margin_left + column * self.badge_width,
            self.margin_top + row * self.badge_height,
        )

    @property
    def name_width(self) -> float:
        """The width (mm) the name is laid out in: the badge's less its margins and,
        with cut guides, their border (templates/pdf/badges.css)."""
        border = 2 * CUT_GUIDE if self.cut_marks else 0.0
        return self.badge_width - border - 2 * NAME_MARGIN

    @property
    def qr_size(self) -> float:
        """At least 20 mm: large enough for a phone or a handheld scanner at 100 %."""
        return max(20.0, min(self.badge_height * 0.42, self.badge_width * 0.34, 36.0))


LAYOUTS = {
    layout.name: layout
    for layout in [
        Layout("a4-8", 210, 297, 105, 74, columns=2, rows=4, cut_marks=True),
        Layout("a4-10", 210, 297, 85, 55, columns=2, rows=5, cut_marks=True),
        Layout("a6", 105, 148, 105, 148),
        Layout("cr80", 85.6, 53.98, 85.6, 53.98),  # ISO/IEC 7810 ID-1, a bank card
    ]
}
DEFAULT_LAYOUT = "a4-8"
