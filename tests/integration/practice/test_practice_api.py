"""Clients, notes and highlights, and the coaching log, through the API on both dialects."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from tests.conftest import Api
from tests.helpers.practice import transcribed_session, user_id_of

SPOKEN = [("S1", "Welcome back, how was the month?"),
          ("S2", "Busy. Καλημέρα to the Athens team, привет to Kyiv, 你好 to Taipei."),
          ("S1", "Let us look at the promotion you mentioned.")]


@pytest.fixture
def pro(api: Api) -> dict[str, str]:
    return api.create_user("pro@example.com", plan="pro")


def make_client(api: Api, headers: dict[str, str], name: str, **kw: str) -> dict:
    r = api.client.post("/api/v1/clients", headers=headers, json={"name": name, **kw})
    assert r.status_code == 201, r.text
    return r.json()


# ---------------------------------------------------------------- clients


def test_client_crud_and_delete_keeps_sessions_unlinked(api: Api, alice, bob):
    c = make_client(api, alice, "Zoë Ünal", email="zoe@example.com", organisation="Acme")
    assert c["name"] == "Zoë Ünal" and c["organisation"] == "Acme"
    make_client(api, alice, "Ben")
    listed = api.client.get("/api/v1/clients", headers=alice).json()
    assert [x["name"] for x in listed["items"]] == ["Ben", "Zoë Ünal"] and listed["total"] == 2
    r = api.client.patch(f"/api/v1/clients/{c['id']}", headers=alice, json={"notes": "CEO"})
    assert r.json()["notes"] == "CEO" and r.json()["email"] == "zoe@example.com"
    bad = api.client.post("/api/v1/clients", headers=alice, json={"name": "x", "email": "nope"})
    assert bad.status_code == 422 and "e-mail" in bad.json()["error"]["message"]
    assert api.client.get(f"/api/v1/clients/{c['id']}", headers=bob).status_code == 404
    assert api.client.delete(f"/api/v1/clients/{c['id']}", headers=bob).status_code == 404

    uid = user_id_of(api, alice)
    sid = transcribed_session(api, uid, "With Zoë", SPOKEN, client_id=c["id"])
    other = transcribed_session(api, uid, "No client", SPOKEN)
    mine = api.client.get("/api/v1/sessions", headers=alice, params={"client_id": c["id"]}).json()
    assert [s["id"] for s in mine["items"]] == [sid] and mine["items"][0]["client_id"] == c["id"]
    assert api.client.delete(f"/api/v1/clients/{c['id']}", headers=alice).status_code == 204
    after = api.client.get(f"/api/v1/sessions/{sid}", headers=alice).json()
    assert after["client_id"] is None and after["title"] == "With Zoë"
    assert api.client.get(f"/api/v1/sessions/{other}", headers=alice).status_code == 200


# ---------------------------------------------------------------- notes


def test_notes_crud_and_validation(api: Api, alice, bob):
    sid = transcribed_session(api, user_id_of(api, alice), "Notes", SPOKEN)
    base = f"/api/v1/sessions/{sid}/notes"
    whole = api.client.post(base, headers=alice, json={"text": "Good session overall"})
    assert whole.status_code == 201 and whole.json()["start"] is None
    span = api.client.post(base, headers=alice,
                           json={"text": "promotion!", "start": 3.9, "end": 5.2, "colour": "#FFCC00"})
    assert span.status_code == 201, span.text
    assert span.json()["colour"] == "#ffcc00"
    for body, message in [({"text": "x", "start": 5, "end": 2}, "start <= end"),
                          ({"text": "x", "end": 2}, "needs a start"),
                          ({"text": "x", "start": 1, "end": 2, "colour": "red"}, "#ffcc00"),
                          ({"text": "x", "start": 0, "end": 9999}, "after the end"),
                          ({"text": ""}, "needs some text")]:
        r = api.client.post(base, headers=alice, json=body)
        assert r.status_code == 422 and message in r.json()["error"]["message"], (body, r.text)
    assert api.client.get(base, headers=bob).status_code == 404
    assert api.client.post(base, headers=bob, json={"text": "hi"}).status_code == 404
    nid = span.json()["id"]
    r = api.client.patch(f"{base}/{nid}", headers=alice, json={"text": "the promotion talk"})
    assert r.json()["text"] == "the promotion talk" and r.json()["start"] == 3.9
    listed = api.client.get(base, headers=alice).json()
    assert [n["text"] for n in listed] == ["Good session overall", "the promotion talk"]
    found = api.client.get("/api/v1/search", headers=alice, params={"q": "talk"}).json()["hits"]
    assert found[0]["kind"] == "note" and found[0]["start"] == 3.9
    assert api.client.delete(f"{base}/{nid}", headers=alice).status_code == 204
    assert api.client.get("/api/v1/search", headers=alice, params={"q": "talk"}).json()["hits"] == []
    assert len(api.client.get(base, headers=alice).json()) == 1


def test_notes_keep_their_spans_through_edits_and_are_in_the_exports(api: Api, pro):
    sid = transcribed_session(api, user_id_of(api, pro), "Séance 山田", SPOKEN)
    t = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=pro).json()
    seg = t["segments"][1]
    note = api.client.post(f"/api/v1/sessions/{sid}/notes", headers=pro, json={
        "text": "Team greetings — Ελλάδα, Україна, 台灣", "start": seg["start"],
        "end": seg["end"], "colour": "#88ccff"}).json()
    api.client.post(f"/api/v1/sessions/{sid}/notes", headers=pro, json={"text": "Résumé: 很好"})
    # text edit, split-free speaker change and rename: the span stays in recording time
    r = api.client.patch(f"/api/v1/sessions/{sid}/segments/{seg['id']}", headers=pro,
                         json={"text": seg["text"].replace("Busy.", "Very busy indeed."),
                               "speaker": "S1"})
    assert r.status_code == 200, r.text
    r = api.client.patch(f"/api/v1/sessions/{sid}/speakers", headers=pro,
                         json={"speakers": [{"id": "S1", "name": "Coach Zoë"}]})
    assert r.status_code == 200, r.text
    after = api.client.get(f"/api/v1/sessions/{sid}/notes/{note['id']}", headers=pro).json()
    assert (after["start"], after["end"]) == (note["start"], note["end"])

    doc = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=pro).json()
    assert [n["text"] for n in doc["notes"]] == ["Résumé: 很好", note["text"]]
    pdf = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=pro,
                         params={"format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages))
    for expected in ["Very busy indeed.", "Καλημέρα", "привет", "你好", "Coach Zoë", note["text"],
                     "Résumé: 很好", "promotion"]:
        assert re.sub(r"\s+", "", expected) in text, expected
    docx = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=pro,
                          params={"format": "docx"})
    from docx import Document

    comments = [c.text for c in Document(io.BytesIO(docx.content)).comments]
    assert any(note["text"] in c for c in comments)
    xlsx = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=pro,
                          params={"format": "xlsx"})
    ws = load_workbook(io.BytesIO(xlsx.content))["Transcript"]
    assert ws.max_row == len(doc["segments"]) + 1


def test_pdf_and_xlsx_follow_the_plan_like_docx(api: Api, alice):
    sid = transcribed_session(api, user_id_of(api, alice), "Free plan", SPOKEN)
    for fmt in ("pdf", "xlsx", "docx"):
        r = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=alice,
                           params={"format": fmt})
        assert r.status_code == 403 and r.json()["error"]["code"] == "quota_exceeded", r.text


# ---------------------------------------------------------------- coaching log


def test_coaching_log_totals_csv_and_xlsx(api: Api, alice, bob):
    uid = user_id_of(api, alice)
    ana = make_client(api, alice, "Ana, \"A\" Client")
    ben = make_client(api, alice, "Ben")
    transcribed_session(api, uid, "Ana 1", SPOKEN, client_id=ana["id"],
                        session_date=date(2026, 3, 2), billable_minutes=60.0)
    transcribed_session(api, uid, "Ana 2", SPOKEN, client_id=ana["id"],
                        session_date=date(2026, 3, 9), billable_minutes=45.0, paid=False)
    transcribed_session(api, uid, "Ben 1", SPOKEN, client_id=ben["id"],
                        session_date=date(2026, 3, 31), billable_minutes=30.0,
                        session_type="team")
    transcribed_session(api, uid, "April", SPOKEN, session_date=date(2026, 4, 1),
                        billable_minutes=90.0)
    transcribed_session(api, user_id_of(api, bob), "Bob's", SPOKEN,
                        session_date=date(2026, 3, 5), billable_minutes=600.0)
    r = api.client.post("/api/v1/coaching-log/entries", headers=alice, json={
        "session_date": "2026-03-31", "minutes": 15, "title": "Phone call",
        "session_type": "individual", "paid": False, "client_id": ben["id"]})
    assert r.status_code == 201, r.text
    bad = api.client.post("/api/v1/coaching-log/entries", headers=alice, json={
        "session_date": "2026-03-31", "minutes": 15, "session_type": "couple"})
    assert bad.status_code == 422 and "session type" in bad.json()["error"]["message"]

    log = api.client.get("/api/v1/coaching-log", headers=alice,
                         params={"from": "2026-03-01", "to": "2026-03-31"}).json()
    assert [e["title"] for e in log["entries"]] == ["Ana 1", "Ana 2", "Ben 1", "Phone call"]
    totals = {t["client"]: t for t in log["by_client"]}
    assert totals["Ana, \"A\" Client"]["hours"] == 1.75
    assert totals["Ana, \"A\" Client"]["paid_hours"] == 1.0
    assert totals["Ana, \"A\" Client"]["pro_bono_hours"] == 0.75
    assert totals["Ben"]["hours"] == 0.75 and totals["Ben"]["sessions"] == 2
    assert log["overall"]["hours"] == 2.5 and log["overall"]["sessions"] == 4
    only_ben = api.client.get("/api/v1/coaching-log", headers=alice,
                              params={"client_id": ben["id"]}).json()
    assert only_ben["overall"]["hours"] == 0.75
    assert api.client.get("/api/v1/coaching-log", headers=bob,
                          params={"client_id": ben["id"]}).status_code == 404

    raw = api.client.get("/api/v1/coaching-log", headers=alice,
                         params={"from": "2026-03-01", "to": "2026-03-31", "format": "csv"})
    assert raw.headers["content-type"].startswith("text/csv")
    assert raw.text.count("\r\n") == raw.text.count("\n")  # CRLF line ends
    rows = list(csv.reader(io.StringIO(raw.text, newline="")))
    assert rows[1][2] == 'Ana, "A" Client' and rows[-1][0] == "total" and rows[-1][7] == "2.5"
    xlsx = api.client.get("/api/v1/coaching-log", headers=alice,
                          params={"from": "2026-03-01", "to": "2026-03-31", "format": "xlsx"})
    wb = load_workbook(io.BytesIO(xlsx.content))
    first = next(wb["Log"].iter_rows(min_row=2))
    assert first[0].is_date and first[0].value == datetime(2026, 3, 2)
    assert first[5].value == 60 and first[5].data_type == "n"
    total = next(r for r in wb["Totals"].iter_rows(values_only=True) if r[0] == "Total")
    assert total[2] == pytest.approx(2.5)


def test_manual_entries_are_edited_and_deleted_and_count_in_the_log(api: Api, alice, bob):
    ana = make_client(api, alice, "Ana")
    r = api.client.post("/api/v1/coaching-log/entries", headers=alice, json={
        "session_date": "2026-05-04", "minutes": 30, "title": "Phone call"})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    r = api.client.patch(f"/api/v1/coaching-log/entries/{eid}", headers=alice, json={
        "minutes": 50, "paid": False, "client_id": ana["id"], "session_type": "group"})
    assert r.status_code == 200, r.text
    got = api.client.get(f"/api/v1/coaching-log/entries/{eid}", headers=alice).json()
    assert (got["minutes"], got["paid"], got["client_id"], got["session_type"], got["title"]) == \
        (50.0, False, ana["id"], "group", "Phone call")
    log = api.client.get("/api/v1/coaching-log", headers=alice).json()
    assert log["by_client"][0]["client"] == "Ana" and log["by_client"][0]["pro_bono_hours"] == 0.83
    # refused in words, nothing changed
    for body, word in (({"minutes": -1}, "minutes"), ({"session_type": "couple"}, "session type"),
                       ({"minutes": None}, "minutes"), ({"colour": "red"}, "colour"),
                       ({"client_id": "nope"}, "client")):
        bad = api.client.patch(f"/api/v1/coaching-log/entries/{eid}", headers=alice, json=body)
        assert 400 <= bad.status_code < 500 and word in bad.text, (body, bad.text)
    assert api.client.get(f"/api/v1/coaching-log/entries/{eid}", headers=alice).json() == got
    # another user's entry does not exist for bob
    assert api.client.patch(f"/api/v1/coaching-log/entries/{eid}", headers=bob,
                            json={"minutes": 1}).status_code == 404
    assert api.client.delete(f"/api/v1/coaching-log/entries/{eid}", headers=bob).status_code == 404
    assert api.client.delete(f"/api/v1/coaching-log/entries/{eid}", headers=alice).status_code == 204
    assert api.client.get("/api/v1/coaching-log", headers=alice).json()["overall"]["sessions"] == 0


def test_time_zone_decides_the_default_session_date(api: Api, alice):
    r = api.client.patch("/api/v1/auth/me", headers=alice, json={"time_zone": "Pacific/Kiritimati"})
    assert r.status_code == 200 and r.json()["time_zone"] == "Pacific/Kiritimati"
    bad = api.client.patch("/api/v1/auth/me", headers=alice, json={"time_zone": "Mars/Olympus"})
    assert bad.status_code == 422 and "time zone" in bad.json()["error"]["message"]
    from tapeworks.audio.probe import AudioInfo
    from tapeworks.sessions.service import default_session_date

    uid = user_id_of(api, alice)
    info = AudioInfo(1.0, "flac", 1, 16000, "flac",
                     recorded_at=datetime.fromisoformat("2026-05-01T20:30:00+00:00"))
    with api.runtime.database.transaction(write=False) as db:
        assert default_session_date(db, uid, info) == date(2026, 5, 2)  # UTC+14
        info_without = AudioInfo(1.0, "flac", 1, 16000, "flac")
        assert default_session_date(db, uid, info_without) >= date.today()


def test_upload_takes_the_client_and_the_recordings_own_date(api: Api, alice, tmp_path):
    import av
    import numpy as np

    c = make_client(api, alice, "Dana")
    path = tmp_path / "dated.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        out.metadata["creation_time"] = "2025-02-03T10:00:00Z"
        stream = out.add_stream("aac", rate=16000, layout="mono")
        t = np.arange(16000 * 2) / 16000
        frame = av.AudioFrame.from_ndarray((0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
                                           .reshape(1, -1), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with path.open("rb") as f:
        r = api.client.post("/api/v1/sessions", headers=alice,
                            files={"file": ("dated.m4a", f, "audio/mp4")},
                            data={"title": "Dated", "client_id": c["id"]})
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["client_id"] == c["id"] and s["session_date"] == "2025-02-03"
    assert s["session_type"] == "individual" and s["paid"] is True
    assert s["log_minutes"] == pytest.approx(s["duration_seconds"] / 60, abs=0.01)
    with path.open("rb") as f:
        r = api.client.post("/api/v1/sessions", headers=alice,
                            files={"file": ("dated.m4a", f, "audio/mp4")},
                            data={"client_id": "nope"})
    assert r.status_code == 404
    assert json.loads(r.text)["error"]["code"] == "not_found"


def test_patch_session_sets_log_fields_and_the_title_is_searched(api: Api, alice, bob):
    sid = transcribed_session(api, user_id_of(api, alice), "Old name", SPOKEN)
    c = make_client(api, alice, "Eve")
    r = api.client.patch(f"/api/v1/sessions/{sid}", headers=alice, json={
        "title": "Quarterly review", "client_id": c["id"], "session_date": "2026-02-14",
        "session_type": "group", "paid": False, "billable_minutes": 50})
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["title"], s["client_id"], s["session_date"], s["session_type"], s["paid"],
            s["log_minutes"]) == ("Quarterly review", c["id"], "2026-02-14", "group", False, 50)
    found = api.client.get("/api/v1/search", headers=alice, params={"q": "quarterly"}).json()
    assert found["hits"][0]["kind"] == "title"
    old = api.client.get("/api/v1/search", headers=alice, params={"q": "old name"}).json()
    assert old["hits"] == []
    assert api.client.patch(f"/api/v1/sessions/{sid}", headers=alice,
                            json={"session_type": "couple"}).status_code == 422
    bob_client = make_client(api, bob, "Bob's client")
    assert api.client.patch(f"/api/v1/sessions/{sid}", headers=alice,
                            json={"client_id": bob_client["id"]}).status_code == 404
    cleared = api.client.patch(f"/api/v1/sessions/{sid}", headers=alice,
                               json={"client_id": None, "billable_minutes": None}).json()
    assert cleared["client_id"] is None and cleared["billable_minutes"] is None
