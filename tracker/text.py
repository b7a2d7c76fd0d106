"""How names are compared.

- `fold`: what two names have in common when they are "the same" to a person, for an
  organisation's identity, the search keys and what is typed into a search. Letters are
  transliterated to ASCII by anyascii (a maintained table of the whole of Unicode), not
  merely stripped of their accents: "Œuvray" folds as "oeuvray", "Władysław" as
  "wladyslaw", "Øre" as "ore", "Straße" as "strasse". Case is ignored, and apostrophes
  (' ’ ‘ ʼ), hyphens and dashes (- ‐ – —) and runs of spaces all become one space:
  "Ville-d'Avray" and "Ville d’Avray" fold alike. E-mail addresses are not names: they
  are compared as typed, casefolded (`registration.services.email_key`).
"""

from __future__ import annotations

import re

from anyascii import anyascii

# After transliteration the typographic apostrophes and dashes are ASCII ones.
_SEPARATORS = re.compile(r"[\s'`\-]+")


def fold(text: str) -> str:
    """`text` for comparing: transliterated to ASCII, casefolded, with apostrophes,
    hyphens and spaces made single spaces, trimmed."""
    return _SEPARATORS.sub(" ", anyascii(text).casefold()).strip()
