"""The session lifecycle through the API, on SQLite and PostgreSQL, with real uploads,
real Huey consumers and the local object store."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from sqlalchemy import func, select

from tapeworks.queue.models import Job
from tapeworks.sessions.models import RecordingSession
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload, wait_status
from tests.helpers.paths import SPEECH_DIR

JFK = SPEECH_DIR / "jfk.flac"


def stored_keys(api: Api) -> list[str]:
    return [o.key for o in api.runtime.store.list("")]


def count(api: Api, model: Any) -> int:
    with api.runtime.database.transaction(write=False) as db:
        return int(db.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def worker_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    """An app whose in-process consumers run jobs (fake engine, 0.2 s per audio second)."""
    return make_api(db_url, workers=2, fake_realtime_factor=0.2, job_heartbeat_seconds=0.5,
                    job_lease_seconds=5)


@pytest.fixture
def user(worker_api: Api) -> dict[str, str]:
    return worker_api.create_user("user@example.com", plan="pro")


def test_upload_transcribe_and_read_back(worker_api: Api, user: dict[str, str]) -> None:
    r = upload(worker_api.client, user, JFK, title="Ask not")
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["status"] == "queued" and s["title"] == "Ask not"
    with av.open(str(JFK)) as c:  # what FFmpeg itself reads (the data README says mono 16 kHz)
        stream = c.streams.audio[0]
        assert s["source"]["channels"] == stream.channels
        assert s["source"]["sample_rate"] == stream.rate
    assert s["source"]["codec"] == "flac"
    assert abs(s["duration_seconds"] - 11.0) < 0.1
    seen: list[dict[str, Any]] = []
    final = wait_status(worker_api.client, user, s["id"], seen=seen)
    assert final["status"] == "completed", final
    assert final["progress_percentage"] == 100
    # progress: monotonic within the attempt, 100 only when completed
    progress = [x["progress_percentage"] for x in seen]
    assert progress == sorted(progress)
    assert all(x["progress_percentage"] < 100 for x in seen if x["status"] != "completed")
    assert any(0 < p < 100 for p in progress), "no intermediate progress was ever reported"

    got = worker_api.client.get(f"/api/v1/sessions/{s['id']}", headers=user).json()
    assert got["transcript_version"] == 1 and got["model"].startswith("fake:")
    t = worker_api.client.get(f"/api/v1/sessions/{s['id']}/transcript", headers=user)
    assert t.status_code == 200 and t.json()["segments"]
    # the transcript lives in the store under the deterministic key
    keys = stored_keys(worker_api)
    uid = worker_api.client.get("/api/v1/auth/me", headers=user).json()["id"]
    prefix = f"users/{uid}/sessions/{s['id']}/"
    assert f"{prefix}source.flac" in keys and f"{prefix}transcript.json" in keys
    assert f"{prefix}transcript.v1.json" in keys
    for fmt, ctype in (("txt", "text/plain"), ("srt", "application/x-subrip"), ("vtt", "text/vtt")):
        r = worker_api.client.get(f"/api/v1/sessions/{s['id']}/transcript?format={fmt}", headers=user)
        assert r.status_code == 200 and r.headers["content-type"].startswith(ctype)
        assert f".{fmt}" in r.headers["content-disposition"]


def test_audio_supports_range_requests(worker_api: Api, user: dict[str, str]) -> None:
    sid = upload(worker_api.client, user, JFK).json()["id"]
    size = JFK.stat().st_size
    full = worker_api.client.get(f"/api/v1/sessions/{sid}/audio", headers=user)
    assert full.status_code == 200 and full.content == JFK.read_bytes()
    assert full.headers["accept-ranges"] == "bytes"
    part = worker_api.client.get(f"/api/v1/sessions/{sid}/audio",
                                 headers={**user, "Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.content == JFK.read_bytes()[100:200]
    tail = worker_api.client.get(f"/api/v1/sessions/{sid}/audio", headers={**user, "Range": "bytes=-10"})
    assert tail.content == JFK.read_bytes()[-10:]
    bad = worker_api.client.get(f"/api/v1/sessions/{sid}/audio",
                                headers={**user, "Range": f"bytes={size + 5}-"})
    assert bad.status_code == 416


def test_list_filter_search_and_paging(worker_api: Api, user: dict[str, str], tmp_path: Path) -> None:
    tone = audio.write_tone(tmp_path / "tone.wav", seconds=1.0)
    ids = [upload(worker_api.client, user, tone, title=f"Interview {i}").json()["id"] for i in range(3)]
    upload(worker_api.client, user, tone, title="Podcast pilot")
    for sid in ids:
        wait_status(worker_api.client, user, sid)
    page = worker_api.client.get("/api/v1/sessions?limit=2", headers=user).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    page2 = worker_api.client.get("/api/v1/sessions?limit=2&offset=2", headers=user).json()
    assert {x["id"] for x in page["items"]}.isdisjoint({x["id"] for x in page2["items"]})
    found = worker_api.client.get("/api/v1/sessions?q=podcast", headers=user).json()
    assert [x["title"] for x in found["items"]] == ["Podcast pilot"]
    bad = worker_api.client.get("/api/v1/sessions?status=nonsense", headers=user)
    assert bad.status_code == 422 and "nonsense" in bad.json()["error"]["message"]


def test_delete_removes_row_and_artifacts(worker_api: Api, user: dict[str, str]) -> None:
    sid = upload(worker_api.client, user, JFK).json()["id"]
    wait_status(worker_api.client, user, sid)
    assert any(sid in k for k in stored_keys(worker_api))
    assert worker_api.client.delete(f"/api/v1/sessions/{sid}", headers=user).status_code == 204
    assert worker_api.client.get(f"/api/v1/sessions/{sid}", headers=user).status_code == 404
    assert not any(sid in k for k in stored_keys(worker_api))
    assert count(worker_api, Job) == 0


def test_cancel_then_retry(db_url: str, make_api: Callable[..., Api]) -> None:
    api = make_api(db_url, workers=1, fake_realtime_factor=1.0, job_heartbeat_seconds=0.3)
    user = api.create_user("u@example.com", plan="pro")
    sid = upload(api.client, user, JFK).json()["id"]
    wait_status(api.client, user, sid, want=("processing",))
    r = api.client.post(f"/api/v1/sessions/{sid}/cancel", headers=user)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    time.sleep(1.0)
    assert api.client.get(f"/api/v1/sessions/{sid}/status", headers=user).json()["status"] == "cancelled"
    assert api.client.post(f"/api/v1/sessions/{sid}/cancel", headers=user).status_code == 409
    api.runtime.settings.fake_realtime_factor = 0.0
    r = api.client.post(f"/api/v1/sessions/{sid}/retry", headers=user)
    assert r.status_code == 200 and r.json()["status"] == "queued"
    assert wait_status(api.client, user, sid)["status"] == "completed"
    assert api.client.post(f"/api/v1/sessions/{sid}/retry", headers=user).status_code == 409


def test_idempotent_upload_does_not_duplicate(worker_api: Api, user: dict[str, str]) -> None:
    headers = {**user, "Idempotency-Key": "upload-123"}
    first = upload(worker_api.client, headers, JFK)
    again = upload(worker_api.client, headers, JFK)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert count(worker_api, RecordingSession) == 1
    assert len([k for k in stored_keys(worker_api) if k.endswith("source.flac")]) == 1


# --- bad input: a clear 4xx, no row and no stored object left behind ---------------------------
BAD_FILES: dict[str, tuple[Callable[[Path], Path], int, str]] = {
    "empty": (audio.write_empty, 415, "empty"),
    "text renamed .mp3": (audio.write_text_as_mp3, 415, "not an audio file"),
    "truncated mp3": (audio.write_header_only_mp3, 415, ""),
    "video without audio": (audio.write_video_only, 415, "no audio stream"),
    "random bytes": (audio.write_random_bytes, 415, ""),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_uploads_are_refused_cleanly(api: Api, alice: dict[str, str], tmp_path: Path,
                                         case: str) -> None:
    make, status, words = BAD_FILES[case]
    path = make(tmp_path / "bad.mp3")
    r = upload(api.client, alice, path)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_audio" and words in err["message"]
    assert count(api, RecordingSession) == 0 and stored_keys(api) == []
    assert not list((api.runtime.settings.scratch_dir / "uploads").glob("*"))


def test_oversize_is_refused_before_it_is_fully_read(db_url: str, live_server: Callable[..., Any]) -> None:
    """A real server and a raw socket: the 413 arrives while the client is still sending."""
    import select as io_select
    import socket

    srv = live_server(db_url, max_upload_bytes=200_000)
    with srv.runtime.database.transaction() as db:
        from tapeworks.users import service as users

        users.create_user(db, email="big@example.com", password="password123", plan="pro")
    import httpx

    token = httpx.post(f"{srv.url}/api/v1/auth/login",
                       json={"email": "big@example.com", "password": "password123"}).json()["access_token"]
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    head = (f"POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n")
    sock.sendall(head.encode())

    def chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    sock.sendall(chunk(b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n\r\n'))
    sent = 0
    response = b""
    try:
        for _ in range(1000):  # 64 MB if the server read it all
            readable, _, _ = io_select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(chunk(b"\0" * 65536))
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.settimeout(10)
    try:
        while b"\r\n\r\n" not in response:
            data = sock.recv(65536)
            if not data:
                break
            response += data
        response += sock.recv(65536)
    except (ConnectionResetError, TimeoutError):
        pass
    sock.close()
    assert response.startswith(b"HTTP/1.1 413"), response[:200]
    assert b"200000" in response
    assert sent < 8_000_000, f"the server kept reading after the limit ({sent} bytes sent)"
    with srv.runtime.database.transaction(write=False) as db:
        assert db.scalar(select(func.count()).select_from(RecordingSession)) == 0
    assert list(srv.runtime.store.list("")) == []
    assert not list((srv.runtime.settings.scratch_dir / "uploads").glob("*"))


def test_declared_oversize_is_refused_from_the_header(db_url: str, make_api: Callable[..., Api]) -> None:
    api = make_api(db_url, max_upload_bytes=200_000)
    headers = api.create_user("big@example.com", plan="pro")
    r = api.client.post("/api/v1/sessions", headers={**headers,
                        "Content-Type": "multipart/form-data; boundary=XyZ",
                        "Content-Length": str(10**9)}, content=b"--XyZ--\r\n")
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"


@pytest.mark.parametrize("name", ["../../etc/passwd.flac", "..\\..\\win.flac", "Ünïcødé 🎙 talk.flac",
                                  "a" * 400 + ".flac", "\x00evil\n.flac"])
def test_odd_file_names_are_stored_safely(api: Api, alice: dict[str, str], name: str) -> None:
    r = upload(api.client, alice, JFK, name=name, title="")
    assert r.status_code == 201, r.text
    src = r.json()["source"]
    assert "/" not in src["filename"] and "\\" not in src["filename"] and "\x00" not in src["filename"]
    assert len(src["filename"]) <= 200
    for key in stored_keys(api):
        assert ".." not in key and key.startswith("users/") and key.endswith("source.flac")


def test_missing_file_field_and_wrong_content_type(api: Api, alice: dict[str, str]) -> None:
    r = api.client.post("/api/v1/sessions", headers=alice, data={"title": "x"},
                        files={"other": ("a.txt", b"abc")})
    assert r.status_code == 400 and "file" in r.json()["error"]["message"]
    r = api.client.post("/api/v1/sessions", headers=alice, json={"title": "x"})
    assert r.status_code == 400 and "multipart" in r.json()["error"]["message"]


def test_bad_options_are_refused(api: Api, alice: dict[str, str]) -> None:
    r = upload(api.client, alice, JFK, speakers="eleven")
    assert r.status_code == 422 and "speakers" in r.json()["error"]["message"]
    assert count(api, RecordingSession) == 0 and stored_keys(api) == []


def test_other_users_sessions_are_404_everywhere(api: Api, alice: dict[str, str], bob: dict[str, str]) -> None:
    sid = upload(api.client, alice, JFK).json()["id"]
    c = api.client
    for method, path in (("get", ""), ("get", "/status"), ("get", "/audio"), ("get", "/transcript"),
                         ("delete", ""), ("post", "/retry"), ("post", "/cancel")):
        r = getattr(c, method)(f"/api/v1/sessions/{sid}{path}", headers=bob)
        assert r.status_code == 404, (method, path, r.status_code)
        assert r.json()["error"]["code"] == "not_found"
    r = c.patch(f"/api/v1/sessions/{sid}/speakers", headers=bob,
                json={"speakers": [{"id": "S1", "name": "x"}]})
    assert r.status_code == 404
    assert c.get("/api/v1/sessions", headers=bob).json()["total"] == 0
    assert c.get("/api/v1/sessions/doesnotexist", headers=alice).status_code == 404
    assert c.get(f"/api/v1/sessions/{sid}", headers=alice).status_code == 200


# --- direct-to-bucket uploads ----------------------------------------------------------------
def test_direct_upload_to_the_bucket(fresh_db_url: Callable[[str], str], make_api: Callable[..., Api],
                                     s3_server: str, tmp_path: Path) -> None:
    import os
    import uuid

    import boto3
    import httpx

    bucket = f"tw-{uuid.uuid4().hex[:8]}"
    os.environ.update({"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    api = make_api(fresh_db_url("postgresql"), workers=2,
                   storage_url=f"s3://{bucket}/tw?endpoint={s3_server}")
    user = api.create_user("direct@example.com", plan="pro")
    r = api.client.post("/api/v1/sessions/uploads", headers=user,
                        json={"filename": "jfk.flac", "size_bytes": JFK.stat().st_size})
    assert r.status_code == 201, r.text
    ticket = r.json()
    put = httpx.put(ticket["url"], content=JFK.read_bytes(), headers=ticket["headers"])
    assert put.status_code == 200, put.text
    done = api.client.post(ticket["complete_url"], headers=user, json={
        "filename": "jfk.flac", "title": "Direct", "vocabulary": "Kennedy, Boston"})
    assert done.status_code == 201, done.text
    assert done.json()["vocabulary"] == ["Kennedy", "Boston"]  # the vocabulary applies here too
    sid = done.json()["id"]
    assert wait_status(api.client, user, sid)["status"] == "completed"
    assert api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=user).json()[
        "vocabulary"] == ["Kennedy", "Boston"]
    assert api.client.get(f"/api/v1/sessions/{sid}/audio", headers=user).content == JFK.read_bytes()
    assert not [o.key for o in api.runtime.store.list("") if "/uploads/" in o.key]
    # completing twice does not duplicate; a bad file is refused and removed
    again = api.client.post(ticket["complete_url"], headers=user, json={})
    assert again.status_code == 404
    bad = api.client.post("/api/v1/sessions/uploads", headers=user,
                          json={"filename": "x.mp3", "size_bytes": 100}).json()
    httpx.put(bad["url"], content=b"this is not audio" * 10, headers=bad["headers"])
    refused = api.client.post(bad["complete_url"], headers=user, json={"filename": "x.mp3"})
    assert refused.status_code == 415
    assert not [o.key for o in api.runtime.store.list("") if "/uploads/" in o.key]
    other = api.create_user("other@example.com", plan="pro")
    assert api.client.post(ticket["complete_url"], headers=other, json={}).status_code == 404


def test_direct_upload_needs_a_bucket(api: Api, alice: dict[str, str]) -> None:
    r = api.client.post("/api/v1/sessions/uploads", headers=alice,
                        json={"filename": "a.flac", "size_bytes": 1000})
    assert r.status_code == 409 and "S3" in r.json()["error"]["message"]
