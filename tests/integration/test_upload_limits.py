"""Over-plan files refused from the header or a bounded decode, assets under the
per-recording limit and in storage, transcript versions in storage (issue 12)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tapeworks.audio.probe import probe_audio
from tapeworks.queue import jobs
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload
from tests.helpers.paths import SPEECH_DIR

HOUR = 3600.0
JFK = SPEECH_DIR / "jfk.flac"


@pytest.fixture(scope="module")
def hundred_hours(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("long")
    return {
        "declared": audio.write_silent_flac(d / "declared.flac", 100 * HOUR),
        "undeclared": audio.write_silent_flac(d / "undeclared.flac", 100 * HOUR,
                                              declare_length=False),
    }


def test_probe_refuses_from_the_header_without_decoding(hundred_hours: dict[str, Path]) -> None:
    info = probe_audio(hundred_hours["declared"], max_seconds=HOUR)
    assert info.over_limit
    assert info.decoded_seconds == 0.0
    assert info.duration_seconds == pytest.approx(100 * HOUR)


def test_probe_stops_decoding_at_the_limit(hundred_hours: dict[str, Path]) -> None:
    info = probe_audio(hundred_hours["undeclared"], max_seconds=HOUR)
    assert info.over_limit
    # one FLAC frame (65,535 samples at 8 kHz, 8.2 s) past the limit at most, not 100 hours
    assert HOUR < info.decoded_seconds <= HOUR + 65535 / 8000 + 1e-6
    # without a limit the same file decodes in full (what the plan used to pay for)
    short = audio.write_silent_flac(hundred_hours["undeclared"].with_name("two-min.flac"), 120,
                                    declare_length=False)
    full = probe_audio(short)
    assert not full.over_limit and full.duration_seconds == pytest.approx(120)


@pytest.mark.parametrize("which", ["declared", "undeclared"])
def test_hundred_hour_flac_refused_on_the_free_plan(api: Api, alice: dict[str, str],
                                                    hundred_hours: dict[str, Path],
                                                    which: str) -> None:
    r = upload(api.client, alice, hundred_hours[which])
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["code"] == "quota_exceeded"
    assert err["details"]["limit_type"] == "max_recording_seconds"
    assert err["details"]["limit"] == HOUR
    if which == "declared":
        assert "6000.0 minutes long; the free plan allows 60 minutes per recording" in err["message"]
    else:  # the decode stopped at the limit: the real length is unknown, and said so
        assert "longer than 60 minutes; the free plan allows 60 minutes" in err["message"]
    assert api.client.get("/api/v1/sessions", headers=alice).json()["items"] == []
    assert [o.key for o in api.runtime.store.list("")] == []


def test_server_limit_applies_to_plans_without_one(make_api: Callable[..., Api], db_url: str,
                                                   hundred_hours: dict[str, Path]) -> None:
    api = make_api(db_url, max_recording_seconds=2 * HOUR)
    headers = api.create_user("boss@example.com", plan="unlimited")
    r = upload(api.client, headers, hundred_hours["undeclared"])
    assert r.status_code == 403, r.text
    assert "longer than 120 minutes; this server accepts 120 minutes" in r.json()["error"]["message"]


def _upload_asset(api: Api, headers: dict[str, str], path: Path, kind: str = "music"):  # type: ignore[no-untyped-def]
    with open(path, "rb") as fh:
        return api.client.post("/api/v1/assets", headers=headers, data={"kind": kind, "name": "bed"},
                               files={"file": (path.name, fh, "application/octet-stream")})


@pytest.mark.parametrize("which", ["declared", "undeclared"])
def test_hundred_hour_music_asset_refused_on_a_six_hour_plan(
        api: Api, hundred_hours: dict[str, Path], which: str) -> None:
    headers = api.create_user("pro@example.com", plan="pro")
    r = _upload_asset(api, headers, hundred_hours[which])
    assert r.status_code == 403, r.text
    err = r.json()["error"]
    assert err["details"]["limit_type"] == "max_recording_seconds"
    assert "the pro plan allows 360 minutes per recording" in err["message"]
    assert api.client.get("/api/v1/assets", headers=headers).json() == []
    assert [o.key for o in api.runtime.store.list("")] == []


def test_assets_count_towards_storage_and_its_limit(make_api: Callable[..., Api], db_url: str,
                                                    tmp_path: Path) -> None:
    tone = audio.write_tone(tmp_path / "bed.wav", seconds=3.0)
    size = tone.stat().st_size
    api = make_api(db_url, plan_overrides=f'{{"pro": {{"max_storage_bytes": {size * 2 + 100}}}}}')
    headers = api.create_user("pro@example.com", plan="pro")
    for _ in range(2):
        assert _upload_asset(api, headers, tone).status_code == 201
    usage = api.client.get("/api/v1/plan", headers=headers).json()["usage"]
    assert usage["storage_bytes_used"] == 2 * size
    r = _upload_asset(api, headers, tone)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["details"]["limit_type"] == "max_storage_bytes"
    assert len(api.client.get("/api/v1/assets", headers=headers).json()) == 2
    assert len([o for o in api.runtime.store.list("") if "/assets/" in o.key]) == 2


def test_transcript_versions_count_towards_storage(api: Api) -> None:
    headers = api.create_user("pro@example.com", plan="pro")
    r = upload(api.client, headers, JFK)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    source_bytes = r.json()["source"]["size_bytes"]
    assert jobs.execute_next(api.runtime, "long") == "completed"  # the app has no workers

    def used() -> int:
        return int(api.client.get("/api/v1/plan", headers=headers).json()["usage"]["storage_bytes_used"])

    after_transcription = used()
    assert after_transcription > source_bytes
    seg = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()["segments"][0]
    for i in range(5):
        r = api.client.patch(f"/api/v1/sessions/{sid}/segments/{seg['id']}", headers=headers,
                             json={"text": f"edit number {i} " + "words " * 50})
        assert r.status_code == 200, r.text
    versions = [o for o in api.runtime.store.list("")
                if o.key.rsplit("/", 1)[-1].startswith("transcript.v")]
    assert len(versions) == 6  # the transcription's and five edits
    stored_versions = sum(o.size for o in versions)
    # the undo history (how each version came about, issue 11) is counted too
    history = [o for o in api.runtime.store.list("") if o.key.endswith("transcript.history.json")]
    assert len(history) == 1
    assert used() == source_bytes + stored_versions + history[0].size, \
        [o.key for o in api.runtime.store.list("")]
    assert used() > after_transcription
