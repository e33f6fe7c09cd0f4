"""Builders for the publishing unit tests: a show with several episodes, real images."""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import BytesIO

from PIL import Image

from tapeworks.shows.feed import (
    Enclosure,
    FeedItem,
    FeedShow,
    Person,
    TranscriptLink,
    podcast_guid,
)

BASE = "https://pod.example.org"
FEED_URL = f"{BASE}/feeds/show-1.xml"


def make_show(**changes: object) -> FeedShow:
    show = FeedShow(
        title="Coaching Conversations",
        description="Real sessions, with permission.",
        language="en-GB",
        feed_url=FEED_URL,
        podcast_guid=podcast_guid(FEED_URL),
        category="Health & Fitness",
        subcategory="Mental Health",
        link=f"{BASE}/shows/show-1",
        explicit=False,
        author="Anna Coach",
        owner_name="Anna Owner",
        owner_email="anna@example.org",
        copyright="© 2026 Anna",
        type="episodic",
        locked=True,
        image_url=f"{BASE}/media/shows/show-1/artwork.jpg",
    )
    return replace(show, **changes)  # type: ignore[arg-type]


def make_item(n: int, **changes: object) -> FeedItem:
    media = f"{BASE}/media/episodes/ep-{n}/v1"
    item = FeedItem(
        guid=f"tapeworks:episode:ep-{n}",
        title=f"Episode {n}",
        enclosure=Enclosure(url=f"{media}/audio.mp3", length=1_000_000 + n, media_type="audio/mpeg"),
        published_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC) + timedelta(days=7 * n),
        duration_seconds=1800.4 + n,
        notes_html=f'<p>Notes for {n} with a <a href="https://example.org/{n}">link</a>.</p>',
        link=f"{BASE}/episodes/ep-{n}",
        explicit=n == 2,
        season=1,
        number=n,
        episode_type="trailer" if n == 0 else "full",
        transcripts=(
            TranscriptLink(f"{media}/transcript.vtt", "text/vtt", captions=True),
            TranscriptLink(f"{media}/transcript.srt", "application/x-subrip", captions=True),
            TranscriptLink(f"{media}/transcript.json", "application/json"),
        ),
        chapters_url=f"{BASE}/media/episodes/ep-{n}/chapters.json",
        persons=(Person("Anna Coach", "host"), Person(f"Guest {n}", "guest")),
    )
    return replace(item, **changes)  # type: ignore[arg-type]


def image_bytes(width: int, height: int, *, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    colour: object = {"RGB": (200, 40, 90), "CMYK": (10, 200, 30, 0), "RGBA": (1, 2, 3, 100),
                      "L": 128, "P": 3, "LA": (5, 5)}[mode]
    image = Image.new(mode, (width, height), colour)  # type: ignore[arg-type]
    buf = BytesIO()
    image.save(buf, fmt)
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims ``width`` x ``height`` pixels (a decompression
    bomb's shape: the header lies about what decoding would cost)."""
    raw = image_bytes(8, 8, fmt="PNG")
    ihdr_at = 8
    length = struct.unpack(">I", raw[ihdr_at:ihdr_at + 4])[0]
    body = bytearray(raw[ihdr_at + 4: ihdr_at + 8 + length])  # b"IHDR" + data
    body[4:12] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(body)) & 0xFFFFFFFF)
    return raw[:ihdr_at + 4] + bytes(body) + crc + raw[ihdr_at + 12 + length:]
