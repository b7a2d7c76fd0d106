"""The scheduled retention job: every hour, what `tracker retention run` does."""

from __future__ import annotations

import logging

from tracker import jobs
from tracker.privacy import retention

log = logging.getLogger(__name__)


@jobs.periodic_task(jobs.crontab(minute="17"))
def retention_sweep() -> None:
    """Warn the organisers of the events anonymised within 14 days, anonymise the events
    whose retention period has passed, remove the files written more than a day ago."""
    with jobs.session() as db:
        report = retention.run(db)
    for event, _addresses in report.warned:
        log.info("retention: organisers of event %d warned", event.id)
    for done in report.anonymised:
        log.info(
            "retention: event %d anonymised (%d registrations)", done.event.id, done.registrations
        )
    if report.stale_files:
        log.info("retention: %d files written more than a day ago removed", len(report.stale_files))
