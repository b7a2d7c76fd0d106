"""PDF badges: content, layouts, QR codes that decode, safety, printing records."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import make_event, make_registration, pdf_text
from tracker.badges.layouts import LAYOUTS
from tracker.badges.services import (
    largest_name_size,
    name_size,
    record_printed,
    render_badges,
    select_registrations,
)
from tracker.errors import DomainError
from tracker.models import OrganisationType
from tracker.pdf import STATIC_DIR, SafeFetcher

pytestmark = pytest.mark.usefixtures("app_ctx")

NAMES = ["Éléonore Dupré-Lefèvre", "Łukasz Żółć", "Ayşe Güneş", "Nguyễn Thị Minh Khai"]


def people(db, event, n):
    return [
        make_registration(
            db,
            event,
            first_name=NAMES[i % len(NAMES)].split()[0],
            last_name=f"{NAMES[i % len(NAMES)].split()[-1]} {i}",
        )
        for i in range(n)
    ]


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def test_names_organisations_and_titles_are_in_the_pdf(db):
    event = make_event(db)
    regs = people(db, event, 4)
    regs[0].job_title = "Chargée de mission international"
    text = pdf_text(render_badges(db, event, regs, "a4-8"))
    for r in regs:
        assert r.first_name in text and r.last_name in text
    assert "Vegepolys" in text and "Chargée de mission international" in text
    assert event.title in text
    assert "CLUSTER" in text.upper()


@pytest.mark.parametrize("layout, pages", [("a4-8", 3), ("a4-10", 2), ("a6", 17), ("cr80", 17)])
def test_page_count_follows_the_layout(db, layout, pages):
    event = make_event(db)
    assert page_count(render_badges(db, event, people(db, event, 17), layout)) == pages


def test_page_size_is_the_layouts(db):
    # CR80 is the ISO/IEC 7810 ID-1 card: 85.60 × 53.98 mm, to a hundredth of a millimetre.
    event = make_event(db)
    pdf = render_badges(db, event, people(db, event, 1), "cr80")
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    mm = 25.4 / 72
    assert (round(float(box.width) * mm, 2), round(float(box.height) * mm, 2)) == (85.6, 53.98)


def _decode_page(pdf: bytes, tmp_path: Path, page: int | None = 1) -> set[str]:
    """The codes read from one page (every page with page=None), rendered at 200 dpi."""
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm (poppler-utils) is needed to read the badges' QR codes")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image

    source = tmp_path / "badges.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "200",
            *(["-f", str(page), "-l", str(page)] if page else []),
            str(source),
            str(tmp_path / "page"),
        ],
        check=True,
    )
    return {
        barcode.text
        for image in sorted(tmp_path.glob("page*.png"))
        for barcode in zxingcpp.read_barcodes(Image.open(image))
    }


@pytest.mark.parametrize("layout", ["a4-8", "a4-10", "cr80"])
def test_every_qr_on_a_page_decodes_to_its_checkin_code(db, tmp_path, layout):
    event = make_event(db)
    regs = people(db, event, LAYOUTS[layout].per_page)
    pdf = render_badges(db, event, regs, layout)
    assert _decode_page(pdf, tmp_path) == {r.checkin_code for r in regs}


def test_a_large_batch_is_split_over_processes_and_merged_in_order(
    app, db, tmp_path, monkeypatch, caplog
):
    import logging

    from tracker.badges import ahead

    monkeypatch.setattr(ahead, "MIN_BADGES_PER_PROCESS", 1)
    monkeypatch.setitem(app.config, "PDF_PROCESSES", 2)
    event = make_event(db)
    regs = people(db, event, 17)  # 9 badges rendered in one process, 8 in the other
    with caplog.at_level(logging.INFO, logger="tracker.pdf"):
        pdf = render_badges(db, event, regs, "a4-8")
    (done,) = [r for r in caplog.records if hasattr(r, "pdf_peaks_mib")]
    assert len(done.pdf_peaks_mib) == 2
    assert page_count(pdf) == 3
    pages = [
        " ".join(p.extract_text().split()).replace("- ", "-")
        for p in PdfReader(io.BytesIO(pdf)).pages
    ]
    for n, r in enumerate(regs):
        assert r.last_name in pages[n // 8], (n, r.last_name)
    assert _decode_page(pdf, tmp_path, page=3) == {r.checkin_code for r in regs[16:]}


def test_every_badge_of_the_demo_event_scans(db, tmp_path):
    from tracker.demo import seed_demo

    event, _ = seed_demo(db)
    regs = select_registrations(db, event)
    assert len(regs) == 130
    pdf = render_badges(db, event, regs, "a4-8")
    assert page_count(pdf) == 17
    assert _decode_page(pdf, tmp_path, page=None) == {r.checkin_code for r in regs}


def name_lines(pdf: bytes, name: str) -> list[str]:
    """The lines the name is printed on in a one-badge PDF, top to bottom: the pieces
    of text that are parts of the name, grouped by their baseline."""
    pieces: list[tuple[float, str]] = []

    def visit(text, cm, tm, font, size):
        if text.strip() and " ".join(text.split()) in name:
            pieces.append((round(tm[5] * cm[3] + cm[5], 1), text))

    (page,) = PdfReader(io.BytesIO(pdf)).pages
    page.extract_text(visitor_text=visit)
    baselines = sorted({y for y, _ in pieces}, reverse=True)
    lines = [" ".join(t for y, t in pieces if y == b).strip() for b in baselines]
    # Every character of the name, in order (a line may break with no space).
    assert "".join("".join(lines).split()) == "".join(name.split())
    return lines


@pytest.mark.parametrize("layout", ["a4-8", "a4-10", "a6", "cr80"])
@pytest.mark.parametrize(
    "first, last", [("Marie-Amélie", "DE MONTMORENCY-LAVAL"), ("WŁADYSŁAW", "WOŹNIAK-WIŚNIEWSKI")]
)
def test_a_long_name_prints_on_two_lines_at_the_largest_size_that_fits(
    db, monkeypatch, layout, first, last
):
    from tracker.badges import services

    event = make_event(db)
    r = make_registration(db, event, first_name=first, last_name=last)
    name = f"{first} {last}"
    assert len(name_lines(render_badges(db, event, [r], layout), name)) <= 2
    # One step larger, the printer would need a third line: the size was not chosen
    # needlessly small.
    chosen = name_size(name, LAYOUTS[layout])
    assert chosen < largest_name_size(LAYOUTS[layout])
    monkeypatch.setattr(services, "name_size", lambda n, lay: chosen + services.NAME_STEP)
    assert len(name_lines(render_badges(db, event, [r], layout), name)) > 2


@pytest.mark.parametrize("layout", ["a4-8", "a4-10", "a6", "cr80"])
def test_a_sixty_character_name_stays_on_two_lines_of_its_badge(db, layout):
    long_name = "Marie-Françoise-Éléonore de La Tour d'Auvergne-Lauraguais Xy"
    assert len(long_name) >= 60
    assert name_size(long_name, LAYOUTS[layout]) < name_size("Anne Roy", LAYOUTS[layout])
    event = make_event(db)
    r = make_registration(db, event, first_name=long_name[:30], last_name=long_name[31:])
    assert len(name_lines(render_badges(db, event, [r], layout), long_name)) <= 2


@pytest.mark.parametrize("layout", ["a4-8", "a4-10", "a6", "cr80"])
def test_a_short_name_prints_at_the_largest_size_on_one_line(db, layout):
    event = make_event(db)
    r = make_registration(db, event, first_name="Anne", last_name="Roy")
    assert name_size(r.full_name, LAYOUTS[layout]) == largest_name_size(LAYOUTS[layout])
    assert name_lines(render_badges(db, event, [r], layout), r.full_name) == ["Anne Roy"]


def test_a_name_in_chinese_is_measured_in_its_own_font(db):
    # Ideographs are about twice as wide as Latin letters: twenty of them are sized down
    # to fit on the badge's two lines.
    event = make_event(db)
    r = make_registration(db, event, first_name="李小龍王" * 5, last_name="王")
    layout = LAYOUTS["cr80"]
    assert name_size(r.full_name, layout) < largest_name_size(layout)
    assert len(name_lines(render_badges(db, event, [r], "cr80"), r.full_name)) <= 2


PAYLOADS = [
    '<img src="file:///etc/passwd">',
    "<link rel=attachment href=file:///etc/passwd>",
    "<style>body{background:url(file:///etc/passwd)}</style>",
    "<img src=http://127.0.0.1:9/x>",
]


def test_typed_markup_is_printed_as_text_and_reads_nothing(db, fetched):
    event = make_event(db)
    regs = [
        make_registration(db, event, first_name=p[:100], organisation=f"Org {p}"[:200])
        for p in PAYLOADS
    ]
    pdf = render_badges(db, event, regs, "a4-8")
    assert b"root:x:0:0" not in pdf
    assert Path("/etc/passwd").read_bytes()[:20] not in pdf
    text = pdf_text(pdf)
    assert "<img" in text and "file:///etc/passwd" in text
    assert all(u.startswith("data:") for u in fetched), fetched


def test_the_fetcher_serves_only_data_and_static_files():
    fetcher = SafeFetcher()
    static_file = next(p for p in STATIC_DIR.rglob("*.css"))
    assert fetcher.fetch(static_file.as_uri()) is not None
    assert fetcher.fetch("data:text/plain,hello") is not None
    for url in [
        "file:///etc/passwd",
        "http://127.0.0.1:9/x",
        "https://example.org/",
        (STATIC_DIR / ".." / ".." / "config.py").as_uri(),
        "ftp://x/y",
    ]:
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 5


def test_band_colours_are_the_events_where_valid_and_nothing_else_reaches_the_css(db):
    from tracker.badges.services import DEFAULT_COLOURS, badge_colours, badge_stylesheet

    event = make_event(db)
    event.badge_colours = {
        "cluster": "#123456",
        "region": "red; } body { background: url(file:///etc/passwd) } .x {",
        "agency": 7,
    }
    colours = badge_colours(event)
    assert colours["cluster"] == "#123456"
    assert colours["region"] == DEFAULT_COLOURS["region"]
    assert colours["agency"] == DEFAULT_COLOURS["agency"]
    css = badge_stylesheet(event, LAYOUTS["a4-8"])
    assert ".t-cluster .band { background: #123456; }" in css
    assert "passwd" not in css


def test_filters_and_printing_records(db):
    event = make_event(db)
    cluster = make_registration(db, event, session_ids=[event.sessions[1].id])
    ministry = make_registration(
        db, event, organisation="Ministère", organisation_type=OrganisationType.MINISTRY
    )
    assert select_registrations(db, event, types=["ministry"]) == [ministry]
    assert select_registrations(db, event, session_id=event.sessions[1].id) == [cluster]
    record_printed([cluster])
    record_printed([cluster])
    assert cluster.badge_print_count == 2 and cluster.badge_printed_at is not None
    db.flush()
    assert select_registrations(db, event, not_printed=True) == [ministry]


def test_an_oversize_batch_is_refused_before_rendering(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "BADGE_MAX_BATCH", 2)
    event = make_event(db)
    with pytest.raises(DomainError) as caught:
        render_badges(db, event, people(db, event, 3), "a4-8")
    assert "At most 2 badges" in str(caught.value.message)


def test_an_empty_selection_or_an_unknown_layout_is_a_clear_error(db):
    event = make_event(db)
    with pytest.raises(DomainError):
        render_badges(db, event, [], "a4-8")
    with pytest.raises(DomainError):
        render_badges(db, event, people(db, event, 1), "poster")


def test_badges_command(app, tmp_path):
    from sqlalchemy import delete

    from tracker.badges.cli import badges_command
    from tracker.models import Event

    factory = app.extensions["db"].sessionmaker
    with factory.begin() as db:
        event = make_event(db)
        slug = event.slug
        people(db, event, 3)
        elsewhere = make_event(db)
        other_session, other_slug = elsewhere.sessions[0].id, elsewhere.slug
    runner = app.test_cli_runner()
    out = tmp_path / "badges.pdf"
    try:
        result = runner.invoke(badges_command, [slug, "-o", str(out), "--layout", "a6"])
        assert result.exit_code == 0, result.output
        assert page_count(out.read_bytes()) == 3
        again = runner.invoke(badges_command, [slug, "-o", str(out), "--not-printed"])
        assert again.exit_code != 0 and "No badge" in again.output
        unknown = runner.invoke(badges_command, ["no-such-event", "-o", str(out)])
        assert unknown.exit_code != 0 and "Traceback" not in unknown.output
        out.unlink()
        stray = runner.invoke(
            badges_command, [slug, "-o", str(out), "--session", str(other_session)]
        )
        assert stray.exit_code != 0 and not out.exists()
        assert f"Session “{other_session}” is not part of the event." in stray.output
    finally:
        with factory.begin() as db:
            db.execute(delete(Event).where(Event.slug.in_([slug, other_slug])))


def test_names_in_other_scripts_get_a_fallback_font_not_empty_boxes(db, caplog):
    event = make_event(db)
    regs = [
        make_registration(db, event, first_name="李小龍", last_name="王"),
        make_registration(db, event, first_name="محمد", last_name="العلي"),
        make_registration(db, event, first_name="Ayşe", last_name="Nguyễn Đức"),
    ]
    with caplog.at_level("WARNING", logger="weasyprint"):
        pdf = render_badges(db, event, regs, "a4-8")
    assert not [r for r in caplog.records if ".notdef" in r.getMessage()]
    assert "李小龍" in pdf_text(pdf)


def rendered_count(caplog) -> int:
    """How many rendering runs (WeasyPrint) tracker.pdf reported."""
    return len([r for r in caplog.records if hasattr(r, "pdf_peaks_mib")])


def test_a_batch_is_imposed_from_the_kept_badges_without_rendering_them_again(db, tmp_path, caplog):
    import logging

    from sqlalchemy import select

    from tracker.models import BadgePage

    event = make_event(db)
    regs = people(db, event, 9)
    with caplog.at_level(logging.INFO, logger="tracker.pdf"):
        first = render_badges(db, event, regs, "a4-8")
        assert rendered_count(caplog) == 1
        kept = db.scalars(select(BadgePage).where(BadgePage.layout == "a4-8")).all()
        assert sorted(p.registration_id for p in kept) == sorted(r.id for r in regs)
        caplog.clear()
        again = render_badges(db, event, regs, "a4-8")
        assert rendered_count(caplog) == 0  # merging only
    assert page_count(again) == page_count(first) == 2
    box = PdfReader(io.BytesIO(again)).pages[0].mediabox
    assert (round(float(box.width) * 25.4 / 72), round(float(box.height) * 25.4 / 72)) == (210, 297)
    assert pdf_text(again) == pdf_text(first)
    assert _decode_page(again, tmp_path, page=None) == {r.checkin_code for r in regs}


def test_a_badge_whose_data_changed_is_rendered_again_never_printed_stale(db, tmp_path, caplog):
    import logging

    from sqlalchemy import select

    from tracker.models import BadgePage

    event = make_event(db)
    regs = people(db, event, 3)
    render_badges(db, event, regs, "a4-8")

    def kept() -> dict[int, tuple[int, str]]:
        pages = db.scalars(select(BadgePage).where(BadgePage.layout == "a4-8"))
        return {p.registration_id: (p.render_id, p.digest) for p in pages}

    before = kept()
    old_name = regs[1].last_name
    regs[1].last_name = "Changé-Depuis"
    regs[2].job_title = "Nouvelle fonction"
    db.flush()
    with caplog.at_level(logging.INFO, logger="tracker.pdf"):
        caplog.clear()  # (the first batch's rendering, when INFO is logged already)
        pdf = render_badges(db, event, regs, "a4-8")
    assert rendered_count(caplog) == 1
    text = pdf_text(pdf)
    assert "Changé-Depuis" in text and old_name not in text
    assert "Nouvelle fonction" in text
    after = kept()
    assert after[regs[0].id] == before[regs[0].id]  # unchanged: the kept page is used
    for changed in regs[1:]:
        assert after[changed.id] != before[changed.id]

    # What the event prints on every badge (its title) makes every kept badge stale.
    event.title = "Atelier renommé"
    db.flush()
    text = pdf_text(render_badges(db, event, regs, "a4-8"))
    assert text.count("Atelier renommé") == 3
    assert all(kept()[r.id] != after[r.id] for r in regs)
    # A new check-in code is a new QR code: the badge printed carries the new one.
    from tracker.registration.identity import qr_png

    regs[0].checkin_code = "NEWCODE" + regs[0].checkin_code[7:]
    regs[0].qr_png = qr_png(regs[0].checkin_code)
    db.flush()
    pdf = render_badges(db, event, regs, "a4-8")
    assert _decode_page(pdf, tmp_path) == {r.checkin_code for r in regs}


def test_a_badge_kept_in_one_language_is_not_printed_in_the_other(app, db):
    from flask_babel import force_locale

    event = make_event(db)
    regs = people(db, event, 1)
    with force_locale("fr"):
        french = pdf_text(render_badges(db, event, regs, "a6"))
    with force_locale("en"):
        english = pdf_text(render_badges(db, event, regs, "a6"))
    assert french != english
