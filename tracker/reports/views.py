"""Organiser pages of the statistics: the live dashboard and its downloads."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", __name__)
