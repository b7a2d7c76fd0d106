"""Organiser screens: events and sessions, registrations, imports."""
