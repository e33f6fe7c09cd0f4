"""Titles and names lose their control characters on the way in, and every download's
`Content-Disposition` has an ASCII fallback and the exact name in `filename*` (issue 12).

The finding: a title `line1\\r\\nX-Injected: yes` made uvicorn close the connection with an
empty response every time the episode's audio was asked for. The live-server tests go
through real uvicorn, where that happened.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import update

from tapeworks.episodes.models import Episode
from tapeworks.http.inputs import clean_text
from tapeworks.http.ranges import content_disposition
from tapeworks.sessions.models import RecordingSession
from tests.conftest import Api, LiveServer
from tests.helpers import audio
from tests.helpers.api import add_user, login, upload, upload_ok, wait_status

INJECTED = "line1\r\nX-Injected: yes"


def _filename_star(header: str) -> str:
    value = header.split("filename*=", 1)[1]
    assert value.startswith("UTF-8''")
    return unquote(value[len("UTF-8''"):])


@pytest.mark.parametrize("name", [INJECTED, "tab\there", "nul\x00byte", "bell\x07",
                                  "rtl\u202eevil.mp3", "Émission spéciale — n°1", "日本語の話",
                                  'quote" and \\ backslash', "percent%41", "", "..."])
def test_content_disposition_is_one_safe_header_line(name: str) -> None:
    for inline in (True, False):
        header = content_disposition(name, inline=inline)
        assert header.startswith("inline; " if inline else "attachment; ")
        assert header.isascii() and header.isprintable(), repr(header)
        fallback = header.split('filename="', 1)[1].split('"', 1)[0]
        assert fallback and '"' not in fallback and "\\" not in fallback and "%" not in fallback
        # the exact (cleaned) name survives in filename*
        assert _filename_star(header) == (clean_text(name, 200) or "download")


def test_clean_text_strips_controls_and_bidi_overrides() -> None:
    assert clean_text(INJECTED) == "line1 X-Injected: yes"
    assert clean_text("  a\u202eb\u2066c\u2028d\x00e\x1b[31m  ") == "abc de[31m"
    assert clean_text("family 👨\u200d👩\u200d👧") == "family 👨\u200d👩\u200d👧"  # ZWJ kept
    assert clean_text("x" * 400, 300) == "x" * 300


def test_titles_and_names_lose_control_characters_on_input(api: Api, tmp_path: Path) -> None:
    headers = api.create_user("t@example.com", plan="pro")
    wav = audio.write_tone(tmp_path / "t.wav", seconds=1.0, fmt="wav")
    r = upload(api.client, headers, wav, title=INJECTED)
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "line1 X-Injected: yes"

    r = api.client.post("/api/v1/auth/tokens", headers=headers, json={"name": "ci\r\nbot"})
    assert r.status_code == 201 and r.json()["name"] == "ci bot"
    with open(wav, "rb") as fh:
        r = api.client.post("/api/v1/assets", headers=headers, data={"name": "intro\x00\n1"},
                            files={"file": ("i.wav", fh, "audio/wav")})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "intro 1"
    r = api.client.post("/api/v1/templates", headers=headers, json={"name": "\u202eshow\r\n"})
    assert r.status_code == 201 and r.json()["name"] == "show"
    # a name of nothing but control characters is empty, and empty names are refused
    r = api.client.post("/api/v1/templates", headers=headers, json={"name": "\r\n\t"})
    assert r.status_code == 422 and "name" in r.json()["error"]["message"]


@pytest.fixture
def served(live_server: Callable[..., LiveServer], fresh_db_url: Callable[[str], str]
           ) -> LiveServer:
    return live_server(fresh_db_url("sqlite"), workers=2)


def test_a_stored_title_with_a_line_break_still_downloads(served: LiveServer,
                                                          tmp_path: Path) -> None:
    """Rows written before titles were cleaned: the header is still one safe line, through
    real uvicorn (which closed the connection on the raw line break)."""
    add_user(served.runtime, "d@example.com", plan="pro")
    headers = login(served.client, "d@example.com")
    sid = upload_ok(served.client, headers, audio.write_spaced_bursts(tmp_path / "b.wav", n=2),
                    speakers="1")
    wait_status(served.client, headers, sid, fail=True)
    r = served.client.post(f"/api/v1/sessions/{sid}/episodes", headers=headers)
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    wait_status(served.client, headers, eid, what="episodes", timeout=120, fail=True)
    with served.runtime.database.transaction() as db:
        db.execute(update(RecordingSession).where(RecordingSession.id == sid)
                   .values(title=INJECTED))
        db.execute(update(Episode).where(Episode.id == eid).values(title=INJECTED))

    for path in (f"/api/v1/episodes/{eid}/audio?download=true",
                 f"/api/v1/episodes/{eid}/transcript?format=srt&download=true",
                 f"/api/v1/sessions/{sid}/transcript?format=txt&download=true"):
        with httpx.Client(base_url=served.url, timeout=30) as fresh:  # a new connection each
            resp = fresh.get(path, headers=headers)
        assert resp.status_code == 200, (path, resp.status_code)
        assert "x-injected" not in resp.headers, path
        disposition = resp.headers["content-disposition"]
        assert disposition.startswith("attachment; filename=\"line1") and "X-Injected" in disposition
        assert disposition.isprintable(), disposition
        assert resp.content
    audio_name = httpx.get(f"{served.url}/api/v1/episodes/{eid}/audio", headers=headers
                           ).headers["content-disposition"]
    assert _filename_star(audio_name) == "line1 X-Injected: yes.mp3"
