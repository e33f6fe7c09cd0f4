"""No server paths, storage keys, library names or Python exceptions in what users read
(issue 12): refused uploads, missing files, failed jobs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tapeworks.sessions.models import RecordingSession
from tapeworks.storage import keys
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload, upload_ok, wait_status

LIBRARY_NAMES = re.compile(r"ffmpeg|pyav|\bav\.|sqlalchemy|psycopg|sqlite3|pydantic|boto|"
                           r"Traceback|Error:|Exception", re.IGNORECASE)


def assert_clean(text: str, api: Api) -> None:
    data_dir = str(api.runtime.settings.data_dir)
    assert data_dir not in text, text
    assert "/scratch/" not in text and ".part" not in text, text
    assert "users/" not in text, text  # no storage key
    assert not LIBRARY_NAMES.search(text), text


@pytest.mark.parametrize("writer", [audio.write_text_as_mp3, audio.write_random_bytes,
                                    audio.write_video_only, audio.write_truncated_mp3,
                                    audio.write_corrupt_middle])
def test_refused_uploads_name_the_problem_not_the_server(api: Api, tmp_path: Path,
                                                         writer: Callable[[Path], Path]) -> None:
    headers = api.create_user("u@example.com")
    bad = writer(tmp_path / "upload.mp3")
    r = upload(api.client, headers, bad, name="talk.mp3")
    assert r.status_code == 415, r.text
    assert "talk.mp3" in r.json()["error"]["message"]
    assert_clean(r.text, api)


def test_a_missing_stored_file_is_an_error_without_its_key(
    fresh_db_url: Callable[[str], str], make_api: Callable[..., Api], tmp_path: Path,
) -> None:
    api = make_api(fresh_db_url("sqlite"), workers=1)
    headers = api.create_user("m@example.com")
    sid = upload_ok(api.client, headers, audio.write_spaced_bursts(tmp_path / "b.wav", n=2))
    wait_status(api.client, headers, sid, fail=True)
    with api.runtime.database.transaction(write=False) as db:
        session = db.get(RecordingSession, sid)
        assert session is not None and session.source_key and session.transcript_key
        source = session.source_key
        transcript = keys.session_transcript(session.user_id, sid, session.transcript_version)
    api.runtime.store.delete(source)
    api.runtime.store.delete(transcript)
    # the service's own check (the source), and a key the store itself reports missing
    for path, words in ((f"/api/v1/sessions/{sid}/audio", "source audio"),
                        (f"/api/v1/sessions/{sid}/transcript", "stored file")):
        r = api.client.get(path, headers=headers)
        assert r.status_code == 500 and r.json()["error"]["code"] == "artifact_missing", r.text
        assert words in r.json()["error"]["message"]
        assert source not in r.text and transcript not in r.text
        assert_clean(r.text, api)


def test_a_job_that_crashes_never_shows_the_exception(
    fresh_db_url: Callable[[str], str], make_api: Callable[..., Api], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capfd: Any,
) -> None:
    secret = "/srv/secret/place/model.bin"

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f"boom in {secret}")

    monkeypatch.setattr("tapeworks.sessions.tasks.transcribe", crash)
    api = make_api(fresh_db_url("sqlite"), workers=1, job_max_attempts=2)
    headers = api.create_user("j@example.com")
    sid = upload_ok(api.client, headers, audio.write_tone(tmp_path / "t.wav", seconds=1.0,
                                                          fmt="wav"))
    seen: list[dict[str, Any]] = []
    st = wait_status(api.client, headers, sid, ("failed",), timeout=60, seen=seen, fail=True)
    assert st["error_stage"] and st["error_stage"] in st["error"]
    assert "went wrong on the server" in st["error"] and "job " in st["error"]
    for status in seen:  # the retry in between said nothing of it either
        for field in ("message", "error"):
            text = str(status.get(field) or "")
            assert "RuntimeError" not in text and secret not in text and "boom" not in text
    session = api.client.get(f"/api/v1/sessions/{sid}", headers=headers)
    assert "RuntimeError" not in session.text and secret not in session.text
    page_cookie = api.client.get(f"/sessions/{sid}", headers=headers)
    assert "RuntimeError" not in page_cookie.text
    # the operator's log has the real cause
    err = capfd.readouterr().err
    assert any("job.unexpected_error" in line and secret in line for line in err.splitlines())
