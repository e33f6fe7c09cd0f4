"""Search that finds moments, on SQLite FTS5 and PostgreSQL tsvector, through the API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tapeworks.retention import service as retention
from tapeworks.search import service as search
from tapeworks.sessions.models import RecordingSession
from tests.conftest import Api
from tests.helpers.api import upload, wait_status
from tests.helpers.paths import SPEECH_DIR
from tests.helpers.practice import transcribed_session, transcribed_sessions, user_id_of

FILLER = [("S1", "We talked about the week and what went well."),
          ("S2", "Mostly meetings, some planning, nothing unusual really.")]


def find(api: Api, headers: dict[str, str], q: str, **params: Any) -> Any:
    return api.client.get("/api/v1/search", params={"q": q, **params}, headers=headers)


def hits(api: Api, headers: dict[str, str], q: str, **params: Any) -> list[dict[str, Any]]:
    r = find(api, headers, q, **params)
    assert r.status_code == 200, r.text
    return list(r.json()["hits"])


@pytest.fixture
def library(api: Api, alice: dict[str, str]) -> dict[str, Any]:
    """50 sessions of alice; one of them mentions her promotion, 3 segments in."""
    uid = user_id_of(api, alice)
    ids = transcribed_sessions(api, uid, [(f"Session {n}", FILLER * 2) for n in range(49)])
    spoken = [*FILLER, ("S1", "So tell me about the promotion your manager promised."),
              ("S2", "The pay rise was smaller than the promotion suggested.")]
    special = transcribed_session(api, uid, "Career talk", spoken)
    ids.insert(17, special)
    t = api.client.get(f"/api/v1/sessions/{special}/transcript", headers=alice).json()
    return {"uid": uid, "ids": ids, "special": special, "transcript": t}


def test_a_word_said_in_one_session_of_50_is_found_at_its_time(api: Api, alice, library):
    found = hits(api, alice, "promotion")
    assert {h["session_id"] for h in found} == {library["special"]}
    seg = next(s for s in library["transcript"]["segments"] if "promotion your" in s["text"])
    first = next(h for h in found if h["segment_id"] == seg["id"])
    assert first["kind"] == "transcript"
    assert first["start"] == pytest.approx(seg["start"]) and first["end"] == pytest.approx(seg["end"])
    assert first["speaker"] == "Anna"
    assert "<mark>promotion</mark>" in first["snippet"]
    assert len(found) == 2  # both segments that say it, nothing else


def test_phrase_and_prefix_queries(api: Api, alice, library):
    assert {h["segment_id"] for h in hits(api, alice, '"pay rise"')} == {
        s["id"] for s in library["transcript"]["segments"] if "pay rise" in s["text"]}
    assert hits(api, alice, '"rise pay"') == []
    promo = hits(api, alice, "promot*")
    assert len(promo) == 2 and all("<mark>promotion</mark>" in h["snippet"] for h in promo)
    assert hits(api, alice, "promotion -manager")[0]["snippet"].startswith("The pay rise")
    title = hits(api, alice, "career")
    assert title[0]["kind"] == "title" and title[0]["segment_id"] is None
    assert title[0]["snippet"] == "<mark>Career</mark> talk"


def test_an_edited_word_is_found_under_its_new_spelling_only(api: Api, alice, library):
    sid = library["special"]
    seg = next(s for s in library["transcript"]["segments"] if "promotion your" in s["text"])
    r = api.client.patch(f"/api/v1/sessions/{sid}/segments/{seg['id']}", headers=alice,
                         json={"text": seg["text"].replace("promotion", "secondment")})
    assert r.status_code == 200, r.text
    assert [h["segment_id"] for h in hits(api, alice, "secondment")] == [seg["id"]]
    assert seg["id"] not in {h["segment_id"] for h in hits(api, alice, "promotion")}
    assert len(hits(api, alice, "promotion")) == 1


def test_a_deleted_session_is_gone_from_results(api: Api, alice, library):
    assert hits(api, alice, "promotion")
    r = api.client.delete(f"/api/v1/sessions/{library['special']}", headers=alice)
    assert r.status_code == 204, r.text
    assert hits(api, alice, "promotion") == []
    assert hits(api, alice, "career") == []
    with api.runtime.database.transaction(write=False) as db:  # no orphaned index rows
        assert db.scalar(text("SELECT COUNT(*) FROM search_entries WHERE session_id = :s"),
                         {"s": library["special"]}) == 0
        if db.get_bind().dialect.name == "sqlite":
            orphans = ["SELECT COUNT(*) FROM search_fts WHERE rowid NOT IN "
                       "(SELECT id FROM search_entries)"]
        else:
            orphans = [f"SELECT COUNT(*) FROM {table} WHERE entry_id NOT IN "
                       "(SELECT id FROM search_entries)"
                       for table in ("search_fts", "search_fts_pairs")]
            assert db.scalar(text("SELECT COUNT(*) FROM search_fts_pairs")) > 0
        for sql in orphans:
            assert db.scalar(text(sql)) == 0


def test_other_users_sessions_never_appear(api: Api, alice, bob, library):
    bob_id = user_id_of(api, bob)
    transcribed_session(api, bob_id, "Bob's promotion", [("S1", "My promotion came through.")])
    mine = hits(api, alice, "promotion")
    assert {h["session_id"] for h in mine} == {library["special"]}
    theirs = hits(api, bob, "promotion")
    assert theirs and library["special"] not in {h["session_id"] for h in theirs}
    assert hits(api, bob, "manager") == []


HOSTILE = ['"', "*", "NEAR(", "NEAR(promotion manager)", "OR OR", "OR", "AND NOT", "x " * 5000,
           "'; DROP TABLE sessions; --", "1' OR '1'='1", "promotion:*", "a*", "-promotion",
           "{text}: promotion", "\\", "'", "%", "_", "😀", "\x00", "promotion) OR (pay"]


@pytest.mark.parametrize("q", HOSTILE)
def test_hostile_queries_give_results_or_a_4xx(api: Api, alice, library, q):
    r = find(api, alice, q)
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        body = r.json()["error"]
        assert body["code"] == "validation_error" and body["message"]
        assert "fts5" not in body["message"].lower() and "tsquery" not in body["message"]
    # the database is still usable afterwards
    assert hits(api, alice, "promotion")


def test_paging_and_filters(api: Api, alice, library):
    first = find(api, alice, "meetings", limit=20).json()
    assert len(first["hits"]) == 20 and first["has_more"] is True
    second = find(api, alice, "meetings", limit=20, offset=20).json()
    assert not {(h["session_id"], h["segment_id"]) for h in first["hits"]} & {
        (h["session_id"], h["segment_id"]) for h in second["hits"]}
    assert hits(api, alice, "promotion", **{"from": "2026-12-01"}) == []
    assert hits(api, alice, "promotion", **{"from": "2026-11-01", "to": "2026-11-02"})
    assert find(api, alice, "promotion", limit=0).status_code == 422


def test_reindex_rebuilds_from_the_store(api: Api, alice, library):
    with api.runtime.database.transaction() as db:
        db.execute(text("DELETE FROM search_entries"))
    assert hits(api, alice, "promotion") == []
    report = search.reindex(api.runtime)
    assert report.sessions == 50
    assert {h["session_id"] for h in hits(api, alice, "promotion")} == {library["special"]}
    assert hits(api, alice, "career")[0]["kind"] == "title"


def test_a_transcribed_upload_is_searchable(db_url: str, make_api: Callable[..., Api]):
    api = make_api(db_url, workers=1, fake_realtime_factor=0.05)
    user = api.create_user("carol@example.com")
    r = upload(api.client, user, SPEECH_DIR / "jfk.flac", title="Inaugural address")
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert wait_status(api.client, user, sid)["status"] == "completed"
    t = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=user).json()
    word = next(w["text"] for s in t["segments"] for w in s["words"] if len(w["text"]) > 3)
    found = hits(api, user, word.strip(".,"))
    assert any(h["session_id"] == sid and h["kind"] == "transcript" for h in found)
    assert hits(api, user, "inaugural")[0]["kind"] == "title"

    # retention deletes the audio, never the words: the moments are still found, and a
    # rebuild of the index from the store finds them again
    with api.runtime.database.transaction(write=False) as db:
        completed_at = db.get(RecordingSession, sid).completed_at
    purged = retention.purge(api.runtime, now=completed_at + timedelta(days=400))
    assert [i.session_id for i in purged.deleted] == [sid]
    assert api.client.get(f"/api/v1/sessions/{sid}/audio", headers=user).status_code == 410
    assert hits(api, user, word.strip(".,")) == found
    search.reindex(api.runtime)
    assert [h["segment_id"] for h in hits(api, user, word.strip(".,"))] == [
        h["segment_id"] for h in found]


def test_reindex_from_the_command_line(api: Api, alice, db_url: str, tmp_path: Path):
    """`tapeworks search reindex [--user e-mail]` rebuilds the index from the store."""
    bob = api.create_user("bob@example.com")
    mine = transcribed_session(api, user_id_of(api, alice), "Career talk",
                               [("S1", "The promotion came through at last.")])
    theirs = transcribed_session(api, user_id_of(api, bob), "Other talk",
                                 [("S1", "No promotion this year.")])
    with api.runtime.database.transaction() as db:
        db.execute(text("DELETE FROM search_entries"))
    assert hits(api, alice, "promotion") == [] and hits(api, bob, "promotion") == []
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWORKS_")}
    env.update({"TAPEWORKS_DATA_DIR": str(tmp_path / "data"), "TAPEWORKS_DATABASE_URL": db_url,
                "TAPEWORKS_LOG_LEVEL": "WARNING"})
    tapeworks = str(Path(sys.executable).with_name("tapeworks"))

    def reindex(*args: str) -> str:
        r = subprocess.run([tapeworks, "search", "reindex", *args], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    assert "reindexed 1 sessions" in reindex("--user", "alice@example.com")
    assert [h["session_id"] for h in hits(api, alice, "promotion")] == [mine]
    assert hits(api, bob, "promotion") == []  # only alice's were rebuilt
    assert "reindexed 2 sessions" in reindex()
    assert [h["session_id"] for h in hits(api, bob, "promotion")] == [theirs]
    assert [h["session_id"] for h in hits(api, alice, '"promotion came"')] == [mine]


def test_search_by_client(api: Api, alice, library):
    ana = api.client.post("/api/v1/clients", headers=alice, json={"name": "Ana"}).json()
    theirs = transcribed_session(api, library["uid"], "With Ana",
                                 [("S1", "Her promotion is next.")], client_id=ana["id"])
    assert {h["session_id"] for h in hits(api, alice, "promotion")} == {library["special"], theirs}
    assert {h["session_id"] for h in hits(api, alice, "promotion", client_id=ana["id"])} == {theirs}
    assert {h["session_id"] for h in hits(api, alice, '"her promotion"', client_id=ana["id"])} == {
        theirs}
    assert hits(api, alice, "promotion", client_id="nobody-of-hers") == []


def test_a_phrase_behind_many_rows_with_only_its_pairs_is_still_found(api: Api, alice, monkeypatch):
    """Rows can hold a phrase's pairs without the phrase ("pay rise, then rise review"); on
    PostgreSQL the newest rows with the pairs are tested first and, when too few pass, the
    older ones. Both dialects rank the same newest CANDIDATES matches."""
    uid = user_id_of(api, alice)
    spoken = [("S1" if n % 2 else "S2", f"Take {n}: the pay rise review is in May.")
              for n in range(3)]
    old = transcribed_session(api, uid, "Old", spoken)
    decoys = [("S1" if n % 2 else "S2", f"Take {n}: a pay rise, then a rise review.")
              for n in range(6)]
    transcribed_session(api, uid, "Decoys", decoys)
    t = api.client.get(f"/api/v1/sessions/{old}/transcript", headers=alice).json()
    segments = [s["id"] for s in t["segments"]]
    assert len(segments) == 3
    monkeypatch.setattr(search, "CANDIDATES", 2)
    monkeypatch.setattr(search, "PAIR_CANDIDATES", 3)
    found = hits(api, alice, '"pay rise review"')
    assert {h["session_id"] for h in found} == {old}
    assert {h["segment_id"] for h in found} == set(segments[1:])  # the newest two
    monkeypatch.setattr(search, "PAIR_CANDIDATES", 50)  # all of them tested at once
    assert {h["segment_id"] for h in hits(api, alice, '"pay rise review"')} == set(segments[1:])
