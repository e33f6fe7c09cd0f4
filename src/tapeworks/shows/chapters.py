"""Chapters: validation, the Podcasting 2.0 JSON chapters file (1.2.0), and moving
chapters from one episode version to another through their edit lists.

A chapter is a start time in episode time (seconds from the start of the episode audio,
intro included), a title and an optional link. One list per episode; the feed's
``chapters.json`` and the MP3's ID3 chapters are both written from it.

Chapters are set on one version of an episode. A later version (another cleaning, a new
template) has other cuts and maybe an intro of another length, so the same moment of the
conversation sits at another episode time: `map_chapters` maps each start back to source
time through the old version's edit list and forward through the new one's.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tapeworks.errors import ValidationFailed
from tapeworks.production.editlist import EditList
from tapeworks.production.retime import retime_points
from tapeworks.shows.notes import xml_safe

CHAPTERS_VERSION = "1.2.0"
CHAPTERS_MEDIA_TYPE = "application/json+chapters"
MAX_CHAPTERS = 500
MAX_TITLE_CHARS = 200
MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class Chapter:
    start: float  # seconds, episode time
    title: str
    url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "title": self.title}
        if self.url:
            out["url"] = self.url
        return out


def _bad(message: str, index: int | None = None, field: str | None = None) -> ValidationFailed:
    details: dict[str, Any] = {"field": "chapters"}
    if index is not None:
        details["index"] = index
    if field is not None:
        details["field"] = f"chapters[{index}].{field}"
    return ValidationFailed(message, details=details)


def _check_url(url: str, n: int) -> str:
    url = xml_safe(url).strip()
    if len(url) > MAX_URL_CHARS:
        raise _bad(f"chapter {n}: the link is longer than {MAX_URL_CHARS} characters", n - 1, "url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _bad(f"chapter {n}: the link must be a full http:// or https:// address", n - 1,
                   "url")
    return url


def validate_chapters(
    raw: Iterable[Mapping[str, Any] | Chapter], *, duration: float | None = None
) -> list[Chapter]:
    """Chapters from user input, sorted by start; `ValidationFailed` naming the chapter.

    Rules: at most `MAX_CHAPTERS`; each start a finite number of seconds, not negative and
    before the end of the episode when ``duration`` is known; two chapters never start at
    the same time; a title (at most `MAX_TITLE_CHARS` characters); a link, when given, an
    absolute http(s) URL.
    """
    items = list(raw)
    if len(items) > MAX_CHAPTERS:
        raise _bad(f"at most {MAX_CHAPTERS} chapters; got {len(items)}")
    chapters: list[Chapter] = []
    for n, item in enumerate(items, start=1):
        if isinstance(item, Chapter):
            item = item.to_dict()
        if not isinstance(item, Mapping):
            raise _bad(f"chapter {n} must be an object with start and title", n - 1)
        start = item.get("start")
        if isinstance(start, bool) or not isinstance(start, int | float) or not math.isfinite(start):
            raise _bad(f"chapter {n}: start must be a number of seconds", n - 1, "start")
        if start < 0:
            raise _bad(f"chapter {n}: start cannot be negative", n - 1, "start")
        if duration is not None and start >= duration:
            raise _bad(
                f"chapter {n} starts at {start:g} s, after the episode ends ({duration:.1f} s)",
                n - 1, "start",
            )
        title = item.get("title")
        if not isinstance(title, str) or not " ".join(xml_safe(title).split()):
            raise _bad(f"chapter {n} needs a title", n - 1, "title")
        title = " ".join(xml_safe(title).split())
        if len(title) > MAX_TITLE_CHARS:
            raise _bad(f"chapter {n}: the title is longer than {MAX_TITLE_CHARS} characters",
                       n - 1, "title")
        url = item.get("url")
        if url is not None and not isinstance(url, str):
            raise _bad(f"chapter {n}: the link must be text", n - 1, "url")
        clean_url = _check_url(url, n) if url and url.strip() else None
        chapters.append(Chapter(start=round(float(start), 3), title=title, url=clean_url))
    chapters.sort(key=lambda c: c.start)
    for a, b in itertools.pairwise(chapters):
        if b.start == a.start:
            raise _bad(f"two chapters start at {a.start:g} s ({a.title!r} and {b.title!r})")
    return chapters


def to_chapters_json(
    chapters: Sequence[Chapter], *, title: str | None = None, podcast_name: str | None = None,
    author: str | None = None,
) -> bytes:
    """The Podcasting 2.0 JSON chapters file (version 1.2.0), UTF-8."""
    doc: dict[str, Any] = {"version": CHAPTERS_VERSION}
    for key, value in (("title", title), ("podcastName", podcast_name), ("author", author)):
        if value and xml_safe(value).strip():
            doc[key] = " ".join(xml_safe(value).split())
    out = []
    for c in sorted(chapters, key=lambda c: c.start):
        entry: dict[str, Any] = {"startTime": c.start, "title": c.title}
        if c.url:
            entry["url"] = c.url
        out.append(entry)
    doc["chapters"] = out
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")


def id3_chapters(chapters: Sequence[Chapter]) -> list[tuple[float, str]]:
    """The ``(start, title)`` pairs `production.settings.RenderSettings.chapters` takes."""
    return [(c.start, c.title) for c in sorted(chapters, key=lambda c: c.start)]


def map_chapters(
    chapters: Sequence[Chapter], *, old_edit: EditList, old_offset: float, new_edit: EditList,
    new_offset: float, new_duration: float | None = None,
) -> list[Chapter]:
    """Move chapters set on one version to another version of the same episode
    (`production.retime.retime_points`: the render maps the ID3 chapters the same way)."""
    moved = retime_points([(c.start, c) for c in chapters], old_edit=old_edit,
                          old_offset=old_offset, new_edit=new_edit, new_offset=new_offset,
                          new_duration=new_duration)
    return [Chapter(start=start, title=c.title, url=c.url) for start, c in moved]
