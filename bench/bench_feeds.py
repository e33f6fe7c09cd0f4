"""Issue 13 benchmark: the feed of a show with 1,000 published episodes.

    .venv/bin/python bench/bench_feeds.py [--episodes 1000] [--requests 200]

Prints, side by side in the same run:
1. render: median and p99 of building the feed document (`render_feed`) for the episodes,
   its size, next to parsing it back with lxml;
2. database (SQLite built by the migrations, 1,000 published episodes): the work of a
   conditional GET answered 304 (`feed_etag`: one narrow query, no document) and of a full
   GET (`build_feed`: query, items, document), in the same run;
3. HTTP (once the public feed route is wired after issue 12): median and p99 of a full GET of
   `/feeds/{show_id}.xml` and of a conditional GET answered 304 (If-None-Match), next to
   `GET /healthz` of the same server in the same run. Goals: 304 p99 within 10 ms, the
   full GET within 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tapeworks.shows.feed import (  # noqa: E402
    Enclosure,
    FeedItem,
    FeedShow,
    Person,
    TranscriptLink,
    podcast_guid,
    render_feed,
)
from tapeworks.shows.notes import sanitise_notes  # noqa: E402

BASE = "https://pod.example.org"


def _items(n: int) -> list[FeedItem]:
    start = datetime(2020, 1, 6, 6, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        media = f"{BASE}/media/episodes/{i:06d}/v1"
        out.append(FeedItem(
            guid=f"tapeworks:episode:{i:06d}",
            title=f"Episode {i}: a conversation about coaching & change",
            enclosure=Enclosure(f"{media}/audio.mp3", 40_000_000 + i, "audio/mpeg"),
            published_at=start + timedelta(days=i),
            duration_seconds=2700 + i % 900,
            notes_html=sanitise_notes(
                f"In episode {i} we talk about habits.\n\nLinks: https://example.org/{i}\n"
                "Thanks for listening!"),
            link=f"{BASE}/episodes/{i:06d}",
            season=1 + i // 100,
            number=i + 1,
            transcripts=(TranscriptLink(f"{media}/transcript.vtt", "text/vtt", captions=True),
                         TranscriptLink(f"{media}/transcript.srt", "application/x-subrip",
                                        captions=True),
                         TranscriptLink(f"{media}/transcript.json", "application/json")),
            chapters_url=f"{BASE}/media/episodes/{i:06d}/chapters.json",
            persons=(Person("Anna Coach", "host"), Person(f"Guest {i}", "guest")),
        ))
    return out


def _timed(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def _line(label: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"{label:<34} median {statistics.median(ordered):8.2f} ms   p99 {p99:8.2f} ms"


def bench_render(episodes: int, repeats: int) -> None:
    feed_url = f"{BASE}/feeds/show.xml"
    show = FeedShow(title="Coaching Conversations", description="Real sessions.", language="en",
                    feed_url=feed_url, podcast_guid=podcast_guid(feed_url),
                    category="Health & Fitness", subcategory="Mental Health",
                    author="Anna", owner_name="Anna", owner_email="anna@example.org",
                    image_url=f"{BASE}/media/shows/show/artwork.jpg")
    items = _items(episodes)
    data = render_feed(show, items)
    print(f"feed: {episodes} episodes, {len(data) / 1e6:.2f} MB")
    print(_line("render_feed", _timed(lambda: render_feed(show, items), repeats)))
    print(_line("lxml parse (reference)", _timed(lambda: etree.fromstring(data), repeats)))


def bench_database(episodes: int, repeats: int) -> None:
    from tapeworks.db import migrate
    from tapeworks.db.uow import Database
    from tapeworks.episodes.models import Episode
    from tapeworks.sessions.models import RecordingSession
    from tapeworks.shows import publishing
    from tapeworks.shows import service as shows
    from tapeworks.shows.models import Publication, Show
    from tapeworks.users.models import User

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        database = Database(url)
        now = datetime(2026, 6, 1, tzinfo=UTC)
        with database.transaction() as db:
            user = User(email="bench@example.org", password_hash="x")
            db.add(user)
            db.flush()
            sess = RecordingSession(user_id=user.id, title="s", status="completed")
            db.add(sess)
            db.flush()
            show = shows.create_show(db, user.id, {"title": "Bench", "language": "en",
                                                   "category": "Technology"},
                                     base_url=BASE, now=now).show
            for i in range(episodes):
                ep = Episode(user_id=user.id, session_id=sess.id, title=f"Episode {i}",
                             status="completed", audio_key=f"users/x/e{i}/audio.mp3",
                             transcript_key=f"users/x/e{i}/transcript.json", format="mp3",
                             size_bytes=40_000_000 + i, duration_seconds=2700.0 + i)
                db.add(ep)
                db.flush()
                db.add(Publication(user_id=user.id, episode_id=ep.id, show_id=show.id,
                                   guid=f"guid-{i:06d}", title=f"Episode {i}", state="published",
                                   description="<p>Notes</p>", episode_type="full",
                                   published_at=now - timedelta(days=i)))
            show_id = show.id
        with database.transaction(write=False) as db:
            show = db.get(Show, show_id)
            assert show is not None
            doc = publishing.build_feed(db, show, base_url=BASE, token=None, now=now)
            print(f"database feed: {doc.content.count(b'<item>')} items, "
                  f"{len(doc.content) / 1e6:.2f} MB")
            print(_line("feed_etag (304 path)",
                        _timed(lambda: publishing.feed_etag(db, show, now), repeats * 10)))
            print(_line("build_feed (full GET path)",
                        _timed(lambda: publishing.build_feed(db, show, base_url=BASE,
                                                             token=None, now=now), repeats)))
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    bench_render(args.episodes, max(5, args.requests // 10))
    bench_database(args.episodes, max(5, args.requests // 10))
    print("HTTP GET / 304 / healthz: not measured yet (the public feed route waits for issue 12)")


if __name__ == "__main__":
    main()
