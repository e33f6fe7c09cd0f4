"""Issue 13 benchmark: the feed of a show with 1,000 published episodes.

    .venv/bin/python bench/bench_feeds.py [--episodes 1000] [--requests 200] [--postgres URL]

Prints, side by side in the same run:
1. render: median and p99 of building the feed document (`render_feed`) for the episodes,
   its size, next to parsing it back with lxml;
2. database (SQLite built by the migrations, 1,000 published episodes): the work of a
   conditional GET answered 304 (`feed_etag`: one narrow query, no document) and of a full
   GET (`build_feed`: query, items, document), in the same run;
3. HTTP (a real server: uvicorn on loopback, the app as `serve` builds it, SQLite built by
   the migrations, 1,000 published episodes with named speakers and chapters): median and
   p99 of a full GET of `/feeds/{show_id}.xml` and of a conditional GET answered 304
   (If-None-Match), next to `GET /healthz` of the same server in the same run, over one
   keep-alive connection. Goals: 304 p99 within 10 ms, the full GET within 100 ms. The full
   GET is timed as a podcast app makes it (gzip accepted) and without gzip, for a
   document this process holds, after one item changed (that item's XML written again,
   then compressed), as a process that never built it makes it (the items' XML another
   process stored, `feed_item_xml`), and the very first build (every item written, then
   stored after the answer). Each line
   also gives the CPU time the process spent (client and server: the server runs in a
   thread of this process), which waiting for a core on a loaded machine does not
   inflate.
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


class Times(list):  # type: ignore[type-arg]
    """Wall-clock milliseconds of each call, with the CPU milliseconds this process spent
    on it (`cpu`): the CPU figure does not grow while the call waits for a core, so it
    shows what the code costs on a loaded machine."""

    def __init__(self) -> None:
        super().__init__()
        self.cpu: list[float] = []


def _timed(fn: Callable[[], object], repeats: int) -> Times:
    times = Times()
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
        times.cpu.append((time.process_time() - c0) * 1000)
    return times


def _p99(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _line(label: str, ms: list[float]) -> str:
    ordered = sorted(ms)
    out = (f"{label:<38} median {statistics.median(ordered):8.2f} ms   "
           f"p99 {_p99(ordered):8.2f} ms")
    cpu = getattr(ms, "cpu", None)
    if cpu:
        out += f"   cpu median {statistics.median(cpu):7.2f} ms  p99 {_p99(sorted(cpu)):7.2f} ms"
    return out


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


def _seed(database: object, episodes: int, now: datetime) -> str:
    """A user, a session, a show and ``episodes`` published episodes; the show's id."""
    from tapeworks.episodes.models import Episode
    from tapeworks.sessions.models import RecordingSession
    from tapeworks.shows import service as shows
    from tapeworks.shows.models import Publication
    from tapeworks.users.models import User

    persons = [{"name": "Anna Coach", "role": "host"}, {"name": "A Guest", "role": "guest"}]
    chapters = {"render": {"chapters": [{"start": 0.0, "title": "Welcome"},
                                        {"start": 60.0, "title": "The talk"}]}}
    with database.transaction() as db:  # type: ignore[attr-defined]
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
                         size_bytes=40_000_000 + i, duration_seconds=2700.0 + i,
                         settings=chapters)
            db.add(ep)
            db.flush()
            db.add(Publication(user_id=user.id, episode_id=ep.id, show_id=show.id,
                               guid=f"guid-{i:06d}", title=f"Episode {i}", state="published",
                               description="<p>Notes</p>", episode_type="full",
                               published_at=now - timedelta(days=i), persons=persons))
        return str(show.id)


def change_one_item(rt: object, show_id: str, n: int, now: datetime) -> None:
    """One item's title edited, as `publish` does it (the item and the show's counter)."""
    from sqlalchemy import select, update

    from tapeworks.shows import service as shows
    from tapeworks.shows.models import Publication

    with rt.database.transaction() as db:  # type: ignore[attr-defined]
        pid = db.scalar(select(Publication.id).where(Publication.show_id == show_id)
                        .order_by(Publication.published_at.desc()).offset(n % 50).limit(1))
        db.execute(update(Publication).where(Publication.id == pid)
                   .values(title=f"Renamed {n}"))
        shows.bump_feed(db, show_id, now)


def bench_database(episodes: int, repeats: int) -> None:
    from tapeworks.db import migrate
    from tapeworks.db.uow import Database
    from tapeworks.shows import publishing
    from tapeworks.shows.models import Show

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        database = Database(url)
        now = datetime(2026, 6, 1, tzinfo=UTC)
        show_id = _seed(database, episodes, now)
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


