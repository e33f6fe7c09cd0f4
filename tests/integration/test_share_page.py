"""Share links served (issue 13): the `/s/{token}` page and its audio work signed out,
show the live transcript with speakers named and nothing else of the owner's, honour
`allow_download`, and stop at once when revoked or expired; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tapeworks.sessions import service as sessions
from tapeworks.sessions.models import RecordingSession
from tapeworks.shows.models import ShareLink
from tests.conftest import Api
from tests.helpers.api import upload_ok
from tests.helpers.paths import SPEECH_DIR
from tests.helpers.transcripts import make_transcript

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def transcribed_session(api: Api, headers: dict[str, str], title: str = "Session with Ben") -> str:
    """A session uploaded through the API whose transcript (named speakers) is in the store,
    as the transcription job leaves it."""
    sid = upload_ok(api.client, headers, SPEECH_DIR / "jfk.flac", title=title)
    with api.runtime.database.transaction() as db:
        s = db.get(RecordingSession, sid)
        t = make_transcript().model_copy(update={"version": 1})
        s.transcript_key = sessions.write_transcript(api.runtime, s.user_id, sid, t)
        s.transcript_version = 1
        s.status = "completed"
    return sid


def _share(api: Api, headers: dict[str, str], sid: str, **body: object) -> tuple[str, str]:
    r = api.client.post(f"/api/v1/sessions/{sid}/shares", headers=headers, json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"], "/s/" + r.json()["url"].rsplit("/s/", 1)[1]


def test_share_page_signed_out_shows_only_the_shared_session(api: Api, alice) -> None:
    api.runtime.clock = lambda: T0
    sid = transcribed_session(api, alice)
    other = transcribed_session(api, alice, title="Another client's session")
    note = api.client.post(f"/api/v1/sessions/{sid}/notes", headers=alice,
                           json={"start": 0.0, "end": 1.0, "text": "PRIVATE NOTE about Ben"})
    assert note.status_code == 201, note.text
    share_id, path = _share(api, alice, sid)
    api.client.cookies.clear()
    page = api.client.get(path, headers={"Accept": "text/html"})  # no login, no cookie
    assert page.status_code == 200, page.text
    html = page.text
    assert "Session with Ben" in html
    assert "Hello and welcome to the show." in html and "Thanks for having me here today." in html
    assert "Anna:" in html and "Ben:" in html  # speakers named
    assert f'src="{path}/audio"' in html and 'id="download"' in html
    assert "PRIVATE NOTE" not in html  # never the owner's notes
    assert other not in html and "Another client" not in html and "/api/v1/" not in html
    assert page.headers["x-robots-tag"].startswith("noindex")
    assert page.headers["referrer-policy"] == "no-referrer"
    audio = api.client.get(f"{path}/audio")
    assert audio.status_code == 200 and len(audio.content) == (SPEECH_DIR / "jfk.flac").stat().st_size
    part = api.client.get(f"{path}/audio", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == audio.content[:100]
    download = api.client.get(f"{path}/audio?download=true")
    assert download.headers["content-disposition"].startswith("attachment")
    # the link reaches nothing else: the owner's API still needs a login
    assert api.client.get(f"/api/v1/sessions/{other}").status_code == 401
    assert api.client.get(f"/api/v1/sessions/{sid}/transcript").status_code == 401
    # its use is shown to the owner
    listed = api.client.get(f"/api/v1/sessions/{sid}/shares", headers=alice).json()
    assert [s["id"] for s in listed] == [share_id] and listed[0]["last_used_at"] is not None

    # the live transcript: an edit by the owner shows on the next visit
    seg = make_transcript().segments[0]
    edit = api.client.post(f"/api/v1/sessions/{sid}/transcript/edits", headers=alice, json={
        "ops": [{"op": "edit_word", "segment_id": seg.id, "word_index": 0, "text": "Howdy"}]})
    assert edit.status_code == 200, edit.text
    assert "Howdy and welcome to the show." in api.client.get(path).text
    assert api.client.delete(f"/api/v1/shares/{share_id}", headers=alice).status_code == 204
    for p in (path, f"{path}/audio"):
        assert api.client.get(p).status_code == 404  # revoked: at once
    assert api.client.get(path[:-4] + "abcd").status_code == 404  # unknown token


def test_no_download_expiry_and_purged_audio(api: Api, alice) -> None:
    clock = {"now": T0}
    api.runtime.clock = lambda: clock["now"]
    sid = transcribed_session(api, alice)
    _, path = _share(api, alice, sid, allow_download=False,
                     expires_at=(T0 + timedelta(hours=1)).isoformat())
    page = api.client.get(path).text
    assert 'controlslist="nodownload"' in page and 'id="download"' not in page
    assert "works until 2026-06-01 10:00 UTC" in page
    plays = api.client.get(f"{path}/audio?download=true")  # still plays, but no file offered
    assert plays.status_code == 200 and "attachment" not in plays.headers.get(
        "content-disposition", "")
    with api.runtime.database.transaction() as db:  # retention purged the audio
        s = db.get(RecordingSession, sid)
        api.runtime.store.delete(s.source_key)
        s.source_purged_at = T0
    page = api.client.get(path)
    assert page.status_code == 200 and 'id="no-audio"' in page.text
    assert "Hello and welcome" in page.text and "<audio" not in page.text
    assert api.client.get(f"{path}/audio").status_code == 404
    clock["now"] = T0 + timedelta(hours=1)
    assert api.client.get(path).status_code == 404  # expired
    with api.runtime.database.transaction(write=False) as db:
        assert db.scalar(select(ShareLink.token_hash)) != path.rsplit("/", 1)[1]


def test_share_of_a_session_not_transcribed_yet(api: Api, alice) -> None:
    sid = upload_ok(api.client, alice, SPEECH_DIR / "jfk.flac", title="pending")
    _, path = _share(api, alice, sid)
    page = api.client.get(path)
    assert page.status_code == 200 and 'id="no-transcript"' in page.text
