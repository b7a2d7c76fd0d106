"""The attendance figures against an event whose numbers are known (tests.conftest.
attendance_event): cancellations, the waitlist, an undone check-in, a walk-in, a session
check-in of someone not registered for it, a refused scan."""

from __future__ import annotations

import pytest

from tests.conftest import attendance_event, make_event
from tracker.models import OrganisationType
from tracker.reports.services import figures

CLUSTER, MINISTRY, REGION, AGENCY, OTHER = list(OrganisationType)


@pytest.fixture
def event(db):
    return attendance_event(db)


def counts(line):
    return (line.registered, line.confirmed, line.present, line.no_show)


def test_headline_figures(db, event):
    totals = figures(db, event).totals
    assert totals.as_dict() == {
        "registered": 8,
        "confirmed": 6,
        "waitlisted": 1,
        "cancelled": 1,
        "present": 3,
        "no_show": 3,
        "present_rate": 0.5,
        "no_show_rate": 0.5,
        "cancellation_rate": 0.125,
    }


def test_by_organisation_type(db, event):
    by_type = figures(db, event).by_type
    assert list(by_type) == [CLUSTER, MINISTRY, REGION, AGENCY, OTHER]
    assert counts(by_type[CLUSTER]) == (3, 3, 2, 1)
    assert counts(by_type[MINISTRY]) == (2, 1, 0, 1)
    assert counts(by_type[REGION]) == (1, 1, 1, 0)
    assert counts(by_type[AGENCY]) == (1, 1, 0, 1)
    assert counts(by_type[OTHER]) == (0, 0, 0, 0)
    assert by_type[OTHER].no_show_rate is None
    assert by_type[CLUSTER].no_show_rate == pytest.approx(1 / 3, abs=1e-4)


def test_by_session_and_the_cross_table(db, event):
    plenary, rt1, rt2 = figures(db, event).by_session
    assert [s.title for s in (plenary, rt1, rt2)] == [s.title for s in event.sessions]
    assert (plenary.registered, plenary.confirmed, plenary.present) == (4, 3, 0)
    assert (rt1.registered, rt1.confirmed, rt1.present, rt1.no_show) == (2, 2, 1, 1)
    assert (rt2.registered, rt2.present) == (0, 1)  # H came without registering for it
    assert counts(plenary.by_type[MINISTRY])[:3] == (2, 1, 0)
    assert counts(rt1.by_type[CLUSTER]) == (2, 2, 1, 1)
    assert rt2.by_type[AGENCY].present == 1
    assert rt2.by_type[CLUSTER].present == 0


def test_by_organisation(db, event):
    lines = figures(db, event).by_organisation
    table = {line.name: (line.type, line.registered, line.present) for line in lines}
    assert table == {
        "Vegepolys": (CLUSTER, 2, 1),
        "Aerospace Valley": (CLUSTER, 1, 1),
        "Minalogic": (CLUSTER, 0, 0),  # its only person cancelled
        "DGE": (MINISTRY, 2, 0),
        "Bpifrance": (AGENCY, 1, 0),
        "Région Pays de la Loire": (REGION, 1, 1),
    }
    assert [line.name for line in lines][:2] == ["DGE", "Vegepolys"]  # most registered first


@pytest.mark.parametrize(
    ("sort", "descending", "first", "last"),
    [
        ("name", None, "Aerospace Valley", "Vegepolys"),
        ("name", True, "Vegepolys", "Aerospace Valley"),
        ("present", None, "Aerospace Valley", "Minalogic"),
        ("present", False, "Bpifrance", "Vegepolys"),
        ("type", None, "Aerospace Valley", "Bpifrance"),
        ("no_show", None, "Bpifrance", "Région Pays de la Loire"),
        ("nonsense", None, "DGE", "Minalogic"),  # an unknown column sorts by registered
    ],
)
def test_organisations_sort_by_any_column(db, event, sort, descending, first, last):
    lines = figures(db, event, sort=sort, descending=descending).by_organisation
    assert (lines[0].name, lines[-1].name) == (first, last)


def test_arrival_timeline_per_ten_minutes_and_door(db, event):
    result = figures(db, event)
    assert result.doors == ["A", "B"]
    slots = [(s.starts_at.strftime("%H:%M"), s.doors) for s in result.timeline]
    # Paris time; the undone check-in and the refused scan are not arrivals.
    assert slots == [("09:00", {"A": 1}), ("09:10", {"B": 1}), ("09:20", {"A": 1})]
    assert str(result.timeline[0].starts_at.tzinfo) == "Europe/Paris"


def test_an_event_without_anybody(db):
    result = figures(db, make_event(db))
    assert result.totals.registered == 0
    assert result.totals.present_rate is None
    assert result.timeline == [] and result.by_organisation == []
    assert all(s.registered == 0 for s in result.by_session)


def test_a_timeline_over_days_keeps_only_the_busy_slots(db, event):
    from datetime import timedelta

    from tests.conftest import at, make_registration
    from tracker.checkin.services import check_in

    late = make_registration(db, event, first_name="Z")
    check_in(db, event, actor=None, door="A", code=late.checkin_code, now=at(9, 3) + timedelta(7))
    slots = figures(db, event).timeline
    assert len(slots) == 4
    assert slots[-1].starts_at.date() > slots[0].starts_at.date()
    assert [s.total for s in slots] == [1, 1, 1, 1]


def test_arrivals_in_one_slot_at_one_door_add_up(db, event):
    from tests.conftest import at, make_registration
    from tracker.checkin.services import check_in

    for minute in (4, 9):
        late = make_registration(db, event, first_name=f"Z{minute}")
        check_in(db, event, actor=None, door="A", code=late.checkin_code, now=at(9, minute))
    slots = figures(db, event).timeline
    assert slots[0].doors == {"A": 3} and slots[0].total == 3
