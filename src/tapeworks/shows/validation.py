"""Checks on what users write into a show or a publication, each a clear 422 naming the
field. Pure functions: the API, the pages and the service all use these."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from tapeworks.errors import ValidationFailed
from tapeworks.shows.notes import xml_safe

MAX_SHOW_DESCRIPTION_BYTES = 4000
MAX_NOTES_BYTES = 100_000  # an episode's show notes, as sent (before sanitising)
MAX_TITLE_CHARS = 300
MAX_LINE_CHARS = 300

# BCP 47 well-formed: language (2-3 letters, or 4-8), optional script, region and variants.
_BCP47 = re.compile(
    r"^(?P<lang>[A-Za-z]{2,3}|[A-Za-z]{5,8})(-(?P<script>[A-Za-z]{4}))?"
    r"(-(?P<region>[A-Za-z]{2}|[0-9]{3}))?((-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3})))*$"
)
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"field": field})


def line(value: str | None) -> str:
    """One line of user text: XML-safe, whitespace collapsed."""
    return " ".join(xml_safe(value or "").split())


def title(value: str | None, field: str = "title") -> str:
    clean = line(value)
    if not clean:
        raise _bad(field, f"{field} is required")
    if len(clean) > MAX_TITLE_CHARS:
        raise _bad(field, f"{field} can be at most {MAX_TITLE_CHARS} characters "
                          f"(this one has {len(clean)})")
    return clean


def short_text(value: str | None, field: str) -> str:
    clean = line(value)
    if len(clean) > MAX_LINE_CHARS:
        raise _bad(field, f"{field} can be at most {MAX_LINE_CHARS} characters")
    return clean


def show_description(value: str | None) -> str:
    clean = xml_safe(value or "").strip()
    size = len(clean.encode("utf-8"))
    if size > MAX_SHOW_DESCRIPTION_BYTES:
        raise _bad("description", f"description can be at most {MAX_SHOW_DESCRIPTION_BYTES:,} "
                                  f"bytes (Apple's limit); this one has {size:,}")
    return clean


def notes(value: str | None) -> str:
    raw = value or ""
    size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_NOTES_BYTES:
        raise _bad("description", f"show notes can be at most {MAX_NOTES_BYTES:,} bytes; "
                                  f"these have {size:,}")
    return raw


def language(value: str | None) -> str:
    raw = (value or "").strip()
    m = _BCP47.match(raw)
    if not m:
        raise _bad("language", f"language must be a BCP 47 tag such as 'en', 'en-GB' or "
                               f"'pt-BR'; got {line(raw)[:40]!r}")
    parts = raw.split("-")
    out = [parts[0].lower()]
    for p in parts[1:]:
        if len(p) == 4 and p.isalpha():
            out.append(p.title())
        elif len(p) == 2 or (len(p) == 3 and p.isdigit()):
            out.append(p.upper())
        else:
            out.append(p.lower())
    return "-".join(out)


def email(value: str | None, field: str = "owner_email") -> str:
    clean = line(value)
    if clean and (len(clean) > 320 or not _EMAIL.match(clean)):
        raise _bad(field, f"{field} must be an e-mail address such as name@example.org")
    return clean


def http_url(value: str | None, field: str) -> str | None:
    clean = line(value)
    if not clean:
        return None
    parts = urlsplit(clean)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(clean) > 2000:
        raise _bad(field, f"{field} must be a full http:// or https:// address")
    return clean


def choice(value: str | None, allowed: tuple[str, ...], field: str, default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise _bad(field, f"{field} must be one of {', '.join(allowed)}")
    return value


def count(value: int | None, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
        raise _bad(field, f"{field} must be a whole number from 0 to 1000000")
    return value


def aware(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise _bad(field, f"{field} needs a time zone, e.g. 2026-06-01T09:00:00Z")
    return value.astimezone(UTC)
