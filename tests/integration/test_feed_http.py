"""Publishing over HTTP (issue 13): publish/unpublish/chapters through the API, the public
feed and its media without login, read back by two real feed readers (feedparser and
podcastparser), on SQLite and PostgreSQL built by the migrations. Real MP3 bytes in the
store; time injected through the runtime's clock."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import podcastparser
import pytest
from lxml import etree
from PIL import Image
from sqlalchemy import select

from tapeworks.episodes.models import Episode
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload_ok
from tests.helpers.paths import SPEECH_DIR
from tests.helpers.transcripts import make_transcript

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SHOW = {"title": "Coaching <Conversations> & more", "description": "Real sessions.",
        "language": "en", "category": "Health & Fitness", "subcategory": "Mental Health",
        "author": "Anna", "owner_name": "Anna O", "owner_email": "anna@example.org",
        "link": "https://example.org", "type": "episodic"}
NS = {"itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
      "podcast": "https://podcastindex.org/namespace/1.0", "atom": "http://www.w3.org/2005/Atom"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(api: Api) -> Clock:
    c = Clock(T0)
    api.runtime.clock = c
    return c


def _user_id(api: Api, email: str) -> str:
    from tapeworks.users.models import User

    with api.runtime.database.transaction(write=False) as db:
        return db.scalar(select(User.id).where(User.email == email))


def completed_episode(api: Api, headers: dict[str, str], tmp_path: Path, *, seconds: float = 3.0,
                      status: str = "completed", title: str = "Ask not") -> str:
    """A session uploaded through the API and a completed episode of it: real MP3 bytes and
    a re-timed transcript with named speakers in the store (the render itself is tested in
    the episodes tests)."""
    uid = _user_id(api, "alice@example.com") if headers.get("_who") is None else headers["_who"]
    sid = upload_ok(api.client, {k: v for k, v in headers.items() if k != "_who"},
                    SPEECH_DIR / "jfk.flac", title="jfk")
    mp3 = audio.write_tone(tmp_path / f"ep-{sid}.mp3", seconds=seconds, fmt="mp3").read_bytes()
    with api.runtime.database.transaction() as db:
        ep = Episode(user_id=uid, session_id=sid, title=title, status=status)
        db.add(ep)
        db.flush()
        prefix = f"users/{uid}/sessions/{sid}/episodes/{ep.id}"
        api.runtime.store.put_bytes(f"{prefix}/audio.mp3", mp3, content_type="audio/mpeg")
        api.runtime.store.put_bytes(f"{prefix}/transcript.json",
                                    make_transcript().model_dump_json().encode())
        if status == "completed":
            ep.audio_key, ep.transcript_key = f"{prefix}/audio.mp3", f"{prefix}/transcript.json"
            ep.size_bytes, ep.duration_seconds, ep.format = len(mp3), seconds, "mp3"
        return ep.id


def _artwork() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1400, 1400), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def _show(api: Api, headers: dict[str, str], **extra: object) -> dict:
    r = api.client.post("/api/v1/shows", json={**SHOW, **extra}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _path(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_feed_with_several_episodes_reads_back_in_two_feed_readers(api, alice, clock,
                                                                    tmp_path) -> None:
    show = _show(api, alice)
    r = api.client.put(f"/api/v1/shows/{show['id']}/artwork", headers=alice,
                       files={"file": ("art.jpg", _artwork(), "image/jpeg")})
    assert r.status_code == 200, r.text
    eps = [completed_episode(api, alice, tmp_path, seconds=2.0 + i) for i in range(3)]
    guids = []
    for n, ep_id in enumerate(eps, start=1):
        clock.now = T0 + timedelta(hours=n)
        r = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice, json={
            "show_id": show["id"], "title": f"Episode {n}: <b>&</b> ]]> \U0001F399\x07",
            "description": f"<p>Notes {n}<script>alert(1)</script></p>", "season": 1,
            "number": n, "episode_type": "trailer" if n == 1 else "full"})
        assert r.status_code == 200, r.text
        pub = r.json()["publication"]
        assert pub["show_id"] == show["id"] and pub["state"] == "published"
        assert pub["published_at"].startswith(f"2026-06-01T{9 + n:02d}:00")
        guids.append(pub["guid"])
    r = api.client.put(f"/api/v1/episodes/{eps[0]}/chapters", headers=alice,
                       json=[{"start": 0, "title": "Welcome"},
                             {"start": 1.5, "title": "Coaching", "url": "https://example.org/c"}])
    assert r.status_code == 200, r.text
    assert [c["title"] for c in r.json()["chapters"]] == ["Welcome", "Coaching"]
    # the one source of chapters: the next render writes them as the MP3's ID3 chapters
    from tapeworks.episodes import service as episodes_service

    with api.runtime.database.transaction(write=False) as db:
        stored = db.get(Episode, eps[0]).settings
    _cleaning, _loudness, render = episodes_service.settings_objects(stored)
    assert render.chapters == [(0.0, "Welcome"), (1.5, "Coaching")]

    clock.now = T0 + timedelta(days=1)
    r = api.client.get(_path(show["feed_url"]))  # no login
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/rss+xml")
    assert r.headers["etag"] and r.headers["last-modified"]
    body = r.content
    root = etree.fromstring(body)  # well-formed, whatever the titles hold
    channel = root.find("channel")
    assert channel.find("atom:link", NS).get("rel") == "self"
    assert channel.find("atom:link", NS).get("href") == show["feed_url"]
    assert channel.findtext("podcast:guid", namespaces=NS) == show["podcast_guid"]
    assert channel.findtext("podcast:locked", namespaces=NS) == "yes"
    assert channel.find("itunes:image", NS).get("href").endswith(
        f"/media/shows/{show['id']}/artwork.jpg")
    items = channel.findall("item")
    assert [i.findtext("guid") for i in items] == guids[::-1]  # newest first, unique
    for item in items:
        assert item.find("guid").get("isPermaLink") == "false"
        parsedate_to_datetime(item.findtext("pubDate"))  # RFC 2822
        assert item.findtext("pubDate").endswith("GMT")
        enclosure = item.find("enclosure")
        served = api.client.get(_path(enclosure.get("url")))  # no login
        assert served.status_code == 200
        assert int(enclosure.get("length")) == len(served.content) > 0
        assert enclosure.get("type") == served.headers["content-type"] == "audio/mpeg"
        kinds = {t.get("type"): t for t in item.findall("podcast:transcript", NS)}
        assert set(kinds) == {"text/vtt", "application/x-subrip", "application/json"}
        persons = [(p.text, p.get("role")) for p in item.findall("podcast:person", NS)]
        assert persons == [("Anna", "host"), ("Ben", "guest")]

    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.feed.title == SHOW["title"]
    assert parsed.feed.language == "en"
    assert channel.findtext("itunes:author", namespaces=NS) == "Anna"
    assert parsed.feed.publisher_detail.email == "anna@example.org"  # itunes:owner
    assert parsed.feed.image.href.endswith("/artwork.jpg")
    assert parsed.feed.tags[0].term == "Health & Fitness"
    assert [e.id for e in parsed.entries] == guids[::-1]
    first = parsed.entries[-1]
    assert first.title == "Episode 1: <b>&</b> ]]> \U0001F399"  # control character dropped
    assert "<script>" not in first.summary and "Notes 1" in first.summary
    assert first.itunes_episode == "1" and first.itunes_season == "1"
    assert first.itunes_episodetype == "trailer"
    assert first.itunes_duration == "2"
    assert first.enclosures[0].type == "audio/mpeg"

    pp = podcastparser.parse(show["feed_url"], io.BytesIO(body))
    assert pp["title"] == SHOW["title"]
    assert pp["type"] == "episodic"
    assert pp["cover_url"].endswith("/artwork.jpg")
    assert [e["guid"] for e in pp["episodes"]] == guids[::-1]
    oldest = pp["episodes"][-1]
    assert oldest["number"] == 1 and oldest["type"] == "trailer"
    assert oldest["total_time"] == 2
    assert oldest["enclosures"][0]["file_size"] == len(
        api.client.get(_path(oldest["enclosures"][0]["url"])).content)
    assert oldest["published"] == int((T0 + timedelta(hours=1)).timestamp())
    # podcastparser maps only the namespace's old GitHub URL to `podcast:`; the spec's
    # https://podcastindex.org/namespace/1.0 (ours, what Apple and Podcast Index read) is
    # checked with lxml above and below.
    chapters_url = items[-1].find("podcast:chapters", NS).get("url")
    assert "<script>" not in oldest.get("description_html", "")

    # the chapters file and the transcripts, without login, with CORS headers
    ch = api.client.get(_path(chapters_url))
    assert ch.status_code == 200 and ch.headers["access-control-allow-origin"] == "*"
    doc = ch.json()
    assert doc["version"] == "1.2.0"
    assert doc["chapters"] == [{"startTime": 0.0, "title": "Welcome"},
                               {"startTime": 1.5, "title": "Coaching",
                                "url": "https://example.org/c"}]
    vtt_url = {t.get("type"): t.get("url")
               for t in items[-1].findall("podcast:transcript", NS)}
    vtt = api.client.get(_path(vtt_url["text/vtt"]))
    assert vtt.status_code == 200 and vtt.headers["access-control-allow-origin"] == "*"
    assert vtt.text.startswith("WEBVTT") and "<v Anna>" in vtt.text and "<v Ben>" in vtt.text
    head = api.client.get(_path(vtt_url["text/vtt"]), headers={"Range": "bytes=0-5"})
    assert head.status_code == 206 and head.content == b"WEBVTT"
    assert head.headers["access-control-allow-origin"] == "*"
    js = api.client.get(_path(vtt_url["application/json"])).json()
    assert js["version"] == "1.0.0" and {s["speaker"] for s in js["segments"]} == {"Anna", "Ben"}
    srt = api.client.get(_path(vtt_url["application/x-subrip"]))
    assert srt.status_code == 200 and "-->" in srt.text
    art = api.client.get(_path(channel.find("itunes:image", NS).get("href")))
    assert art.status_code == 200 and art.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(art.content)).size == (1400, 1400)


def test_conditional_get_head_and_byte_ranges(api, alice, clock, tmp_path) -> None:
    show = _show(api, alice)
    ep_id = completed_episode(api, alice, tmp_path)
    assert api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                           json={"show_id": show["id"]}).status_code == 200
    feed = _path(show["feed_url"])
    full = api.client.get(feed)
    etag, last = full.headers["etag"], full.headers["last-modified"]
    assert api.client.get(feed, headers={"If-None-Match": etag}).status_code == 304
    assert api.client.get(feed, headers={"If-None-Match": f'W/{etag}'}).status_code == 304
    assert api.client.get(feed, headers={"If-Modified-Since": last}).status_code == 304
    assert api.client.get(feed, headers={"If-None-Match": '"other"'}).status_code == 200
    head = api.client.head(feed)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == etag
    # the feed goes gzip-coded to a client that accepts it (podcast apps do), under its
    # own ETag; either ETag gives a 304
    assert full.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in full.headers["vary"]
    assert int(head.headers["content-length"]) == int(full.headers["content-length"]) \
        < len(full.content)
    plain = api.client.get(feed, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == full.content
    assert plain.headers["etag"] != etag and plain.headers["last-modified"] == last
    plain_head = api.client.head(feed, headers={"Accept-Encoding": "identity"})
    assert int(plain_head.headers["content-length"]) == len(plain.content)
    for tag in (etag, plain.headers["etag"]):
        assert api.client.get(feed, headers={"If-None-Match": tag,
                                             "Accept-Encoding": "identity"}).status_code == 304
    # byte ranges of the document as sent
    part = api.client.get(feed, headers={"Range": "bytes=0-37", "Accept-Encoding": "identity"})
    assert part.status_code == 206 and part.content == plain.content[:38]
    assert part.headers["content-range"] == f"bytes 0-37/{len(plain.content)}"
    stale = api.client.get(feed, headers={"Range": "bytes=0-37", "If-Range": '"old"',
                                          "Accept-Encoding": "identity"})
    assert stale.status_code == 200 and stale.content == plain.content
    assert api.client.get(feed, headers={"Range": "bytes=99999999-",
                                         "Accept-Encoding": "identity"}).status_code == 416
    # an edit changes the ETag: the old one no longer gives 304
    assert api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                           json={"show_id": show["id"], "title": "Renamed"}).status_code == 200
    changed = api.client.get(feed, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert b"Renamed" in changed.content
    # a full GET of an unchanged feed is the same document (kept by this process under its
    # ETag); every change makes a new one
    again = api.client.get(feed)
    assert again.content == changed.content and again.headers["etag"] == changed.headers["etag"]
    assert b"podcast:chapters" not in again.content
    assert api.client.put(f"/api/v1/episodes/{ep_id}/chapters", headers=alice,
                          json=[{"start": 0, "title": "Start"}]).status_code == 200
    with_chapters = api.client.get(feed)
    assert with_chapters.headers["etag"] != again.headers["etag"]
    assert b"podcast:chapters" in with_chapters.content
    assert api.client.put(f"/api/v1/episodes/{ep_id}/chapters", headers=alice,
                          json=[]).status_code == 200
    assert b"podcast:chapters" not in api.client.get(feed).content

    url = _path(etree.fromstring(changed.content).find("channel/item/enclosure").get("url"))
    whole = api.client.get(url)
    assert whole.headers["accept-ranges"] == "bytes"
    part = api.client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(whole.content)}"
    tail = api.client.get(url, headers={"Range": "bytes=-5"})
    assert tail.status_code == 206 and tail.content == whole.content[-5:]
    assert api.client.get(url, headers={"Range": f"bytes={len(whole.content)}-"}).status_code == 416
    mhead = api.client.head(url)
    assert mhead.status_code == 200 and mhead.content == b""
    assert int(mhead.headers["content-length"]) == len(whole.content)
    assert api.client.get(url, headers={"If-None-Match": whole.headers["etag"]}).status_code == 304
    # If-Range with another ETag: the whole file, not a part of other bytes
    assert api.client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"x"'}).status_code == 200
    # an old version number redirects to the current one
    moved = api.client.get(url.replace("/v1/", "/v7/"), follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == url
    assert api.client.get(url.replace("audio.mp3", "audio.m4a")).status_code == 404


def test_publish_rules_over_http(api, alice, bob, clock, tmp_path) -> None:
    show = _show(api, alice)
    other = _show(api, alice, title="Other")
    queued = completed_episode(api, alice, tmp_path, status="queued")
    r = api.client.post(f"/api/v1/episodes/{queued}/publish", headers=alice,
                        json={"show_id": show["id"]})
    assert r.status_code == 409 and "completed" in r.json()["error"]["message"]
    ep_id = completed_episode(api, alice, tmp_path)
    # another user's episode or show: 404
    bobs_show = _show(api, bob)
    assert api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=bob,
                           json={"show_id": bobs_show["id"]}).status_code == 404
    assert api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                           json={"show_id": bobs_show["id"]}).status_code == 404
    assert api.client.get(f"/api/v1/episodes/{ep_id}/publication",
                          headers=bob).status_code == 404
    # bad input: a clear 422 naming the field, nothing published
    for body, word in (({"show_id": show["id"], "episode_type": "special"}, "episode_type"),
                       ({"show_id": show["id"], "season": -1}, "season"),
                       ({"show_id": show["id"], "description": "x" * 1_000_001}, "bytes"),
                       ({"show_id": show["id"], "colour": "red"}, "colour")):
        r = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice, json=body)
        assert r.status_code == 422, (body, r.text)
        assert word in r.text
    assert api.client.get(f"/api/v1/episodes/{ep_id}/publication",
                          headers=alice).json()["publication"] is None
    first = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                            json={"show_id": show["id"]}).json()["publication"]
    again = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                            json={"show_id": show["id"], "title": "Edited"}).json()["publication"]
    assert again["guid"] == first["guid"] and again["title"] == "Edited"
    r = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                        json={"show_id": other["id"]})
    assert r.status_code == 409 and "unpublish" in r.json()["error"]["message"]
    out = api.client.post(f"/api/v1/episodes/{ep_id}/unpublish", headers=alice)
    assert out.status_code == 200 and out.json()["publication"]["state"] == "unpublished"
    assert api.client.get(_path(show["feed_url"])).content.count(b"<item>") == 0
    media = f"/media/episodes/{ep_id}/v1/audio.mp3"
    assert api.client.get(media).status_code == 404  # unpublished: no public audio
    moved = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                            json={"show_id": other["id"]}).json()["publication"]
    assert moved["guid"] == first["guid"] and moved["show_id"] == other["id"]
    assert api.client.get(media).status_code == 200
    # chapters: validated, named in the message
    for bad in ([{"start": 10_000, "title": "after the end"}], [{"start": 0, "title": ""}],
                [{"start": 0, "title": "a", "url": "javascript:alert(1)"}],
                [{"start": 1, "title": "a"}, {"start": 1, "title": "b"}]):
        r = api.client.put(f"/api/v1/episodes/{ep_id}/chapters", headers=alice, json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert api.client.get(f"/api/v1/episodes/{ep_id}/chapters",
                          headers=alice).json() == {"chapters": []}
    assert api.client.get(f"/media/episodes/{ep_id}/chapters.json").status_code == 404


def test_scheduled_item_appears_at_its_time_over_http(api, alice, clock, tmp_path) -> None:
    show = _show(api, alice)
    ep_id = completed_episode(api, alice, tmp_path)
    at = T0 + timedelta(hours=6)
    r = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                        json={"show_id": show["id"], "publish_at": at.isoformat()})
    assert r.status_code == 200 and r.json()["publication"]["publish_at"].startswith("2026-06-01T15")
    feed = _path(show["feed_url"])
    media = f"/media/episodes/{ep_id}/v1/audio.mp3"
    clock.now = at - timedelta(seconds=1)
    before = api.client.get(feed)
    assert b"<item>" not in before.content and api.client.get(media).status_code == 404
    clock.now = at
    after = api.client.get(feed, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.content.count(b"<item>") == 1
    assert api.client.get(media).status_code == 200


def test_private_show_needs_its_current_token(api, alice, clock, tmp_path) -> None:
    show = _show(api, alice, private=True)
    token = show["feed_token"]
    assert token and show["feed_url"].endswith(f"?token={token}")
    ep_id = completed_episode(api, alice, tmp_path)
    assert api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                           json={"show_id": show["id"]}).status_code == 200
    bare = f"/feeds/{show['id']}.xml"
    assert api.client.get(bare).status_code == 404
    assert api.client.get(f"{bare}?token=wrong").status_code == 404
    r = api.client.get(_path(show["feed_url"]))
    assert r.status_code == 200 and r.headers["cache-control"].startswith("private")
    channel = etree.fromstring(r.content).find("channel")
    assert channel.findtext("itunes:block", namespaces=NS) == "Yes"
    enclosure = channel.find("item/enclosure").get("url")
    assert enclosure.endswith(f"?token={token}")
    assert api.client.get(_path(enclosure)).status_code == 200
    assert api.client.get(_path(enclosure).split("?")[0]).status_code == 404
    transcript = channel.find("item/podcast:transcript", NS).get("url")
    assert api.client.get(_path(transcript)).status_code == 200
    assert api.client.get(_path(transcript).split("?")[0]).status_code == 404
    rotated = api.client.post(f"/api/v1/shows/{show['id']}/feed-token", headers=alice).json()
    assert rotated["feed_token"] != token
    for url in (show["feed_url"], enclosure, transcript):
        assert api.client.get(_path(url)).status_code == 404  # the old token stops at once
    assert api.client.get(_path(rotated["feed_url"])).status_code == 200


def test_deleting_the_episode_or_the_show_takes_the_item_out(api, alice, clock, tmp_path) -> None:
    show = _show(api, alice)
    kept, gone, by_session = (completed_episode(api, alice, tmp_path) for _ in range(3))
    for ep_id in (kept, gone, by_session):
        assert api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                               json={"show_id": show["id"]}).status_code == 200
    feed = _path(show["feed_url"])
    etag = api.client.get(feed).headers["etag"]
    assert api.client.delete(f"/api/v1/episodes/{gone}", headers=alice).status_code == 204
    r = api.client.get(feed, headers={"If-None-Match": etag})
    assert r.status_code == 200 and r.content.count(b"<item>") == 2
    assert api.client.get(f"/media/episodes/{gone}/v1/audio.mp3").status_code == 404
    with api.runtime.database.transaction(write=False) as db:
        session_id = db.get(Episode, by_session).session_id
    assert api.client.delete(f"/api/v1/sessions/{session_id}", headers=alice).status_code == 204
    assert api.client.get(feed).content.count(b"<item>") == 1
    assert api.client.get(f"/media/episodes/{by_session}/v1/audio.mp3").status_code == 404
    assert api.client.delete(f"/api/v1/shows/{show['id']}", headers=alice).status_code == 204
    assert api.client.get(feed).status_code == 404
    assert api.client.get(f"/media/episodes/{kept}/v1/audio.mp3").status_code == 404
    assert api.client.get(f"/api/v1/episodes/{kept}/publication",
                          headers=alice).json()["publication"]["state"] == "unpublished"


def test_publication_hooks_see_published_and_unpublished(api, alice, clock, tmp_path) -> None:
    from tapeworks.shows.hooks import PublicationHooks

    seen: list[tuple[str, str]] = []
    api.runtime.publication_hooks = PublicationHooks(
        changed=(lambda db, ev: seen.append((ev.kind, ev.guid)),))
    show = _show(api, alice)
    ep_id = completed_episode(api, alice, tmp_path)
    guid = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                           json={"show_id": show["id"]}).json()["publication"]["guid"]
    api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                    json={"show_id": show["id"], "title": "edit only"})
    api.client.post(f"/api/v1/episodes/{ep_id}/unpublish", headers=alice)
    api.client.post(f"/api/v1/episodes/{ep_id}/unpublish", headers=alice)
    assert seen == [("episode.published", guid), ("episode.unpublished", guid)]


def test_hostile_show_metadata_gets_a_4xx_or_a_well_formed_feed(api, alice, clock,
                                                                 tmp_path) -> None:
    r = api.client.post("/api/v1/shows", headers=alice,
                        json={**SHOW, "description": "x" * 1_000_000})
    assert r.status_code == 422 and "description" in r.text
    r = api.client.post("/api/v1/shows", headers=alice, json={**SHOW, "language": "klingon!"})
    assert r.status_code == 422 and "BCP 47" in r.json()["error"]["message"]
    r = api.client.post("/api/v1/shows", headers=alice, json={**SHOW, "category": "Cooking"})
    assert r.status_code == 422
    weird = "]]> <rss> & \"quotes\" 'apos' \x00\x1b \U0001F399 " + "\u202e"
    show = _show(api, alice, title=weird, author=weird, owner_name=weird, copyright=weird,
                 description="<script>x</script> " + weird)
    ep_id = completed_episode(api, alice, tmp_path)  # its title comes through the publish
    r = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice, json={
        "show_id": show["id"], "title": weird, "description": weird * 1000})
    assert r.status_code == 200, r.text
    # 1 MB of show notes: refused in words, never a 5xx
    big = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice, json={
        "show_id": show["id"], "description": "<p>" + "x" * 1_000_000 + "</p>"})
    assert big.status_code == 422, big.text
    assert "show notes can be at most 100,000 bytes" in big.json()["error"]["message"]
    # a lone surrogate, as JSON can carry it (\ud800 escaped): refused or dropped, never a 5xx
    lone = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers={
        **alice, "Content-Type": "application/json"},
        content=(f'{{"show_id": "{show["id"]}", "title": "half \\ud800 a pair"}}').encode())
    assert lone.status_code in (200, 422), lone.text
    feed = api.client.get(_path(show["feed_url"]))
    assert feed.status_code == 200
    root = etree.fromstring(feed.content)  # well-formed
    assert "]]> <rss> &" in root.findtext("channel/title")
    assert "]]> <rss> &" in root.findtext("channel/item/title")
    parsed = feedparser.parse(feed.content)
    assert not parsed.bozo, parsed.bozo_exception
    for fmt in ("vtt", "srt", "json"):
        assert api.client.get(f"/media/episodes/{ep_id}/v1/transcript.{fmt}").status_code == 200
    assert api.client.get(f"/media/episodes/{ep_id}/v1/transcript.docx").status_code == 404
    assert api.client.get(f"/feeds/{'x' * 300}.xml").status_code == 404
    assert api.client.get(f"/media/episodes/{ep_id}/v1/audio.mp3?token={'t' * 500}").status_code == 422


def test_a_new_version_keeps_the_item_and_its_guid_and_moves_its_media(api, alice, clock,
                                                                      tmp_path) -> None:
    show = _show(api, alice)
    ep_id = completed_episode(api, alice, tmp_path, seconds=2.0)
    with api.runtime.database.transaction() as db:
        db.get(Episode, ep_id).version = 1
    guid = api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                           json={"show_id": show["id"]}).json()["publication"]["guid"]
    feed = _path(show["feed_url"])
    v1 = _path(etree.fromstring(api.client.get(feed).content).find("channel/item/enclosure")
               .get("url"))
    assert "/v1/audio.mp3" in v1
    # a new version is being made (a retry, new cuts): the item stays, serving version 1
    r = api.client.post(f"/api/v1/episodes/{ep_id}/retry", headers=alice)
    assert r.status_code == 200, r.text
    with api.runtime.database.transaction(write=False) as db:
        assert db.get(Episode, ep_id).status in ("queued", "processing")
    items = etree.fromstring(api.client.get(feed).content).findall("channel/item")
    assert [i.findtext("guid") for i in items] == [guid]
    assert api.client.get(v1).status_code == 200
    assert api.client.post(f"/api/v1/episodes/{ep_id}/publish", headers=alice,
                           json={"show_id": show["id"], "title": "edited meanwhile"}
                           ).status_code == 200
    # version 2 completes (as the render's save phase leaves it): longer audio, new URLs
    longer = audio.write_tone(tmp_path / "v2.mp3", seconds=4.0, fmt="mp3").read_bytes()
    with api.runtime.database.transaction() as db:
        ep = db.get(Episode, ep_id)
        key = ep.audio_key.replace("audio.mp3", "v2/audio.mp3")
        api.runtime.store.put_bytes(key, longer, content_type="audio/mpeg")
        ep.audio_key, ep.size_bytes, ep.duration_seconds, ep.version = key, len(longer), 4.0, 2
        ep.status = "completed"
    items = etree.fromstring(api.client.get(feed).content).findall("channel/item")
    assert [i.findtext("guid") for i in items] == [guid]  # one item, the same guid
    enclosure = items[0].find("enclosure")
    v2 = _path(enclosure.get("url"))
    assert "/v2/audio.mp3" in v2
    served = api.client.get(v2)
    assert served.content == longer and int(enclosure.get("length")) == len(longer)
    moved = api.client.get(v1, follow_redirects=False)
    assert moved.status_code == 307 and moved.headers["location"] == v2
