"""The statistics dashboard: its tables against the known figures, the sortable
organisations, the live refresh part, the charts, and agreement with the stats API."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from tests.conftest import Tables, attendance_event, login, make_event, make_registration, make_user
from tracker.auth.services import create_token
from tracker.db import utcnow
from tracker.models import Event, OrganisationType, Role
from tracker.reports.services import figures, has_started


@pytest.fixture
def event(db):
    return attendance_event(db)


@pytest.fixture
def organiser(app, client, db, event):
    user = make_user(app, db, Role.ORGANISER, [event], email="org-stats@example.org")
    db.commit()
    login(client, user)
    return user


def dashboard(client, event, query: str = "") -> Tables:
    response = client.get(f"/events/{event.slug}/stats{query}")
    assert response.status_code == 200, response.text
    return Tables(response.get_data(as_text=True))


def test_the_dashboard_shows_the_known_figures(client, event, organiser):
    page = dashboard(client, event)
    assert page.tables["table-by-type"][1:] == [
        ["Cluster", "3", "3", "2", "1", "33.3%"],
        ["Ministry", "2", "1", "0", "1", "100%"],
        ["Region", "1", "1", "1", "0", "0%"],
        ["Agency", "1", "1", "0", "1", "100%"],
        ["Other", "0", "0", "0", "0", "–"],
    ]
    assert page.tables["table-by-session"][1:] == [
        ["Plénière", "4", "3", "0", "3"],
        ["Table ronde 1", "2", "2", "1", "1"],
        # H was let in without registering for it: said, not left to look like an error.
        ["Table ronde 2", "0", "0", "1 (of whom 1 not registered)", "0"],
    ]
    cross = {row[0]: row[1:] for row in page.tables["table-cross"][1:]}
    assert cross["Cluster"] == ["0 / 2", "1 / 2", "0 / 0"]
    assert cross["Agency"] == ["0 / 0", "0 / 0", "1 / 0 (1 not registered)"]
    assert page.tables["table-arrivals"] == [
        ["From", "A", "B", "Total"],
        ["09:00", "1", "0", "1"],
        ["09:10", "0", "1", "1"],
        ["09:20", "1", "0", "1"],
    ]
    organisations = page.tables["table-by-organisation"]
    assert organisations[1] == ["DGE", "Ministry", "2", "0", "1"]
    assert len(organisations) == 1 + 6


def test_the_headline_cards(client, event, organiser):
    html = client.get(f"/events/{event.slug}/stats").get_data(as_text=True)
    assert 'data-registered="8"' in html and 'data-present="3"' in html
    assert "50% of confirmed" in html  # present and no-shows are both 3 of 6
    assert "12.5% of registrations" in html  # one cancellation of eight


def test_every_chart_is_an_svg_image_with_its_table_beside_it(client, event, organiser):
    page = dashboard(client, event)
    charts = [img for img in page.images if "chart" in img.get("class", "")]
    assert len(charts) == 3
    svgs = []
    for img in charts:
        assert re.fullmatch(r"/events/attendance/stats/charts/\w+\.svg\?v=[0-9a-f]{16}", img["src"])
        response = client.get(img["src"])
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        svg = response.get_data(as_text=True)
        assert svg.startswith("<svg") and "<script" not in svg  # nothing fetched, nothing run
        assert "the numbers are in the table" in img["alt"]
        svgs.append(svg)
    assert "09:10" in svgs[2]  # the timeline's slots label the chart


def test_a_chart_is_fetched_again_only_when_its_figures_change(client, db, event, organiser):
    from tracker.checkin.services import check_in
    from tracker.models import Registration

    def sources() -> dict[str, str]:
        images = dashboard(client, event, "?part=figures").images
        return {img["src"].split("?")[0].rsplit("/", 1)[1]: img["src"] for img in images}

    before = sources()
    assert client.get(before["by_type.svg"]).headers["Cache-Control"] == "private, max-age=86400"
    # An address of figures gone by is not kept: it answers what is true now.
    stale = client.get(before["by_type.svg"].replace("?v=", "?v=0"))
    assert stale.headers["Cache-Control"] == "no-store"
    c = db.query(Registration).filter_by(event_id=event.id, first_name="C").one()
    check_in(db, event, actor=None, door="C", code=c.checkin_code)
    db.commit()
    after = sources()
    assert after["by_type.svg"] != before["by_type.svg"]  # one more present cluster
    assert after["by_session.svg"] == before["by_session.svg"]  # no session check-in
    assert client.get(f"/events/{event.slug}/stats/charts/pie.svg").status_code == 404
    client.set_cookie("lang", "fr")  # the words are in the picture: another key
    assert sources()["by_type.svg"] != after["by_type.svg"]


@pytest.mark.parametrize(
    ("query", "first", "last"),
    [
        ("?sort=name", "Aerospace Valley", "Vegepolys"),
        ("?sort=name&order=desc", "Vegepolys", "Aerospace Valley"),
        ("?sort=present", "Aerospace Valley", "Minalogic"),
        ("?sort=bogus&order=sideways", "DGE", "Minalogic"),
    ],
)
def test_organisations_are_sortable(client, event, organiser, query, first, last):
    rows = dashboard(client, event, query).tables["table-by-organisation"][1:]
    assert (rows[0][0], rows[-1][0]) == (first, last)


def test_the_sort_links_turn_the_order_around(client, event, organiser):
    html = client.get(f"/events/{event.slug}/stats?sort=name").get_data(as_text=True)
    assert 'aria-sort="ascending"' in html
    assert "sort=name&amp;order=desc" in html


def test_the_live_part_is_the_figures_alone(client, event, organiser):
    response = client.get(f"/events/{event.slug}/stats?part=figures")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "table-by-type" in html
    full = client.get(f"/events/{event.slug}/stats").get_data(as_text=True)
    assert 'data-url="/events/attendance/stats?part=figures"' in full
    assert "js/stats.js" in full


def many_organisations(db, count: int) -> Event:
    """An event with one registration from each of `count` organisations."""
    crowded = make_event(db, capacity=None)
    for n in range(count):
        make_registration(
            db, crowded, organisation=f"Organisation numéro {n:03d}", email=f"p{n}@example.org"
        )
    return crowded


def test_the_live_refresh_holds_no_organisation_and_stays_small(client, db, organiser):
    crowded = many_organisations(db, 200)
    organiser.events.append(crowded)
    db.commit()
    url = f"/events/{crowded.slug}/stats"
    whole = client.get(url).get_data(as_text=True)
    assert len(Tables(whole).tables["table-by-organisation"]) == 1 + 200
    live = client.get(f"{url}?part=figures")
    html = live.get_data(as_text=True)
    assert live.status_code == 200
    assert "table-by-organisation" not in html and "Organisation numéro" not in html
    # The headline figures, the small tables and the charts' addresses: the same size with 200
    # organisations as with 2, where the whole page carries a row for each.
    assert 'data-registered="200"' in html
    assert len(live.data) < 12_000 < len(whole.encode())


def test_the_organisations_reload_alone_sorted_as_asked(client, db, event, organiser):
    url = f"/events/{event.slug}/stats?part=organisations"
    response = client.get(f"{url}&sort=name&order=desc")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and "table-by-type" not in html and "table-arrivals" not in html
    rows = Tables(html).tables["table-by-organisation"][1:]
    assert (rows[0][0], rows[-1][0]) == ("Vegepolys", "Aerospace Valley")
    assert 'aria-sort="descending"' in html
    # Its links reload it as sorted (the whole page without the script).
    assert "sort=name&amp;order=asc#by-organisation" in html
    assert "data-organisations" in html
    rows = Tables(client.get(f"{url}&sort=present").get_data(as_text=True)).tables
    assert [r[3] for r in rows["table-by-organisation"][1:]] == sorted(
        (r[3] for r in rows["table-by-organisation"][1:]), key=int, reverse=True
    )
    # The whole page keeps its sort in the address, with the table in its own region.
    whole = dashboard(client, event, "?sort=name&order=desc").tables["table-by-organisation"]
    assert whole[1][0] == "Vegepolys"


def test_the_dashboard_follows_a_new_check_in(client, db, event, organiser):
    from tracker.checkin.services import check_in
    from tracker.models import Registration

    c = db.query(Registration).filter_by(event_id=event.id, first_name="C").one()
    check_in(db, event, actor=None, door="C", code=c.checkin_code)
    db.commit()
    page = dashboard(client, event, "?part=figures")
    assert page.tables["table-by-type"][1][:4] == ["Cluster", "3", "3", "3"]


def test_dashboard_and_api_agree(app, client, db, event, organiser):
    with app.app_context():
        token, _ = create_token(db, organiser, "stats")
    db.commit()
    api = client.get(
        f"/api/v1/events/{event.slug}/stats", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    page = dashboard(client, event)
    rows = page.tables["table-by-type"][1:]
    for row, type_ in zip(rows, list(OrganisationType), strict=True):  # the page's order
        assert [int(row[2]), int(row[3])] == [
            api["by_type"][type_.value]["confirmed"],
            api["by_type"][type_.value]["checked_in"],
        ]
    for row, session in zip(page.tables["table-by-session"][1:], api["by_session"], strict=True):
        assert (row[0], int(row[1]), int(row[3].split()[0])) == (
            session["title"],
            session["registered"],
            session["checked_in"],
        )
    assert (api["registered"], api["checked_in"], api["no_show"]) == (8, 3, 3)
    assert api["started"] is True


def test_an_empty_event_and_french(client, db, organiser):
    empty = make_event(db)
    organiser.events.append(empty)
    db.commit()
    client.set_cookie("lang", "fr")
    html = client.get(f"/events/{empty.slug}/stats").get_data(as_text=True)
    assert "Personne n’a encore été enregistré à l’entrée." in html
    assert "Statistiques" in html


def test_door_accounts_and_other_organisers_are_refused(app, client, db, event):
    door = make_user(app, db, Role.DOOR, [event], email="door-stats@example.org")
    stranger = make_user(app, db, Role.ORGANISER, [make_event(db)], email="o2@example.org")
    db.commit()
    for user in (door, stranger):
        login(client, user)
        assert client.get(f"/events/{event.slug}/stats").status_code == 403


def test_every_download_link_of_the_dashboard_works(client, event, organiser):
    html = client.get(f"/events/{event.slug}/stats").get_data(as_text=True)
    links = sorted(set(re.findall(r'href="(/events/attendance/export\?[^"]+)"', html)))
    # headcount: pdf, xlsx, csv, csv for Excel; attendees and check-ins: 3 each; sign-in
    # sheets: the event and each of its 3 sessions.
    assert len(links) == 4 + 3 + 3 + 4
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        assert response.headers["Content-Disposition"].startswith("attachment;"), link
        assert len(response.data) > 100, link


def test_before_the_start_nobody_is_a_no_show_and_after_it_they_are(
    app, client, db, event, organiser
):
    """The dashboard, the API, the headcount export and the PDF report on both sides of
    the start time: "not arrived yet" before it, "no-show" from it."""
    with app.app_context():
        token, _ = create_token(db, organiser, "stats")
    auth = {"Authorization": f"Bearer {token}"}

    def outputs() -> tuple[str, dict, str, str]:
        db.commit()
        page = client.get(f"/events/{event.slug}/stats").get_data(as_text=True)
        api = client.get(f"/api/v1/events/{event.slug}/stats", headers=auth).get_json()
        csv = client.get(f"/events/{event.slug}/export?what=headcount&format=csv")
        pdf = client.get(f"/events/{event.slug}/export?what=headcount&format=pdf")
        report = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
        return page, api, csv.get_data(as_text=True), " ".join(report.split())

    event.starts_at = utcnow() + timedelta(hours=1)
    page, api, csv, report = outputs()
    assert "Not arrived yet" in page and "No-show" not in page
    assert "Share not arrived yet" in page
    assert (api["started"], api["no_show"]) == (False, 3)  # the key stays, with its count
    assert "Not arrived yet,3" in csv and "No-show" not in csv
    assert "Not arrived yet" in report and "No-show" not in report

    event.starts_at = utcnow() - timedelta(minutes=1)
    page, api, csv, report = outputs()
    assert "No-shows" in page and "No-show rate" in page and "Not arrived" not in page
    assert (api["started"], api["no_show"]) == (True, 3)
    assert "No-show,3" in csv and "Not arrived" not in csv
    assert "No-shows" in report and "Not arrived" not in report

    # The moment of the start is the first moment of no-shows.
    start = event.starts_at
    assert not has_started(event, start - timedelta(seconds=1))
    assert has_started(event, start)
    assert figures(db, event, now=start - timedelta(seconds=1)).started is False


def test_the_french_dashboard_before_the_start(client, db, event, organiser):
    event.starts_at = utcnow() + timedelta(hours=1)
    db.commit()
    client.set_cookie("lang", "fr")
    html = client.get(f"/events/{event.slug}/stats").get_data(as_text=True)
    assert "Pas encore arrivés" in html and "Absents" not in html
    sessions = Tables(html).tables["table-by-session"]
    assert sessions[3][:4] == ["Table ronde 2", "0", "0", "1 (dont 1 non inscrit)"]


def test_the_live_refresh_answers_the_figures_of_the_whole_page(client, db, event, organiser):
    """The refresh (from the maintained counts) is, word for word, the figures part of
    the whole page (counted from the rows), before and after the figures change."""
    from tracker.checkin.services import check_in
    from tracker.models import Registration

    def both() -> tuple[str, str]:
        page = client.get(f"/events/{event.slug}/stats").get_data(as_text=True)
        inside = page.split('<div id="figures" aria-live="off">', 1)[1]
        inside = inside.split('<section aria-labelledby="by-organisation">', 1)[0]
        inside = inside.strip().removesuffix("</div>").strip()
        live = client.get(f"/events/{event.slug}/stats?part=figures").get_data(as_text=True)
        as_of = re.compile(r'<p class="as-of">.*?</p>')  # the minute may turn between them
        return as_of.sub("", inside), as_of.sub("", live.strip())

    page, live = both()
    assert "table-cross" in live and page == live
    c = db.query(Registration).filter_by(event_id=event.id, first_name="C").one()
    check_in(db, event, actor=None, door="C", code=c.checkin_code)
    check_in(db, event, actor=None, door="C", code=c.checkin_code, session_id=event.sessions[2].id)
    db.commit()
    after, live_after = both()
    assert after == live_after and after != page
