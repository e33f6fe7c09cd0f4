"""`GET /sessions/{id}/waveform`: the cut editor's picture of the source, on both dialects."""

from __future__ import annotations

import itertools

import numpy as np

from tapeworks.storage import keys
from tests.conftest import Api
from tests.helpers.api import upload_ok
from tests.helpers.audio import decode_all
from tests.helpers.paths import JFK


def bucket_max(samples: np.ndarray, rate: int, start: float, width: float, n: int) -> np.ndarray:
    edges = np.ceil((start + width * np.arange(n + 1)) * rate - 1e-9).astype(int)
    amp = np.abs(samples)
    return np.array([amp[a:b].max() if b > a else 0.0 for a, b in itertools.pairwise(edges)])


def test_the_overview_is_the_source_bucket_by_bucket_and_kept_in_the_store(api: Api) -> None:
    alice = api.create_user("alice@example.com")
    sid = upload_ok(api.client, alice, JFK, title="jfk")  # no worker: the source is enough
    r = api.client.get(f"/api/v1/sessions/{sid}/waveform", headers=alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert abs(body["duration_seconds"] - 11.0) < 0.1 and body["start"] == 0.0
    n = len(body["peaks"])
    assert n == int(np.ceil(body["duration_seconds"] * 50))
    decoded, rate = decode_all(JFK)  # at the file's own rate, every channel
    samples = np.abs(decoded).max(axis=0)
    want = bucket_max(samples, rate, 0.0, body["bucket_seconds"], n)
    np.testing.assert_allclose(body["peaks"], want, atol=2e-3)

    user_id = api.client.get("/api/v1/auth/me", headers=alice).json()["id"]
    cache = keys.session_waveform(user_id, sid)
    assert api.runtime.store.exists(cache)
    api.runtime.store.put_bytes(cache, b'{"start": 0, "bucket_seconds": 1, "peaks": [0.5]}')
    again = api.client.get(f"/api/v1/sessions/{sid}/waveform", headers=alice).json()
    assert again["peaks"] == [0.5]  # served from the store, not decoded again

    # a detail span: decoded on demand at a finer resolution
    r = api.client.get(f"/api/v1/sessions/{sid}/waveform?start=6&end=7&buckets=200", headers=alice)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["start"] == 6.0 and abs(detail["bucket_seconds"] - 0.005) < 1e-9
    np.testing.assert_allclose(detail["peaks"], bucket_max(samples, rate, 6.0, 0.005, 200),
                               atol=2e-3)

    # deleting the session deletes the waveform with everything under its prefix
    assert api.client.delete(f"/api/v1/sessions/{sid}", headers=alice).status_code == 204
    assert not api.runtime.store.exists(cache)


def test_bad_spans_and_other_users_get_clear_answers(api: Api) -> None:
    alice = api.create_user("alice@example.com")
    bob = api.create_user("bob@example.com")
    sid = upload_ok(api.client, alice, JFK, title="jfk")
    r = api.client.get(f"/api/v1/sessions/{sid}/waveform?start=5&end=5", headers=alice)
    assert r.status_code == 422
    assert "'end' must be after 'start'" in r.json()["error"]["message"]
    r = api.client.get(f"/api/v1/sessions/{sid}/waveform?start=20&end=30", headers=alice)
    assert r.status_code == 422  # outside the 11 s recording
    assert api.client.get(f"/api/v1/sessions/{sid}/waveform", headers=bob).status_code == 404
    assert api.client.get("/api/v1/sessions/nope/waveform", headers=alice).status_code == 404
