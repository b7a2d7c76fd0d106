"""Long work off the request: a badge batch or an export over its size is made by the
worker (here as soon as it is queued), its page shows the progress and offers the file,
for the event's organisers only, for a day."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from pypdf import PdfReader
from sqlalchemy import select

from tests.conftest import login, make_event, make_registration, make_user
from tracker.models import Download, Role


def test_a_large_badge_batch_is_a_download_with_its_progress(app, client, db, monkeypatch):
    monkeypatch.setitem(app.config, "DOWNLOAD_JOB_BADGES", 2)
    event = make_event(db)
    other = make_event(db)
    regs = [make_registration(db, event, last_name=f"Martin {i}") for i in range(9)]
    organiser = make_user(app, db, Role.ORGANISER, [event], email="org-dl@example.org")
    outsider = make_user(app, db, Role.ORGANISER, [other], email="org-dl-other@example.org")
    db.commit()

    login(client, organiser)
    answer = client.post(f"/events/{event.slug}/badges", data={"layout": "a4-8"})
    assert answer.status_code == 303
    page_url = answer.headers["Location"]
    assert f"/events/{event.slug}/downloads/" in page_url
    page = client.get(page_url)
    assert page.status_code == 200 and "download-progress" in page.text
    state = client.get(page_url + ".json").get_json()
    assert state["state"] == "done" and state["unit"] == "pages"
    assert state["done"] == state["total"] == 2  # 9 badges, 8 a sheet
    pdf = client.get(state["file"])
    assert pdf.mimetype == "application/pdf"
    assert len(PdfReader(io.BytesIO(pdf.data)).pages) == 2
    db.expire_all()
    assert all(r.badge_print_count == 1 for r in regs)

    # A batch within the size stays immediate.
    monkeypatch.setitem(app.config, "DOWNLOAD_JOB_BADGES", 100)
    small = client.post(f"/events/{event.slug}/badges", data={"layout": "a4-8"})
    assert small.status_code == 200 and small.mimetype == "application/pdf"

    login(client, outsider)
    assert client.get(page_url).status_code == 403
    assert client.get(state["file"]).status_code == 403
    assert (
        client.get(f"/events/{other.slug}/downloads/{page_url.rsplit('/', 1)[1]}").status_code
        == 404
    )


def test_a_large_export_is_a_download_in_rows_deleted_after_a_day(app, client, db, monkeypatch):
    from tracker.downloads.services import delete_old, file_of

    monkeypatch.setitem(app.config, "DOWNLOAD_JOB_ROWS", 3)
    event = make_event(db)
    for i in range(5):
        make_registration(db, event, last_name=f"Durand {i}")
    organiser = make_user(app, db, Role.ORGANISER, [event], email="org-dl-x@example.org")
    db.commit()
    login(client, organiser)
    small = client.get(f"/events/{event.slug}/export?what=headcount&format=csv")
    assert small.status_code == 200 and small.mimetype == "text/csv"  # small: at once
    answer = client.get(f"/events/{event.slug}/export?what=attendees&format=csv&separator=;")
    assert answer.status_code == 303
    state = client.get(answer.headers["Location"] + ".json").get_json()
    assert state["state"] == "done" and state["unit"] == "rows"
    assert state["done"] == state["total"] == 5
    body = client.get(state["file"]).data.decode("utf-8")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    assert len(rows) == 6 and {f"Durand {i}" for i in range(5)} <= {r[2] for r in rows}

    download = db.scalars(select(Download).where(Download.event_id == event.id)).one()
    path = file_of(download)
    assert path.is_file()
    download.created_at -= timedelta(days=1, minutes=1)
    db.flush()
    assert client.get(state["file"]).status_code == 404  # expired
    assert delete_old(db) >= 1
    assert not path.exists()


def test_a_download_whose_job_was_lost_is_queued_again(app, db, monkeypatch):
    from tracker import jobs
    from tracker.downloads import services

    monkeypatch.setitem(app.config, "DOWNLOAD_JOB_ROWS", 1)
    event = make_event(db)
    make_registration(db, event, last_name="Perdu")
    # A worker stopped in the middle: the download stays "running", its job gone.
    monkeypatch.setattr(jobs, "enqueue_after_commit", lambda *args, **kwargs: None)
    download = services.start(db, event, None, "attendees", {"format": "csv"}, "fr")
    download.state = "running"
    db.flush()
    assert services.lost(db) == []  # a running download is given its time
    download.created_at -= timedelta(minutes=11)
    db.flush()
    assert services.lost(db) == [download.id]
    services.requeue_lost.call_local()  # the sweep; the queue runs the job at once here
    db.expire_all()
    assert download.state == "done"
    with app.app_context():
        assert services.file_of(download).is_file()
    assert services.lost(db) == []
