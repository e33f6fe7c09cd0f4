"""Vocabulary: uncommon names written right when the upload (or the account) gives them.

A real recording (espeak-ng) of two sentences with four names, through the API with Whisper base (the default model): without a vocabulary
Whisper writes at most one of its four names right (measured: "Shivanna Quaid",
"Yubiana"); with the upload's `vocabulary` all four (three on some machines, see below) come out right and the terms are stored with the session and the
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

SAID = ("This morning I spoke with Siobhan Quaid about the move to Ljubljana. "
        "Then Tadeusz Wojcik called from Szczecin.")
NAMES = ["Siobhan Quaid", "Ljubljana", "Tadeusz Wojcik", "Szczecin"]
TERMS = ", ".join(NAMES)


def _right(text: str) -> list[str]:
    return [n for n in NAMES if n in text]


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
    print("without a vocabulary:", without, _right(without))
    assert len(_right(without)) <= 1, without  # measured: at most one name right

    given, made = _text(api, user, names_wav, vocabulary=TERMS)
    print("with the upload's vocabulary:", given, _right(given))
    # Measured: four of four on one machine; on another the same model and packages wrote
    # three and skipped the words "to Ljubljana. Then" ("about the movie Tadeusz Wojcik"),
    # a decoding slip of the model, not a misspelling. Every name it writes is right.
    assert len(_right(given)) >= 3 and len(_right(given)) > len(_right(without)), given
    assert made["session"]["vocabulary"] == NAMES
    assert made["transcript"]["vocabulary"] == NAMES

    # the account's default vocabulary, for uploads that give none
    r = api.client.put("/api/v1/auth/me/vocabulary", headers=user,
                       json={"terms": TERMS + ", ljubljana"})
    assert r.status_code == 200 and r.json() == {"terms": NAMES}
    assert api.client.get("/api/v1/auth/me", headers=user).json()["vocabulary"] == NAMES
    default, made = _text(api, user, names_wav)
    assert len(_right(default)) >= 3, default
    assert made["session"]["vocabulary"] == NAMES
