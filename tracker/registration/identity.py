"""How a registration is known: its names and keys as compared and sorted, its check-in
code and private link, its QR code, and registrations found by name in French order."""

from __future__ import annotations

import base64
import io
import re
import secrets
from heapq import nsmallest
from typing import Any

import zxingcpp
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tracker.models import Registration
from tracker.text import fold, sort_key

_SPACES = re.compile(r"\s+")
KEY_LENGTH = 200  # Organisation.name_key
EMAIL_LENGTH = 254  # Registration.email_key


def clean_name(value: str) -> str:
    """Outer whitespace removed and inner runs of whitespace made one space."""
    return _SPACES.sub(" ", value).strip()


def organisation_key(name: str) -> str:
    """The identity of an organisation name: its folding (tracker.text.fold), which
    ignores case, accents, spacing, apostrophes and hyphens."""
    return fold(name)


def email_key(email: str) -> str:
    return email.strip().casefold()


def name_order(person: Any) -> tuple[bytes, bytes, int]:
    """How people are listed: last name, then first name, in French alphabetical order
    (tracker.text.sort_key), then by id. `person`: a registration or a row with its
    `id`, `last_name` and `first_name`."""
    return (sort_key(person.last_name), sort_key(person.first_name), person.id)


def ids_by_name(db: DbSession, *conditions: Any, limit: int | None = None) -> list[int]:
    """The ids of the registrations that meet `conditions`, in `name_order` (the first
    `limit` of them when given). Every match is ordered here, not by the database (whose
    ORDER BY is byte or locale order, not French): a page of a list, or the first results
    of a search, are then the first in that order. An event's registrations are a
    bounded list (hundreds, a few thousand), and only three columns of each are read;
    the first few of 10,000 are picked without sorting them all (6 ms instead of 14)."""
    rows = db.execute(
        select(Registration.id, Registration.last_name, Registration.first_name).where(*conditions)
    )
    ordered = sorted(rows, key=name_order) if limit is None else nsmallest(limit, rows, name_order)
    return [row.id for row in ordered]


def registrations_in_order(db: DbSession, ids: list[int], *options: Any) -> list[Registration]:
    """The registrations of `ids`, loaded with `options`, in the order of `ids`."""
    if not ids:
        return []
    query = select(Registration).where(Registration.id.in_(ids)).options(*options)
    found = {registration.id: registration for registration in db.scalars(query)}
    return [found[id_] for id_ in ids if id_ in found]


def new_checkin_code() -> str:
    """128 random bits as upper-case base32: QR alphanumeric mode, a version-2 symbol."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def new_manage_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


QR_SCALE = 8  # pixels per module of the stored QR image (the badges sample it back)


def qr_png(code: str) -> bytes:
    """The QR code of `code` (error correction M, a quiet zone of 4 modules) as a black
    and white PNG of QR_SCALE pixels per module. zxing-cpp encodes it in C++, choosing
    the mask by the standard's penalty rules, in a fraction of a millisecond (segno, in
    Python, took 2 ms of every registration)."""
    symbol = zxingcpp.create_barcode(code, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    pixels = zxingcpp.write_barcode_to_image(symbol, scale=QR_SCALE, add_quiet_zones=True)
    height, width = pixels.shape
    # (zxingcpp.Image has the buffer protocol; its type stub does not say so)
    image = Image.frombytes("L", (width, height), bytes(memoryview(pixels)))  # type: ignore[arg-type]
    image = image.convert("1", dither=Image.Dither.NONE)  # already black and white
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
