"""Every input validated at the edge with types (issue 12): non-finite numbers, paging bounds
and episode settings of the wrong type are a 422 naming the field, before any job exists;
never a 500, never a job that fails showing `TypeError`."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tapeworks.episodes.schemas import CleaningIn, LoudnessIn, RenderIn, UserCutIn
from tapeworks.production.settings import (
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    UserCut,
)
from tapeworks.queue.models import Job
from tests.conftest import Api
from tests.helpers import audio
from tests.helpers.api import upload_ok

JSON = {"content-type": "application/json"}


def _error(r: Any, status: int = 422) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error"]["code"] == "validation_error", body
    return str(body["error"]["message"])


@pytest.mark.parametrize("number", ["1e999", "-1e999", "Infinity", "-Infinity", "NaN"])
def test_non_finite_numbers_are_refused_in_validate_action(api: Api, alice: dict[str, str],
                                                           number: str) -> None:
    body = '{"action": "transcribe", "params": {"seconds": ' + number + "}}"
    r = api.client.post("/api/v1/plan/validate-action", content=body,
                        headers={**alice, **JSON})
    assert "params.seconds" in _error(r)


def test_non_finite_numbers_are_refused_in_free_form_fields(api: Api, tmp_path: Path) -> None:
    admin = api.create_user("admin@example.com", role="admin")
    user = api.create_user("u@example.com", plan="pro")
    with api.runtime.database.transaction(write=False) as db:
        from tapeworks.users import service as users

        uid = users.get_user_by_email(db, "u@example.com").id
    r = api.client.post(f"/api/v1/admin/users/{uid}/usage-adjustments", headers={**admin, **JSON},
                        content='{"seconds": NaN, "note": "oops"}')
    assert "seconds" in _error(r)
    r = api.client.post("/api/v1/templates", headers={**user, **JSON},
                        content='{"name": "t", "settings": {"music_gain_db": Infinity}}')
    assert "settings.music_gain_db" in _error(r)
    sid = upload_ok(api.client, user, audio.write_tone(tmp_path / "t.wav", seconds=1.0,
                                                       fmt="wav"))
    r = api.client.post(f"/api/v1/sessions/{sid}/transcript/edits", headers={**user, **JSON},
                        content='{"ops": [{"op": "split_segment", "at": 1e999}]}')
    assert "ops.0.at" in _error(r)
    r = api.client.get(f"/api/v1/sessions/{sid}/waveform?start=inf&end=2", headers=user)
    assert r.status_code == 422 and "start" in r.json()["error"]["message"]
    r = api.client.get(f"/api/v1/sessions/{sid}/waveform?start=0&end=nan", headers=user)
    assert r.status_code == 422 and "end" in r.json()["error"]["message"]


def test_paging_past_any_row_is_refused_not_an_overflow(api: Api) -> None:
    admin = api.create_user("root@example.com", role="admin")
    uid = api.client.get("/api/v1/auth/me", headers=admin).json()["id"]
    huge = 9416199735876143104
    for path in ("/api/v1/sessions", "/api/v1/admin/users", f"/api/v1/admin/users/{uid}/usage"):
        r = api.client.get(f"{path}?offset={huge}", headers=admin)
        assert "offset" in _error(r), path
        r = api.client.get(f"{path}?offset=1000000000", headers=admin)
        assert r.status_code == 200, (path, r.text)
        assert r.json().get("items", r.json().get("entries")) == []


BAD_SETTINGS = [
    ({"cleaning": {"max_pause_seconds": "abc"}}, "cleaning.max_pause_seconds"),
    ({"cleaning": {"user_cuts": [{"bogus": 1}]}}, "cleaning.user_cuts.0"),
    ({"cleaning": {"margin_seconds": None}}, "cleaning.margin_seconds"),
    ({"cleaning": {"user_cuts": [{"start": 5, "end": 2}]}}, "cleaning.user_cuts.0"),
    ({"cleaning": {"filler_words": "um"}}, "cleaning.filler_words"),
    ({"render": {"block_seconds": "x"}}, "render.block_seconds"),
    ({"render": {"chapters": "abc"}}, "render.chapters"),
    ({"render": {"chapters": [[0, ""]]}}, "render.chapters.0.title"),
    ({"render": {"bitrate": 12345}}, "render"),
    ({"render": {"format": "ogg"}}, "render.format"),
    ({"render": {"sample_rate": 22050}}, "render.sample_rate"),
    ({"loudness": {"target_lufs": "loud"}}, "loudness.target_lufs"),
    ({"loudness": {"target_lufs": -200}}, "loudness.target_lufs"),
    ({"loudness": {"enabled": "maybe"}}, "loudness.enabled"),
    ({"cleanign": {}}, "cleanign"),
]


@pytest.fixture
def transcribed(make_api: Any, db_url: str, tmp_path: Path) -> tuple[Api, dict[str, str], str]:
    api = make_api(db_url, workers=1)
    pro = api.create_user("pod@example.com", plan="pro")
    sid = upload_ok(api.client, pro, audio.write_spaced_bursts(tmp_path / "b.wav", n=2))
    from tests.helpers.api import wait_status

    wait_status(api.client, pro, sid, fail=True)
    return api, pro, sid


def test_episode_settings_of_the_wrong_type_are_a_422_before_any_job(
    transcribed: tuple[Api, dict[str, str], str],
) -> None:
    api, pro, sid = transcribed

    def jobs() -> int:
        with api.runtime.database.transaction(write=False) as db:
            return int(db.scalar(select(func.count()).select_from(Job)) or 0)

    before = jobs()
    for body, field in BAD_SETTINGS:
        r = api.client.post(f"/api/v1/sessions/{sid}/episodes", headers=pro, json=body)
        message = _error(r)
        assert field in message, (body, message)
        assert "TypeError" not in message
    assert jobs() == before  # nothing was queued for any of them
    assert api.client.get(f"/api/v1/sessions/{sid}/episodes", headers=pro).json() == []

    # the right types are accepted, and chapters may be pairs or objects
    r = api.client.post(f"/api/v1/sessions/{sid}/episodes", headers=pro, json={
        "cleaning": {"max_pause_seconds": 2, "user_cuts": [{"start": 0.1, "end": 0.2}]},
        "loudness": {"target_lufs": -18},
        "render": {"format": "wav", "chapters": [[0, "Start"], {"start": 1.5, "title": "Next"}]}})
    assert r.status_code == 201, r.text
    stored = r.json()["settings"]
    assert stored["render"]["chapters"] == [[0.0, "Start"], [1.5, "Next"]]
    assert stored["loudness"]["target_lufs"] == -18.0


@pytest.mark.parametrize(("model", "dataclass"), [
    (CleaningIn, CleaningSettings), (LoudnessIn, LoudnessSettings),
    (RenderIn, RenderSettings), (UserCutIn, UserCut)])
def test_the_request_models_cover_every_production_setting(model: Any, dataclass: Any) -> None:
    """A setting added to the pipeline must be added to the API's type (and the reverse)."""
    assert set(model.model_fields) == {f.name for f in fields(dataclass)}
