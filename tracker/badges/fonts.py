"""How wide a badge name prints: the advance widths of its glyphs in the very font files
WeasyPrint draws it with, found through fontconfig (`fc-match`) and read by Pillow's
FreeType (shaped by HarfBuzz through libraqm where Pillow has it, as Pango shapes them,
kerning included; without it, unkerned, a little wider), not an average letter width.

A character goes to the first of the badge's font families that has a glyph for it, as
Pango's fallback does (DejaVu Sans for Latin, Greek and Cyrillic; WenQuanYi Micro Hei
for Chinese and Japanese). A character that none of them has counts as one em, wider
than any glyph of these fonts.

Measuring is cheap in a batch of a thousand badges: each font is opened once per
process, and each word's width (in em, so every size is one multiplication away) is
kept in a bounded cache."""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache, lru_cache

from fontTools.ttLib import TTFont
from PIL import ImageFont, features

logger = logging.getLogger(__name__)

# The badge's fonts, in the order Pango tries them (templates/pdf/badges.css uses this
# list); a family that is not installed is skipped.
FAMILIES = (
    "DejaVu Sans",
    "Noto Sans",
    "Noto Sans CJK JP",
    "WenQuanYi Micro Hei",
    "Noto Naskh Arabic",
    "Liberation Sans",
)
UNKNOWN_WIDTH = 1.0  # em: a character that no badge font has
# A font without a bold face is emboldened by the renderer, which may widen each glyph
# by up to 1/24 em (FreeType's FT_GlyphSlot_Embolden): counted, so as never to overflow.
SYNTHETIC_BOLD = 1 / 24
_UNITS = 1000  # the size (pixels per em) at which fonts are opened: widths are exact to 1/64 px


@dataclass(frozen=True)
class Face:
    path: str
    index: int
    synthetic_bold: bool


@dataclass(frozen=True)
class _Loaded:
    font: ImageFont.FreeTypeFont
    characters: frozenset[int]
    extra: float  # em added per character (synthetic bold)


def _fc_match(family: str) -> Face | None:
    """The bold face fontconfig gives for `family`, or None when the family is not
    installed (fontconfig then answers with a substitute, which Pango would not use at
    this place in the list)."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        logger.warning("fc-match (fontconfig) is not installed: badge fonts unknown")
        return None
    try:
        # Our own arguments: a family of FAMILIES, never text from a request.
        out = subprocess.run(  # noqa: S603
            [fc_match, "-f", "%{file}\n%{index}\n%{family}\n%{embolden}", f"{family}:bold"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("fc-match failed for %s: %s", family, error)
        return None
    path, index, families, embolden = ([*out.split("\n"), "", "", "", ""])[:4]
    if not path or family.casefold() not in {f.strip().casefold() for f in families.split(",")}:
        return None
    return Face(path, int(index or 0), synthetic_bold=embolden.strip() == "True")


@lru_cache(maxsize=1)
def faces() -> tuple[Face, ...]:
    """The installed bold faces of FAMILIES, in order (fontconfig asked once per process)."""
    found: list[Face] = []
    for family in FAMILIES:
        face = _fc_match(family)
        if face is not None and all((f.path, f.index) != (face.path, face.index) for f in found):
            found.append(face)
    if not found:
        logger.warning("No badge font found through fontconfig: names are sized for 1 em a letter")
    return tuple(found)


@cache
def _load(face: Face) -> _Loaded:
    engine = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    font = ImageFont.truetype(face.path, _UNITS, index=face.index, layout_engine=engine)
    with TTFont(face.path, fontNumber=face.index, lazy=True) as tt:
        characters = frozenset(tt.getBestCmap() or {})
    return _Loaded(font, characters, SYNTHETIC_BOLD if face.synthetic_bold else 0.0)


def _runs(text: str) -> list[tuple[_Loaded | None, str]]:
    """The text cut into runs drawn by one font each (None: no badge font has them)."""
    loaded = [_load(face) for face in faces()]
    runs: list[tuple[_Loaded | None, str]] = []
    for char in text:
        font = next((f for f in loaded if ord(char) in f.characters), None)
        if runs and runs[-1][0] is font:
            runs[-1] = (font, runs[-1][1] + char)
        else:
            runs.append((font, char))
    return runs


@lru_cache(maxsize=20_000)
def bold_width(text: str) -> float:
    """The advance width of `text` in the badge's bold font, in em (multiply by the font
    size for a length)."""
    width = 0.0
    for font, run in _runs(text):
        if font is None:
            width += UNKNOWN_WIDTH * len(run)
        else:
            width += font.font.getlength(run) / _UNITS + font.extra * len(run)
    return width
