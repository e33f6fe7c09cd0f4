"""Undo, redo and going back to a version of the transcript (issue 11), over the API on
SQLite and PostgreSQL with a real upload, a real consumer and the fake engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api
from tests.helpers.api import upload, wait_status
from tests.helpers.paths import SPEECH_DIR

JFK = SPEECH_DIR / "jfk.flac"


@pytest.fixture
def worker_api(db_url: str, make_api: Callable[..., Api]) -> Api:
    return make_api(db_url, workers=1, fake_realtime_factor=0.05)


def _content(t: dict[str, Any]) -> dict[str, Any]:
    """A version's content: everything but its version number (and the reply's note)."""
    return {k: v for k, v in t.items() if k not in ("version", "restored_from")}


def test_undo_and_redo_across_five_edits_return_the_exact_earlier_versions(worker_api: Api) -> None:
    api = worker_api
    user = api.create_user("ed@example.com", plan="pro")
    sid = upload(api.client, user, JFK, title="Ask not").json()["id"]
    assert wait_status(api.client, user, sid)["status"] == "completed"
    base = f"/api/v1/sessions/{sid}/transcript"

    def current() -> dict[str, Any]:
        return api.client.get(base, headers=user).json()

    states = [current()]
    hist = api.client.get(f"{base}/versions", headers=user).json()
    assert (hist["can_undo"], hist["can_redo"], hist["current_version"]) == (False, False, 1)
    assert api.client.post(f"{base}/undo", headers=user).status_code == 409  # nothing to undo

    seg = states[0]["segments"][0]["id"]
    edits = [
        [{"op": "edit_word", "segment_id": seg, "word_index": 0, "text": "Then"}],
        [{"op": "add_speaker", "name": "Guest"}],
        [{"op": "edit_word", "segment_id": seg, "word_index": 1, "text": "thus,"}],
        [{"op": "update_speaker", "speaker_id": states[0]["speakers"][0]["id"], "name": "JFK"}],
        [{"op": "edit_word", "segment_id": seg, "word_index": 0, "text": "And"}],
    ]
    for ops in edits:
        r = api.client.post(f"{base}/edits", headers=user, json={"ops": ops})
        assert r.status_code == 200, r.text
        states.append(current())
    assert len({str(_content(s)) for s in states}) == 6  # five real changes
    # undo five times: each step is exactly the state before, as a new version
    for k in range(5, 0, -1):
        r = api.client.post(f"{base}/undo", headers=user)
        assert r.status_code == 200, r.text
        assert _content(r.json()) == _content(states[k - 1])
        assert r.json()["restored_from"] == k  # version k+... repeats version k (= states[k-1])
        assert _content(current()) == _content(states[k - 1])
    assert api.client.post(f"{base}/undo", headers=user).status_code == 409
    hist = api.client.get(f"{base}/versions", headers=user).json()
    assert hist["current_version"] == 11 and not hist["can_undo"] and hist["can_redo"]
    assert [v["kind"] for v in hist["versions"][:6]] == ["undo"] * 5 + ["edit"]
    # redo all five
    for k in range(1, 6):
        r = api.client.post(f"{base}/redo", headers=user)
        assert r.status_code == 200, r.text
        assert _content(r.json()) == _content(states[k])
    assert api.client.post(f"{base}/redo", headers=user).status_code == 409
    # undo twice, then a new edit: redo is gone, undo goes back to where the edit was made
    for _ in range(2):
        api.client.post(f"{base}/undo", headers=user)
    assert _content(current()) == _content(states[3])
    r = api.client.post(f"{base}/edits", headers=user, json={"ops": [
        {"op": "edit_word", "segment_id": seg, "word_index": 2, "text": "my"}]})
    assert r.status_code == 200
    assert not api.client.get(f"{base}/versions", headers=user).json()["can_redo"]
    assert api.client.post(f"{base}/redo", headers=user).status_code == 409
    assert _content(api.client.post(f"{base}/undo", headers=user).json()) == _content(states[3])
    # every earlier version stays readable; going back to version 1 from the list
    v = api.client.get(f"{base}/versions", headers=user).json()["current_version"]
    r = api.client.post(f"{base}/restore", headers=user, json={"version": 1})
    assert r.status_code == 200 and _content(r.json()) == _content(states[0])
    back = api.client.post(f"{base}/undo", headers=user).json()
    assert _content(back) == _content(api.client.get(f"{base}?version={v}", headers=user).json())
    bad = api.client.post(f"{base}/restore", headers=user, json={"version": 999})
    assert bad.status_code == 404 and "999" in bad.json()["error"]["message"]
    # another user sees none of it
    other = api.create_user("other@example.com")
    for path in ("/versions",):
        assert api.client.get(f"{base}{path}", headers=other).status_code == 404
    for path in ("/undo", "/redo"):
        assert api.client.post(f"{base}{path}", headers=other).status_code == 404
