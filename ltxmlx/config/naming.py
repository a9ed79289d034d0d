"""Safe file names from prompts and overrides.

A slug keeps ASCII letters, digits and single dashes, lowercased and at most `max_len` long (cut at a
word boundary), so it is safe on every filesystem. Prompts whose slug would be empty (only punctuation or non-Latin script)
are refused rather than silently named by index, since the name is how users find their videos;
the item id still makes every file name unique.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_len: int = 48) -> str:
    """Lowercase ASCII slug of `text` ('' when nothing usable is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_ALNUM.sub("-", ascii_text.lower()).strip("-")
    if len(slug) > max_len:
        cut = slug[:max_len + 1]
        # At a word boundary when there is one (a single over-long word is cut where it must be).
        slug = cut[:cut.rfind("-")] if "-" in cut else slug[:max_len]
        slug = slug.rstrip("-")
    return slug


def bounded_slug(text: str, max_len: int = 80) -> str:
    """Slug plus a short hash of the raw text, for directory names built from overrides."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    slug = slugify(text, max_len)
    return f"{slug}-{digest}" if slug else digest
