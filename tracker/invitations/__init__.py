"""Invitations: invitees, their personal links, and their answers."""
