"""Publishing episodes in a show and the feed built from the database (service level: the
episode endpoints follow issue 11, the public feed route issue 12). Real databases from the
migrations, a real MP3 in the store, time injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree
from sqlalchemy import func, select

from tapeworks.episodes.models import Episode
from tapeworks.errors import Conflict, NotFound
from tapeworks.shows import publishing
from tapeworks.shows import service as shows
from tapeworks.shows.models import Publication
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload_ok
from tests.helpers.paths import SPEECH_DIR

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
BASE = "https://pod.example.org"
SHOW = {"title": "Show", "language": "en", "category": "Technology", "owner_email": "a@example.org"}


def _user_id(api: Api, email: str) -> str:
    from tapeworks.users.models import User

    with api.runtime.database.transaction(write=False) as db:
        return db.scalar(select(User.id).where(User.email == email))


def _episode(api: Api, headers: dict[str, str], user_id: str, tmp_path: Path, *,
             status: str = "completed") -> tuple[str, bytes]:
    sid = upload_ok(api.client, headers, SPEECH_DIR / "jfk.flac", title="jfk")
    mp3 = audio.write_tone(tmp_path / f"ep-{sid}.mp3", seconds=3.0, fmt="mp3").read_bytes()
    with api.runtime.database.transaction() as db:
        ep = Episode(user_id=user_id, session_id=sid, title="Ask not", status=status)
        db.add(ep)
        db.flush()
        key = f"users/{user_id}/sessions/{sid}/episodes/{ep.id}/audio.mp3"
        api.runtime.store.put_bytes(key, mp3, content_type="audio/mpeg")
        if status == "completed":
            ep.audio_key, ep.size_bytes, ep.duration_seconds, ep.format = key, len(mp3), 3.0, "mp3"
        return ep.id, mp3


@pytest.fixture
def setup(api: Api, alice: dict[str, str], tmp_path: Path):
    uid = _user_id(api, "alice@example.com")
    with api.runtime.database.transaction() as db:
        show_id = shows.create_show(db, uid, SHOW, base_url=BASE, now=T0).show.id
        other_id = shows.create_show(db, uid, {**SHOW, "title": "Other"}, base_url=BASE,
                                     now=T0).show.id
    return uid, show_id, other_id


def _feed(api: Api, show_id: str, now: datetime) -> publishing.FeedDocument:
    with api.runtime.database.transaction(write=False) as db:
        show = db.get(publishing.Show, show_id)
        return publishing.build_feed(db, show, base_url=BASE, token=None, now=now)


def _guids(doc: publishing.FeedDocument) -> list[str]:
    return [g.text for g in etree.fromstring(doc.content).iter("guid")]


def test_publish_twice_edit_and_rerender_keep_one_item_and_its_guid(api, alice, setup,
                                                                     tmp_path) -> None:
    uid, show_id, _ = setup
    ep_id, _mp3 = _episode(api, alice, uid, tmp_path)
    with api.runtime.database.transaction() as db:
        guid = publishing.publish(db, uid, ep_id, {"show_id": show_id, "title": "Ep 1",
                                                   "description": "<p>Hi<script>x</script></p>",
                                                   "season": 1, "number": 1}, now=T0).guid
    with api.runtime.database.transaction() as db:
        again = publishing.publish(db, uid, ep_id, {"show_id": show_id}, now=T0 + timedelta(1))
        edited = publishing.publish(db, uid, ep_id, {"show_id": show_id, "title": "Ep 1, fixed"},
                                    now=T0 + timedelta(2))
        assert again.guid == edited.guid == guid
        assert edited.published_at == T0  # editing never moves the pubDate
        assert edited.description == "<p>Hi</p>"
    # a re-render (retry) writes new audio of another length: the item follows the bytes
    longer = audio.write_tone(tmp_path / "retry.mp3", seconds=5.0, fmt="mp3").read_bytes()
    with api.runtime.database.transaction() as db:
        ep = db.get(Episode, ep_id)
        api.runtime.store.put_bytes(ep.audio_key, longer)
        ep.size_bytes = len(longer)
    doc = _feed(api, show_id, T0 + timedelta(days=3))
    assert _guids(doc) == [guid]
    item = etree.fromstring(doc.content).find("channel/item")
    assert item.findtext("title") == "Ep 1, fixed"
    enclosure = item.find("enclosure")
    assert int(enclosure.get("length")) == len(longer) == len(api.runtime.store.get_bytes(ep.audio_key))
    assert enclosure.get("url") == f"{BASE}/media/episodes/{ep_id}/v1/audio.mp3"
    assert enclosure.get("type") == "audio/mpeg"
    with api.runtime.database.transaction(write=False) as db:
        assert db.scalar(select(func.count()).select_from(Publication)) == 1
    parsed = feedparser.parse(doc.content)
    assert not parsed.bozo and [e.id for e in parsed.entries] == [guid]


def test_scheduled_item_is_absent_before_its_time_and_present_after(api, alice, setup,
                                                                    tmp_path) -> None:
    uid, show_id, _ = setup
    ep_id, _ = _episode(api, alice, uid, tmp_path)
    at = T0 + timedelta(hours=6)
    with api.runtime.database.transaction() as db:
        pub = publishing.publish(db, uid, ep_id, {"show_id": show_id, "publish_at": at}, now=T0)
        assert pub.published_at == at
    before = _feed(api, show_id, at - timedelta(seconds=1))
    after = _feed(api, show_id, at)
    assert _guids(before) == [] and _guids(after) == [pub.guid]
    assert before.etag != after.etag  # the ETag covers the visible set
    assert _feed(api, show_id, at - timedelta(minutes=5)).etag == before.etag
    pub_date = etree.fromstring(after.content).findtext("channel/item/pubDate")
    assert pub_date == "Mon, 01 Jun 2026 15:00:00 GMT"


def test_only_completed_own_episodes_publish_and_one_show_at_a_time(api, alice, bob, setup,
                                                                    tmp_path) -> None:
    uid, show_id, other_id = setup
    queued, _ = _episode(api, alice, uid, tmp_path, status="queued")
    with api.runtime.database.transaction() as db, pytest.raises(Conflict) as info:
        publishing.publish(db, uid, queued, {"show_id": show_id}, now=T0)
    assert "completed" in info.value.message and "queued" in info.value.message

    ep_id, _ = _episode(api, alice, uid, tmp_path)
    bob_id = _user_id(api, "bob@example.com")
    with api.runtime.database.transaction() as db:
        for user, episode, show in ((bob_id, ep_id, show_id), (uid, ep_id, "nope"),
                                    (uid, "nope", show_id)):
            with pytest.raises(NotFound):
                publishing.publish(db, user, episode, {"show_id": show}, now=T0)
        guid = publishing.publish(db, uid, ep_id, {"show_id": show_id}, now=T0).guid
    with api.runtime.database.transaction() as db, pytest.raises(Conflict) as info:
        publishing.publish(db, uid, ep_id, {"show_id": other_id}, now=T0)
    assert "unpublish" in info.value.message

    with api.runtime.database.transaction() as db:
        publishing.unpublish(db, uid, ep_id, now=T0 + timedelta(1))
        publishing.unpublish(db, uid, ep_id, now=T0 + timedelta(1))  # idempotent
    assert _guids(_feed(api, show_id, T0 + timedelta(2))) == []
    with api.runtime.database.transaction() as db:
        moved = publishing.publish(db, uid, ep_id, {"show_id": other_id}, now=T0 + timedelta(3))
        assert moved.guid == guid  # unpublish + publish keeps the guid
    assert _guids(_feed(api, other_id, T0 + timedelta(4))) == [guid]


def test_deleting_the_show_or_the_episode_unpublishes(api, alice, setup, tmp_path) -> None:
    uid, show_id, other_id = setup
    first, _ = _episode(api, alice, uid, tmp_path)
    second, _ = _episode(api, alice, uid, tmp_path)
    with api.runtime.database.transaction() as db:
        publishing.publish(db, uid, first, {"show_id": show_id}, now=T0)
        publishing.publish(db, uid, second, {"show_id": other_id}, now=T0)
    with api.runtime.database.transaction() as db:
        shows.delete_show(db, api.runtime.store, uid, show_id)
    with api.runtime.database.transaction(write=False) as db:
        pub = publishing.get_publication(db, first)
        assert (pub.state, pub.show_id) == ("unpublished", None)
    r = api.client.delete(f"/api/v1/episodes/{second}", headers=alice)
    assert r.status_code == 204, r.text
    with api.runtime.database.transaction(write=False) as db:
        assert publishing.get_publication(db, second) is None
    assert _guids(_feed(api, other_id, T0 + timedelta(1))) == []
