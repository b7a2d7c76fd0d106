"""The badge pages: batch with preview, one badge on demand, the door's reprint.
(No app context around the test: each request must load its own user.)"""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.conftest import login, make_event, make_registration, make_user


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def people(db, event, n):
    return [make_registration(db, event, last_name=f"Martin {i}") for i in range(n)]


def test_badge_pages_record_printing_and_refuse_the_wrong_roles(app, client, db):
    from tracker.models import Role

    event = make_event(db)
    other = make_event(db)
    regs = people(db, event, 3)
    organiser = make_user(app, db, Role.ORGANISER, [event], email="org-badges@example.org")
    door = make_user(app, db, Role.DOOR, [event], email="door-badges@example.org")
    outsider = make_user(app, db, Role.DOOR, [other], email="door-other@example.org")
    db.commit()

    login(client, organiser)
    page = client.get(f"/events/{event.slug}/badges?layout=a6")
    assert page.status_code == 200 and "3 confirmed people match." in page.text
    preview = client.get(f"/events/{event.slug}/badges/preview.pdf?layout=a6")
    assert preview.mimetype == "application/pdf" and page_count(preview.data) == 3
    db.expire_all()
    assert regs[0].badge_print_count == 0  # a preview is not a print
    batch = client.post(f"/events/{event.slug}/badges", data={"layout": "a4-8"})
    assert batch.mimetype == "application/pdf" and page_count(batch.data) == 1
    db.expire_all()
    assert all(r.badge_print_count == 1 for r in regs)
    one = client.post(f"/events/{event.slug}/registrations/{regs[0].id}/badge.pdf")
    assert one.mimetype == "application/pdf"
    db.expire_all()
    assert regs[0].badge_print_count == 2
    assert "Printed 2 times" in client.get(f"/events/{event.slug}/registrations/{regs[0].id}").text

    login(client, door)
    assert client.get(f"/events/{event.slug}/badges").status_code == 403
    reprint = client.post(f"/events/{event.slug}/door/badge/{regs[1].id}.pdf")
    assert reprint.mimetype == "application/pdf"
    assert "door-badge-form" in client.get(f"/events/{event.slug}/door").text

    login(client, outsider)
    assert client.post(f"/events/{event.slug}/door/badge/{regs[1].id}.pdf").status_code == 403


def test_a_batch_over_the_time_limit_is_refused_with_a_message_and_not_recorded(
    app, client, db, monkeypatch
):
    from tracker.models import Role

    event = make_event(db)
    regs = people(db, event, 3)
    organiser = make_user(app, db, Role.ORGANISER, [event], email="org-slow@example.org")
    db.commit()
    login(client, organiser)
    monkeypatch.setitem(app.config, "PDF_TIMEOUT", 0.001)
    batch = client.post(f"/events/{event.slug}/badges", data={"layout": "a4-8"})
    assert batch.status_code == 303
    page = client.get(batch.headers["Location"])
    assert "took longer than 0.001 seconds" in page.text
    db.expire_all()
    assert all(r.badge_print_count == 0 for r in regs)
    one = client.post(f"/events/{event.slug}/registrations/{regs[0].id}/badge.pdf")
    assert one.status_code == 422 and "took longer than" in one.text


def test_a_session_of_another_event_is_refused_not_read_as_every_badge(app, client, db):
    from tracker.models import Role

    event = make_event(db)
    elsewhere = make_event(db)
    regs = people(db, event, 3)
    make_registration(db, event, session_ids=[event.sessions[0].id])
    organiser = make_user(app, db, Role.ORGANISER, [event], email="org-filter@example.org")
    db.commit()
    login(client, organiser)
    stray = elsewhere.sessions[0].id
    message = f"Session “{stray}” is not part of the event."
    base = f"/events/{event.slug}/badges"

    preview = client.get(f"{base}/preview.pdf?layout=a6&session={stray}")
    assert preview.status_code == 400 and preview.mimetype == "text/html"
    assert message in preview.text
    page = client.get(f"{base}?session={stray}")
    assert page.status_code == 400 and message in page.text
    batch = client.post(base, data={"layout": "a4-8", "session": str(stray)})
    assert batch.status_code == 400 and message in batch.text
    db.expire_all()
    assert all(r.badge_print_count == 0 for r in regs)  # nothing printed, nothing recorded

    typed = client.get(f"{base}/preview.pdf", query_string={"session": "<b>1</b>"})
    assert typed.status_code == 400
    assert "Session “&lt;b&gt;1&lt;/b&gt;” is not part of the event." in typed.text
    # The event's own session and no session at all still work.
    own = client.get(f"{base}/preview.pdf?layout=a6&session={event.sessions[0].id}")
    assert own.status_code == 200 and own.mimetype == "application/pdf"
    assert client.get(f"{base}/preview.pdf?layout=a6&session=").status_code == 200


def test_an_unknown_type_or_layout_is_refused_not_read_as_every_type(app, client, db):
    from tracker.models import Role

    event = make_event(db)
    regs = people(db, event, 2)
    organiser = make_user(app, db, Role.ORGANISER, [event], email="org-types@example.org")
    db.commit()
    login(client, organiser)
    base = f"/events/{event.slug}/badges"

    preview = client.get(f"{base}/preview.pdf?layout=a6&type=bogus")
    assert preview.status_code == 400 and preview.mimetype == "text/html"
    assert "“bogus” is not an organisation type." in preview.text
    batch = client.post(base, data={"layout": "a4-8", "type": ["cluster", "<i>x</i>"]})
    assert batch.status_code == 400
    assert "“&lt;i&gt;x&lt;/i&gt;” is not an organisation type." in batch.text
    layout = client.post(base, data={"layout": "a3-2"})
    assert layout.status_code == 400 and "“a3-2” is not a badge layout." in layout.text
    db.expire_all()
    assert all(r.badge_print_count == 0 for r in regs)
    # Known types, several at once, and an empty choice still work.
    ok = client.get(f"{base}/preview.pdf?layout=a6&type=cluster&type=region&type=")
    assert ok.status_code == 200 and ok.mimetype == "application/pdf"


def test_a_refused_batch_goes_back_to_its_filters_whatever_else_the_form_holds(app, client, db):
    """The form's own fields, not everything posted, make the address to go back to: a
    field named like the route's argument or like url_for's options (`slug`,
    `_external`) once made a 500 or a link to another host."""
    from tracker.models import Role

    event = make_event(db)
    organiser = make_user(app, db, Role.ORGANISER, [event], email="org-back@example.org")
    db.commit()
    login(client, organiser)
    base = f"/events/{event.slug}/badges"

    refused = client.post(  # nobody matches: "No badge to print with these filters."
        base,
        data={
            "layout": "a6",
            "type": ["region", "agency"],
            "not_printed": "y",
            "slug": "another-event",
            "_external": "1",
            "_scheme": "javascript",
        },
    )
    assert refused.status_code == 303
    location = refused.headers["Location"]
    assert location.startswith(f"{base}?"), location
    assert "slug=" not in location and "_external" not in location
    assert "type=region" in location and "type=agency" in location
    assert "not_printed=y" in location and "layout=a6" in location
    assert "No badge to print" in client.get(location).text