def _throwaway_pg(server_url: str) -> tuple[str, Callable[[], None]]:
    """A new, empty PostgreSQL database on ``server_url``'s server (its URL) and the
    function that drops it."""
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(server_url).set(drivername="postgresql")
    name = f"tapeworks_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin.render_as_string(hide_password=False),
                             autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = make_url(server_url).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False), drop


def bench_http(episodes: int, repeats: int, postgres: str = "") -> None:
    import socket
    import threading

    import httpx
    import uvicorn
    from sqlalchemy import delete

    from tapeworks.app import create_app, server_options
    from tapeworks.config import Settings
    from tapeworks.db import migrate
    from tapeworks.runtime import Runtime
    from tapeworks.shows.models import FeedItemXml

    def drop() -> None:
        return None

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/http.db"
        if postgres:
            url, drop = _throwaway_pg(postgres)
        migrate.upgrade(url)
        settings = Settings(environment="test", data_dir=Path(tmp) / "data", database_url=url,
                            secret_key="bench-" + "x" * 32, workers=0, short_workers=0,
                            speech_engine="fake", public_url=BASE, log_level="warning")
        rt = Runtime(settings)
        now = datetime(2026, 6, 1, tzinfo=UTC)
        show_id = _seed(rt.database, episodes, now)
        rt.clock = lambda: now
        app = create_app(settings, rt)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                               log_level="warning", access_log=False,
                                               **server_options(settings)))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                feed = f"/feeds/{show_id}.xml"
                first = client.get(feed)
                assert first.status_code == 200, first.text[:300]
                etag = first.headers["etag"]
                assert client.get(feed, headers={"If-None-Match": etag}).status_code == 304
                print(f"HTTP feed: {first.content.count(b'<item>')} items, "
                      f"{len(first.content) / 1e6:.2f} MB, over loopback, "
                      f"{'PostgreSQL' if postgres else 'SQLite'}")
                for _ in range(20):  # warm up every path
                    client.get("/healthz")
                    client.get(feed, headers={"If-None-Match": etag})
                print(_line("GET /healthz (reference)",
                            _timed(lambda: client.get("/healthz"), repeats * 5)))
                print(_line("GET feed, If-None-Match -> 304",
                            _timed(lambda: client.get(feed, headers={"If-None-Match": etag}),
                                   repeats * 5)))
                print(_line("GET feed, full (200, gzip), kept doc",
                            _timed(lambda: client.get(feed), repeats)))
                plain = {"Accept-Encoding": "identity"}
                print(_line("GET feed, full (200, identity), kept",
                            _timed(lambda: client.get(feed, headers=plain), repeats)))
                changes = iter(range(10**6))

                changed = Times()

                def after_change() -> None:
                    change_one_item(rt, show_id, next(changes), now)  # not timed
                    c0, t0 = time.process_time(), time.perf_counter()
                    r = client.get(feed)
                    changed.append((time.perf_counter() - t0) * 1000)
                    changed.cpu.append((time.process_time() - c0) * 1000)
                    assert r.status_code == 200 and b"Renamed" in r.content

                def cold() -> object:
                    app.state.feed_cache.clear()  # as a new process: nothing held here
                    return client.get(feed)

                first_ever = Times()

                def never_built() -> None:
                    app.state.feed_cache.clear()  # and nothing stored: every item written
                    with rt.database.transaction() as db:  # not timed
                        db.execute(delete(FeedItemXml))
                    c0, t0 = time.process_time(), time.perf_counter()
                    r = client.get(feed)
                    first_ever.append((time.perf_counter() - t0) * 1000)
                    first_ever.cpu.append((time.process_time() - c0) * 1000)
                    assert r.status_code == 200
                    time.sleep(0.5)  # its items stored after the answer

                for _ in range(max(10, repeats // 4)):
                    after_change()
                print(_line("GET feed, full, after 1 item changed", changed))
                print(_line("GET feed, full, new process (items stored)",
                            _timed(cold, max(5, repeats // 10))))
                for _ in range(max(5, repeats // 10)):
                    never_built()
                print(_line("GET feed, full, first build (all written)", first_ever))
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            rt.close()
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--postgres", default="", metavar="URL",
                        help="also run the HTTP part on PostgreSQL: a server URL (e.g. "
                             "postgresql://postgres@127.0.0.1:5432/test); a throwaway "
                             "database is made on it and dropped afterwards")
    args = parser.parse_args()
    bench_render(args.episodes, max(5, args.requests // 10))
    bench_database(args.episodes, max(5, args.requests // 10))
    bench_http(args.episodes, args.requests)
    if args.postgres:
        bench_http(args.episodes, args.requests, args.postgres)


if __name__ == "__main__":
    main()
