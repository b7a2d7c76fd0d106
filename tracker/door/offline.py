"""What makes the door screen work offline: its web app manifest and its service
worker (tracker/static/js/door-sw.js), given the files to keep and their version.

The files are the page's own: its scripts (ES modules, no build step), styles and the
QR reader. Their version is a hash of their contents, so a new release replaces what
every door kept the next time it is online.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from flask import current_app, url_for

# The door screen's files, relative to the static folder (door.js imports js/door/*).
DOOR_FILES = (
    "css/app.css",
    "css/accounts.css",
    "css/door.css",
    "js/fields.js",
    "js/questions.js",  # the walk-in's questions
    "js/door.js",
    "js/door/util.js",
    "js/door/net.js",
    "js/door/queue.js",
    "js/door/snapshot.js",
    "js/door/idb.js",
    "js/door/result.js",
    "js/door/search.js",
    "js/door/walkin.js",
    "js/door/camera.js",
    "vendor/jsqr/jsQR.js",
    "img/door-icon.svg",
)
WORKER = "js/door-sw.js"


def _static(name: str) -> Path:
    return Path(current_app.static_folder or "") / name


def door_files() -> list[str]:
    return [url_for("static", filename=name) for name in DOOR_FILES]


def version() -> str:
    digest = hashlib.sha256()
    for name in (*DOOR_FILES, WORKER):
        digest.update(_static(name).read_bytes())
    return digest.hexdigest()[:16]


def service_worker(page: str, manifest: str) -> str:
    """The worker's script: the list of files to keep, then door-sw.js."""
    head = (
        f"const VERSION = {json.dumps(version())};\n"
        f"const PAGE = {json.dumps(page)};\n"
        f"const ASSETS = {json.dumps([*door_files(), manifest])};\n"
    )
    return head + _static(WORKER).read_text(encoding="utf-8")


def manifest(name: str, short_name: str, page: str) -> dict[str, Any]:
    return {
        "name": name,
        "short_name": short_name,
        "start_url": page,
        "scope": page,
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d4ed8",
        "icons": [
            {
                "src": url_for("static", filename="img/door-icon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            }
        ],
    }
