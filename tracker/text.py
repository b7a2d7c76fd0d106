"""How names are compared and how they are ordered, each rule in one function.

- `fold`: what two names have in common when they are "the same" to a person, for an
  organisation's identity, the search keys and what is typed into a search. Letters are
  transliterated to ASCII by anyascii (a maintained table of the whole of Unicode), not
  merely stripped of their accents: "Œuvray" folds as "oeuvray", "Władysław" as
  "wladyslaw", "Øre" as "ore", "Straße" as "strasse". Case is ignored, and apostrophes
  (' ’ ‘ ʼ), hyphens and dashes (- ‐ – —) and runs of spaces all become one space:
  "Ville-d'Avray" and "Ville d’Avray" fold alike. E-mail addresses are not names: they
  are compared as typed, casefolded (`registration.identity.email_key`).
- `sort_key`: the order in which people and organisations are listed, French collation
  by ICU ("Œuvray" among the O's, "Élodie" among the E's, case and accents deciding only
  between names otherwise equal). ICU's sort keys change with its version, so they are
  computed when sorting and never stored.
"""

from __future__ import annotations

import re

import icu
from anyascii import anyascii

# After transliteration the typographic apostrophes and dashes are ASCII ones.
_SEPARATORS = re.compile(r"[\s'`\-]+")


def fold(text: str) -> str:
    """`text` for comparing: transliterated to ASCII, casefolded, with apostrophes,
    hyphens and spaces made single spaces, trimmed."""
    return _SEPARATORS.sub(" ", anyascii(text).casefold()).strip()


def _collator() -> icu.Collator:
    collator = icu.Collator.createInstance(icu.Locale("fr_FR"))
    # Decomposed input ("e" + combining acute) sorts as the composed letter.
    collator.setAttribute(icu.UCollAttribute.NORMALIZATION_MODE, icu.UCollAttributeValue.ON)
    return collator


# ICU's collators may be shared by threads for sorting (only changing one is not safe).
_COLLATOR = _collator()


def sort_key(text: str | None) -> bytes:
    """The French collation key of `text` (None sorts as empty, first). Compare keys of
    the same field with each other; a tuple of keys sorts field by field."""
    return _COLLATOR.getSortKey(text or "")


def shown(value: str, length: int = 40) -> str:
    """A value someone typed, as a message quotes it back: its printable characters,
    at most `length` of them (escaping is the page's business)."""
    return "".join(c for c in value if c.isprintable())[:length]
