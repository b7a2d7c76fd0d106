"""Attendance statistics: the live dashboard, the exports (headcount, attendees, check-in
log, sign-in sheets) and the PDF report. The figures come from reports.services."""
