"""Vocabulary: uncommon names written right when the upload (or the account) gives them.

A real recording (espeak-ng) of "Siobhan Quaid said the office in Ljubljana opens in
March", through the API with Whisper base (the default model): without a vocabulary
Whisper writes the names wrong (measured: "Shivanna Quaid", "Yubiana"); with the upload's
`vocabulary` both come out right and the terms are stored with the session and the
transcript; the account's default vocabulary (PUT /auth/me/vocabulary) applies to an
upload that gives none. bench/bench_vocabulary.py measures hotwords against an initial
prompt.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.helpers.api import upload_ok, wait_status

pytestmark = pytest.mark.slow

SAID = "Siobhan Quaid said the office in Ljubljana opens in March."
TERMS = "Siobhan Quaid, Ljubljana"


@pytest.fixture(scope="module")
def names_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vocabulary") / "names.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-g", "6", "-w", str(path), SAID],
                   check=True, capture_output=True)
    return path


@pytest.fixture
def whisper_api(fresh_db_url: Callable[[str], str], make_api: Callable[..., Api],
                tmp_path_factory: pytest.TempPathFactory) -> Api:
    return make_api(fresh_db_url("sqlite"), workers=1, speech_engine="whisper",
                    speech_model="base", job_lease_seconds=120)


def _text(api: Api, headers: dict[str, str], path: Path, **data: str) -> tuple[str, dict]:
    sid = upload_ok(api.client, headers, path, speakers="1", **data)
    wait_status(api.client, headers, sid, timeout=300, fail=True)
    t = api.client.get(f"/api/v1/sessions/{sid}/transcript", headers=headers).json()
    session = api.client.get(f"/api/v1/sessions/{sid}", headers=headers).json()
    return " ".join(s["text"] for s in t["segments"]), {"transcript": t, "session": session}


def test_vocabulary_writes_names_right(whisper_api: Api, names_wav: Path) -> None:
    api = whisper_api
    user = api.create_user("coach@example.com", plan="pro")

    without, _ = _text(api, user, names_wav)
    print("without a vocabulary:", without)
    assert "Siobhan Quaid" not in without and "Ljubljana" not in without  # measured wrong

    given, made = _text(api, user, names_wav, vocabulary=TERMS)
    print("with the upload's vocabulary:", given)
    assert "Siobhan Quaid" in given and "Ljubljana" in given
    assert made["session"]["vocabulary"] == ["Siobhan Quaid", "Ljubljana"]
    assert made["transcript"]["vocabulary"] == ["Siobhan Quaid", "Ljubljana"]

    # the account's default vocabulary, for uploads that give none
    r = api.client.put("/api/v1/auth/me/vocabulary", headers=user,
                       json={"terms": "Ljubljana, Siobhan Quaid, ljubljana"})
    assert r.status_code == 200 and r.json() == {"terms": ["Ljubljana", "Siobhan Quaid"]}
    assert api.client.get("/api/v1/auth/me", headers=user).json()["vocabulary"] == [
        "Ljubljana", "Siobhan Quaid"]
    default, made = _text(api, user, names_wav)
    assert "Siobhan Quaid" in default and "Ljubljana" in default
    assert made["session"]["vocabulary"] == ["Ljubljana", "Siobhan Quaid"]
