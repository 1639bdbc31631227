"""Slugs from titles and names: ASCII, as the URL patterns (<slug:slug>) and the slug fields expect.

No transliteration library is installed, so a title that slugify() cannot spell in ASCII ("Пароль",
"パスワード") gets "<prefix>-" and the start of a SHA-256 digest of the title instead. The digest is
taken of the title as slugify() would see it (NFKC, case-folded, single-spaced), so the same title
always gives the same slug: kb_import, which finds an article by its slug, updates the article it
created before instead of adding a copy. Like every slug taken from a title, it changes with the
title; a record that names its own slug keeps its address.
"""

import hashlib
import unicodedata

from django.utils.text import slugify

DIGEST_LENGTH = 12  # hex digits: 48 bits, so even 100,000 such titles are unlikely to share one


def slug_for(text: str, *, prefix: str = "article", max_length: int = 200) -> str:
    """slugify(text), or "<prefix>-<digest of text>" when that leaves nothing."""
    # Cut at a hyphen, a slug would end in one ("how-to-") and slugify() would not give it back.
    slug = slugify(text)[:max_length].strip("-")
    if slug:
        return slug
    normalised = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    # surrogatepass: a lone surrogate (a bad JSON escape) still hashes, and the importer names it.
    digest = hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()[:DIGEST_LENGTH]
    return f"{prefix}-{digest}"
