"""The feed is the same from every API process on one database (issue 13): each process
keeps documents and items' XML of its own, but the ETag that decides whether they still
hold is read from the database on every request, so a change made through one process
is served by the other at its next request. Also: a speaker renamed after publishing is
in `podcast:person` at once, and a new render changes the feed. SQLite and PostgreSQL
built by the migrations, time injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree
from sqlalchemy import select, update

from tapeworks.episodes.models import Episode
from tapeworks.sessions.models import RecordingSession
from tapeworks.sessions.service import write_transcript_to
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload_ok
from tests.helpers.paths import SPEECH_DIR
from tests.helpers.transcripts import make_transcript

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PUBLIC = "https://pod.example.org"
SHOW = {"title": "Show", "language": "en", "category": "Technology", "owner_email": "a@example.org"}
NS = {"podcast": "https://podcastindex.org/namespace/1.0"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _two_apps(db_url: str, make_api) -> tuple[Api, Api, Clock]:  # type: ignore[no-untyped-def]
    clock = Clock(T0)
    a, b = make_api(db_url, public_url=PUBLIC), make_api(db_url, public_url=PUBLIC)
    a.runtime.clock = b.runtime.clock = clock
    return a, b, clock


def _episode(api: Api, headers: dict[str, str], tmp_path: Path) -> str:
    """A session with a transcript (speakers S1 Anna, S2 Ben) and a completed episode."""
    from tapeworks.users.models import User

    sid = upload_ok(api.client, headers, SPEECH_DIR / "jfk.flac", title="jfk")
    mp3 = audio.write_tone(tmp_path / f"ep-{sid}.mp3", seconds=2.0, fmt="mp3").read_bytes()
    t = make_transcript()
    with api.runtime.database.transaction() as db:
        uid = db.scalar(select(User.id).where(User.email == "alice@example.com"))
        s = db.get(RecordingSession, sid)
        s.transcript_key = write_transcript_to(
            api.runtime.store, uid, sid, t.model_copy(update={"version": 1})
        )
        s.transcript_version, s.status = 1, "completed"
        ep = Episode(
            user_id=uid, session_id=sid, title="Ep", status="completed", source_transcript_version=1
        )
        db.add(ep)
        db.flush()
        prefix = f"users/{uid}/sessions/{sid}/episodes/{ep.id}"
        api.runtime.store.put_bytes(f"{prefix}/audio.mp3", mp3, content_type="audio/mpeg")
        api.runtime.store.put_bytes(f"{prefix}/transcript.json", t.model_dump_json().encode())
        ep.audio_key, ep.transcript_key = f"{prefix}/audio.mp3", f"{prefix}/transcript.json"
        ep.size_bytes, ep.duration_seconds, ep.format, ep.version = len(mp3), 2.0, "mp3", 1
        return ep.id


def _one_published(db_url, make_api, tmp_path):  # type: ignore[no-untyped-def]
    """Two API processes on one database, and one episode of Alice's published in her show:
    (a, b, alice's headers, the show, its feed path, the episode id)."""
    a, b, _clock = _two_apps(db_url, make_api)
    alice = a.create_user("alice@example.com")
    show = a.client.post("/api/v1/shows", json=SHOW, headers=alice).json()
    ep = _episode(a, alice, tmp_path)
    r = a.client.post(f"/api/v1/episodes/{ep}/publish", headers=alice,
                      json={"show_id": show["id"]})
    assert r.status_code == 200, r.text
    return a, b, alice, show, f"/feeds/{show['id']}.xml", ep


def _get(api: Api, path: str, etag: str | None = None):  # type: ignore[no-untyped-def]
    headers = {"If-None-Match": etag} if etag else {}
    return api.client.get(path, headers=headers)


def _persons(body: bytes) -> list[list[tuple[str, str]]]:
    items = etree.fromstring(body).find("channel").findall("item")
    return [[(p.text, p.get("role")) for p in i.findall("podcast:person", NS)] for i in items]


def test_two_processes_serve_the_same_feed_and_see_each_others_changes(
    db_url, make_api, tmp_path
) -> None:
    a, b, clock = _two_apps(db_url, make_api)
    alice = a.create_user("alice@example.com")
    show = a.client.post("/api/v1/shows", json=SHOW, headers=alice).json()
    feed = f"/feeds/{show['id']}.xml"
    eps = [_episode(a, alice, tmp_path) for _ in range(3)]
    for n, ep in enumerate(eps[:2]):
        clock.now = T0 + timedelta(minutes=n)
        assert (
            a.client.post(
                f"/api/v1/episodes/{ep}/publish",
                headers=alice,
                json={"show_id": show["id"], "title": f"E{n}"},
            ).status_code
            == 200
        )
    ra, rb = _get(a, feed), _get(b, feed)
    assert ra.status_code == rb.status_code == 200
    assert ra.content == rb.content and ra.headers["etag"] == rb.headers["etag"]
    assert ra.headers["last-modified"] == rb.headers["last-modified"]
    etag = ra.headers["etag"]
    assert _get(b, feed, etag).status_code == 304  # b's own copy is held and still current

    def changed_in_b(check: bytes, *, absent: bytes | None = None) -> str:
        """b answers the old ETag with the new document, and a's and b's agree."""
        nonlocal etag
        r = _get(b, feed, etag)
        assert r.status_code == 200 and r.headers["etag"] != etag
        assert check in r.content
        if absent is not None:
            assert absent not in r.content
        assert _get(a, feed).content == r.content
        etag = r.headers["etag"]
        return etag

    # an edit made through a
    assert (
        a.client.post(
            f"/api/v1/episodes/{eps[0]}/publish",
            headers=alice,
            json={"show_id": show["id"], "title": "Edited in a"},
        ).status_code
        == 200
    )
    changed_in_b(b"Edited in a")
    # a show edit
    assert (
        a.client.patch(
            f"/api/v1/shows/{show['id']}", headers=alice, json={"title": "Retitled"}
        ).status_code
        == 200
    )
    changed_in_b(b"<title>Retitled</title>")
    # chapters set through a: the item gains its chapters link
    assert (
        a.client.put(
            f"/api/v1/episodes/{eps[1]}/chapters",
            headers=alice,
            json=[{"start": 0, "title": "Intro"}],
        ).status_code
        == 200
    )
    changed_in_b(b"podcast:chapters")
    # a scheduled item: absent until its time, then in both processes' feeds at once
    assert (
        a.client.post(
            f"/api/v1/episodes/{eps[2]}/publish",
            headers=alice,
            json={
                "show_id": show["id"],
                "title": "Later",
                "publish_at": (T0 + timedelta(days=1)).isoformat(),
            },
        ).status_code
        == 200
    )
    changed_in_b(b"Edited in a", absent=b"Later")  # the publish itself is a change
    assert _get(b, feed, etag).status_code == 304
    clock.now = T0 + timedelta(days=1, seconds=1)
    changed_in_b(b"Later")
    # unpublishing through a
    assert a.client.post(f"/api/v1/episodes/{eps[2]}/unpublish", headers=alice).status_code == 200
    changed_in_b(b"Edited in a", absent=b"Later")
    # deleting an episode through a (the item goes with it; the show row is not touched)
    with a.runtime.database.transaction() as db:  # the last change a while ago
        from tapeworks.shows.models import Show

        db.execute(
            update(Show).where(Show.id == show["id"]).values(updated_at=T0, feed_changed_at=T0)
        )
    before_delete = _get(b, feed)
    assert a.client.delete(f"/api/v1/episodes/{eps[0]}", headers=alice).status_code == 204
    changed_in_b(b"<item>", absent=b"Edited in a")
    # a reader asking with If-Modified-Since alone is not told its copy is current
    since = b.client.get(
        feed, headers={"If-Modified-Since": before_delete.headers["last-modified"]}
    )
    assert since.status_code == 200 and b"Edited in a" not in since.content
    assert since.headers["last-modified"] != before_delete.headers["last-modified"]
    # the gzip-coded bytes are the same document in both
    za = a.client.get(feed)
    zb = b.client.get(feed)
    assert za.headers["content-encoding"] == zb.headers["content-encoding"] == "gzip"
    assert za.content == zb.content and za.headers["etag"] == zb.headers["etag"]


def test_a_speaker_renamed_after_publishing_is_in_the_feed_at_once(
    db_url, make_api, tmp_path
) -> None:
    a, b, alice, show, feed, ep = _one_published(db_url, make_api, tmp_path)
    first = _get(b, feed)
    assert _persons(first.content) == [[("Anna", "host"), ("Ben", "guest")]]
    vtt_url = (
        next(
            t.get("url")
            for t in etree.fromstring(first.content).iter(f"{{{NS['podcast']}}}transcript")
            if t.get("type") == "text/vtt"
        )
        .split("://", 1)[1]
        .split("/", 1)[1]
    )
    vtt = _get(b, "/" + vtt_url)
    assert "<v Ben>" in vtt.text and "Benedict" not in vtt.text
    with a.runtime.database.transaction(write=False) as db:
        sid = db.get(Episode, ep).session_id
    r = a.client.patch(
        f"/api/v1/sessions/{sid}/speakers",
        headers=alice,
        json={"speakers": [{"id": "S2", "name": "Benedict", "role": "host"}]},
    )
    assert r.status_code == 200, r.text
    renamed = _get(b, feed, first.headers["etag"])
    assert renamed.status_code == 200 and renamed.headers["etag"] != first.headers["etag"]
    assert _persons(renamed.content) == [[("Anna", "host"), ("Benedict", "host")]]
    # and the transcript file names the speaker anew (a new ETag)
    vtt2 = _get(b, "/" + vtt_url, vtt.headers["etag"])
    assert vtt2.status_code == 200 and "<v Benedict>" in vtt2.text and "<v Ben>" not in vtt2.text
    # a text edit that leaves the speakers alone changes nothing in the feed
    seg = r.json()["segments"][0]["id"]
    assert (
        a.client.patch(
            f"/api/v1/sessions/{sid}/segments/{seg}",
            headers=alice,
            json={"text": "Hello and welcome."},
        ).status_code
        == 200
    )
    assert _get(b, feed, renamed.headers["etag"]).status_code == 304
    # publishing again (an edit) keeps the current names
    assert (
        a.client.post(
            f"/api/v1/episodes/{ep}/publish",
            headers=alice,
            json={"show_id": show["id"], "title": "New"},
        ).status_code
        == 200
    )
    assert _persons(_get(a, feed).content) == [[("Anna", "host"), ("Benedict", "host")]]


def test_a_new_render_of_a_published_episode_changes_its_feed(db_url, make_api, tmp_path) -> None:
    from tapeworks.background import episode_finished

    a, b, _alice, _show, feed, ep = _one_published(db_url, make_api, tmp_path)
    before = _get(b, feed)
    assert b"/v1/audio.mp3" in before.content
    with a.runtime.database.transaction() as db:  # what the render's save phase does
        row = db.get(Episode, ep)
        row.version, row.size_bytes = 2, 12345
        episode_finished(db, a.runtime, row, None)
    after = _get(b, feed, before.headers["etag"])
    assert after.status_code == 200
    assert b"/v2/audio.mp3" in after.content and b'length="12345"' in after.content


def _published_events(api: Api, episode_id: str) -> list[dict]:
    from tapeworks.events.models import Event

    with api.runtime.database.transaction(write=False) as db:
        rows = db.scalars(select(Event).where(Event.type == "episode.published")).all()
        return [e.data for e in rows if e.data.get("id") == episode_id]


def test_episode_published_fires_when_a_scheduled_item_becomes_visible_once(
    db_url, make_api, tmp_path
) -> None:
    import threading

    from tapeworks.shows.publishing import run_announcements

    a, b, clock = _two_apps(db_url, make_api)
    alice = a.create_user("alice@example.com")
    show = a.client.post("/api/v1/shows", json=SHOW, headers=alice).json()
    later, now_ep = _episode(a, alice, tmp_path), _episode(a, alice, tmp_path)
    at = T0 + timedelta(hours=1)
    r = a.client.post(
        f"/api/v1/episodes/{later}/publish",
        headers=alice,
        json={"show_id": show["id"], "publish_at": at.isoformat()},
    )
    assert r.status_code == 200, r.text
    assert _published_events(a, later) == []  # scheduled: not visible, not announced
    assert run_announcements(a.runtime) == run_announcements(b.runtime) == 0
    # an item published for now is announced at once, and only then
    a.client.post(f"/api/v1/episodes/{now_ep}/publish", headers=alice, json={"show_id": show["id"]})
    assert len(_published_events(a, now_ep)) == 1
    # editing the scheduled item's metadata before its time announces nothing
    a.client.post(
        f"/api/v1/episodes/{later}/publish",
        headers=alice,
        json={"show_id": show["id"], "title": "Edited"},
    )
    assert _published_events(a, later) == []

    clock.now = at + timedelta(seconds=1)
    counts: list[int] = []
    threads = [
        threading.Thread(target=lambda rt=rt: counts.append(run_announcements(rt)))
        for rt in (a.runtime, b.runtime)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counts) == [0, 1]  # two processes at once: announced once
    events = _published_events(a, later)
    assert len(events) == 1
    assert events[0]["publish_at"].startswith("2026-06-01T10:00")
    assert events[0]["title"] == "Edited"
    assert run_announcements(a.runtime) == 0
    assert len(_published_events(a, now_ep)) == 1
    # moved to a later time while announced: no second announcement when it comes back
    a.client.post(
        f"/api/v1/episodes/{later}/publish",
        headers=alice,
        json={"show_id": show["id"], "publish_at": (at + timedelta(days=1)).isoformat()},
    )
    clock.now = at + timedelta(days=2)
    assert run_announcements(a.runtime) == 0
    # unpublished and published again on a schedule: a new stint, announced at its time
    a.client.post(f"/api/v1/episodes/{later}/unpublish", headers=alice)
    a.client.post(
        f"/api/v1/episodes/{later}/publish",
        headers=alice,
        json={"show_id": show["id"], "publish_at": (at + timedelta(days=3)).isoformat()},
    )
    assert len(_published_events(a, later)) == 1
    clock.now = at + timedelta(days=3, seconds=1)
    assert run_announcements(b.runtime) == 1
    assert len(_published_events(a, later)) == 2


def test_polls_are_answered_without_the_thread_pool_path(
    db_url, make_api, tmp_path, monkeypatch
) -> None:
    """The 304 and a held document come from the one state query run in the event loop
    (inline on SQLite, the pollers' async pool on PostgreSQL)."""
    from tapeworks.shows import public

    a, _b, _clock = _two_apps(db_url, make_api)
    alice = a.create_user("alice@example.com")
    show = a.client.post("/api/v1/shows", json=SHOW, headers=alice).json()
    feed = f"/feeds/{show['id']}.xml"
    ep = _episode(a, alice, tmp_path)
    a.client.post(f"/api/v1/episodes/{ep}/publish", headers=alice, json={"show_id": show["id"]})
    first = _get(a, feed)
    assert first.status_code == 200

    def no_build(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the thread-pool path was taken")

    monkeypatch.setattr(public, "_build_feed", no_build)
    assert _get(a, feed, first.headers["etag"]).status_code == 304
    again = _get(a, feed)
    assert again.status_code == 200 and again.content == first.content
    assert a.client.get(f"/feeds/{'0' * 32}.xml").status_code == 404


def test_the_periodic_job_announces_a_scheduled_item_in_a_running_server(
    db_url, make_api, tmp_path
) -> None:
    import time

    api = make_api(db_url, workers=1, publish_check_interval_seconds=0.2)
    clock = Clock(T0)
    api.runtime.clock = clock
    alice = api.create_user("alice@example.com")
    show = api.client.post("/api/v1/shows", json=SHOW, headers=alice).json()
    ep = _episode(api, alice, tmp_path)
    at = T0 + timedelta(hours=1)
    r = api.client.post(
        f"/api/v1/episodes/{ep}/publish",
        headers=alice,
        json={"show_id": show["id"], "publish_at": at.isoformat()},
    )
    assert r.status_code == 200, r.text
    time.sleep(0.6)  # a few rounds of the job: nothing is due yet
    assert _published_events(api, ep) == []
    clock.now = at
    deadline = time.monotonic() + 10
    while not _published_events(api, ep) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_published_events(api, ep)) == 1
    time.sleep(0.6)
    assert len(_published_events(api, ep)) == 1


def _stored_items(api: Api) -> dict[str, tuple[str, str]]:
    from tapeworks.shows.models import FeedItemXml

    with api.runtime.database.transaction(write=False) as db:
        return {r.publication_id: (r.key, r.xml) for r in db.scalars(select(FeedItemXml))}


def test_a_process_that_never_built_the_feed_takes_the_items_xml_another_wrote(
    db_url, make_api, tmp_path
) -> None:
    """Items' XML is kept in the database after a build (with placeholders for the base
    URL and the token): a second process serves the same bytes without writing an item
    (its builder is made to fail if asked), a private show's token and another base URL
    go into the links, and a row that is no longer current is written again."""
    from tapeworks.shows import publishing

    a, b, clock = _two_apps(db_url, make_api)
    alice = a.create_user("alice@example.com")
    show = a.client.post("/api/v1/shows", json=SHOW, headers=alice).json()
    feed = f"/feeds/{show['id']}.xml"
    eps = [_episode(a, alice, tmp_path) for _ in range(2)]
    for n, ep in enumerate(eps):
        clock.now = T0 + timedelta(minutes=n)
        r = a.client.post(f"/api/v1/episodes/{ep}/publish", headers=alice,
                          json={"show_id": show["id"], "title": f"E{n} <&>"})
        assert r.status_code == 200, r.text
    first = _get(a, feed)
    assert first.status_code == 200
    stored = _stored_items(a)
    assert len(stored) == 2
    assert all(PUBLIC not in xml and publishing.BASE_MARK in xml for _k, xml in stored.values())

    real = publishing._row_fragment
    try:
        def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise AssertionError("an item was written again")

        publishing._row_fragment = refuse
        rb = _get(b, feed)
        assert rb.status_code == 200 and rb.content == first.content
        assert rb.headers["etag"] == first.headers["etag"]
        # the same stored rows, with a private show's token in every link
        r = a.client.patch(f"/api/v1/shows/{show['id']}", headers=alice, json={"private": True})
        assert r.status_code == 200, r.text
        token = a.client.post(f"/api/v1/shows/{show['id']}/feed-token",
                              headers=alice).json()["feed_token"]
        private = _get(b, f"{feed}?token={token}")
        assert private.status_code == 200
        enclosures = [e.get("url") for e in
                      etree.fromstring(private.content).iter("enclosure")]
        assert len(enclosures) == 2
        assert all(u.startswith(PUBLIC) and u.endswith(f"?token={token}") for u in enclosures)
        assert b"\x01" not in private.content
    finally:
        publishing._row_fragment = real

    # an edit: the stored row of that item is stale, ignored and written again
    clock.now = T0 + timedelta(minutes=5)
    r = a.client.post(f"/api/v1/episodes/{eps[0]}/publish", headers=alice,
                      json={"show_id": show["id"], "title": "Edited"})
    assert r.status_code == 200, r.text
    rb = _get(b, f"{feed}?token={token}")
    assert b"Edited" in rb.content and b"E0 &lt;&amp;&gt;" not in rb.content
    fresh = _stored_items(b)
    pub = next(pid for pid, (_k, xml) in fresh.items() if "Edited" in xml)
    assert fresh[pub][0] != stored[pub][0]
    assert _get(a, f"{feed}?token={token}").content == rb.content
