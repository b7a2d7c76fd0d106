"""The privacy notice: its version, the controller it names, the retention it states."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_app_context

DEFAULT_VERSION = "2"
RETENTION_MAX_DAYS = 3650  # ten years: beyond, a typing mistake rather than a choice


@dataclass(frozen=True)
class Controller:
    """Who decides why and how the data is processed, as the notice names them."""

    name: str | None
    address: str | None
    email: str | None
    dpo_email: str | None


def current_version() -> str:
    """The version of the notice a person consents to now (the built-in notice's when
    no app is running: a script that registers people with the services alone)."""
    if not has_app_context():
        return DEFAULT_VERSION
    return str(current_app.config.get("PRIVACY_VERSION") or DEFAULT_VERSION)


def controller() -> Controller:
    config = current_app.config
    return Controller(
        name=config.get("CONTROLLER_NAME"),
        address=config.get("CONTROLLER_ADDRESS"),
        email=config.get("CONTROLLER_EMAIL"),
        dpo_email=config.get("CONTROLLER_DPO_EMAIL"),
    )


def default_retention_days() -> int:
    return int(current_app.config["RETENTION_DAYS"])


def check_retention_days(value: Any) -> int:
    """RETENTION_DAYS as a whole number of days from 0 to RETENTION_MAX_DAYS, or a
    RuntimeError that names the variable."""
    try:
        days = int(str(value).strip())
    except ValueError:
        days = -1
    if not 0 <= days <= RETENTION_MAX_DAYS:
        raise RuntimeError(
            f"TRACKER_RETENTION_DAYS must be a whole number of days from 0 to "
            f"{RETENTION_MAX_DAYS}, not {value!r}"
        )
    return days


def init_app(app: Flask) -> None:
    app.config["RETENTION_DAYS"] = check_retention_days(app.config.get("RETENTION_DAYS", "90"))
    version = str(app.config.get("PRIVACY_VERSION") or DEFAULT_VERSION).strip()
    if not version or len(version) > 40:
        raise RuntimeError(
            f"TRACKER_PRIVACY_VERSION must be a short text (40 characters at most), not {version!r}"
        )
    app.config["PRIVACY_VERSION"] = version
