"""Search API shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class HitOut(BaseModel):
    session_id: str
    session_title: str
    segment_id: str | None  # null for title and note hits
    kind: Literal["transcript", "title", "note"]
    start: float | None  # seconds in the recording; null for title hits
    end: float | None
    speaker: str | None
    snippet: str  # HTML: the text around the match, matches in <mark>, the rest escaped
    score: float


class SearchPage(BaseModel):
    query: str
    hits: list[HitOut]
    limit: int
    offset: int
    has_more: bool
