"""The cloud engine against a local HTTP server that speaks the AssemblyAI-style protocol."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tapeworks.errors import EngineError
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
from tests.helpers.audio import write_bursts

KEY = "secret-key"
WORDS = [
    {"text": "Hello", "start": 1000, "end": 1400, "confidence": 0.98, "speaker": "A"},
    {"text": "there.", "start": 1450, "end": 1900, "confidence": 0.97, "speaker": "A"},
    {"text": "Hi!", "start": 3600, "end": 3900, "confidence": 0.95, "speaker": "B"},
]


class FakeAssembly(BaseHTTPRequestHandler):
    state: dict[str, Any]

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _authorised(self) -> bool:
        if self.headers.get("authorization") != KEY:
            self._send(401, {"error": "Invalid API key"})
            return False
        return True

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding") == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length", 0)))

    def do_POST(self) -> None:
        if not self._authorised():
            return
        body = self._body()
        if self.path == "/v2/upload":
            self.state["uploaded"] = len(body)
            self._send(200, {"upload_url": "https://cdn.example/upload/1"})
        elif self.path == "/v2/transcript":
            self.state["request"] = json.loads(body)
            self._send(200, {"id": "t1", "status": "queued"})
        else:
            self._send(404, {"error": "not found"})

    def do_GET(self) -> None:
        if not self._authorised():
            return
        self.state["polls"] = self.state.get("polls", 0) + 1
        if self.state["polls"] < 3:
            self._send(200, {"id": "t1", "status": "processing"})
        elif self.state.get("fail"):
            self._send(200, {"id": "t1", "status": "error", "error": "Audio file too short"})
        else:
            self._send(200, {"id": "t1", "status": "completed", "language_code": "en",
                             "text": "Hello there. Hi!", "words": WORDS, "utterances": []})


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, Any]]]:
    state: dict[str, Any] = {}
    handler = type("Handler", (FakeAssembly,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tapeworks.speech.engines.cloud.POLL_SECONDS", 0.01)


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    return write_bursts(tmp_path / "a.wav", [(1.0, 2.0), (3.5, 4.0)], 5.0)


def _options(url: str, key: str = KEY, **kw: Any) -> TranscribeOptions:
    return TranscribeOptions(engine="cloud", cloud_url=url, cloud_api_key=key, **kw)


def test_cloud_transcript_with_speakers(server: tuple[str, dict[str, Any]], audio: Path) -> None:
    url, state = server
    progress: list[tuple[float, float]] = []
    t = transcribe_file(audio, _options(url), lambda d, tot: progress.append((d, tot)))
    assert state["uploaded"] == audio.stat().st_size
    assert state["request"]["audio_url"] == "https://cdn.example/upload/1"
    assert state["request"]["speaker_labels"] is True
    assert t.text() == "Hello there. Hi!"
    words = t.words()
    assert (words[0].start, words[0].end, words[0].speaker) == (1.0, 1.4, "S1")
    assert words[2].speaker == "S2"
    assert [s.speaker for s in t.segments] == ["S1", "S2"]
    assert t.diarization.status == "ok" and t.diarization.num_speakers == 2
    assert t.language == "en" and t.model is not None and t.model.engine == "cloud"
    assert t.model.source.startswith("api:127.0.0.1")
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert progress[-1][0] == progress[-1][1]


def test_cloud_language_is_passed_on(server: tuple[str, dict[str, Any]], audio: Path) -> None:
    url, state = server
    transcribe_file(audio, _options(url, language="de", num_speakers=1))
    assert state["request"]["language_code"] == "de"
    assert state["request"]["speaker_labels"] is False


def test_cloud_job_error_is_an_engine_error(server: tuple[str, dict[str, Any]], audio: Path) -> None:
    url, state = server
    state["fail"] = True
    with pytest.raises(EngineError, match="Audio file too short"):
        transcribe_file(audio, _options(url))


def test_cloud_bad_key_is_an_engine_error(server: tuple[str, dict[str, Any]], audio: Path) -> None:
    url, _ = server
    with pytest.raises(EngineError, match="refused the API key"):
        transcribe_file(audio, _options(url, key="wrong"))


def test_cloud_unreachable_is_an_engine_error(audio: Path) -> None:
    with pytest.raises(EngineError, match="could not be reached"):
        transcribe_file(audio, _options("http://127.0.0.1:9"))


def test_cloud_needs_url_and_key(audio: Path) -> None:
    with pytest.raises(EngineError, match="cloud_url and cloud_api_key"):
        transcribe_file(audio, TranscribeOptions(engine="cloud"))


def test_cloud_gets_the_vocabulary_as_word_boost(server: tuple[str, dict[str, Any]], audio: Path) -> None:
    """The vocabulary (and the edit marker) reach the cloud engine's custom vocabulary."""
    url, state = server
    transcribe_file(audio, _options(url, hotwords="Siobhan Quaid, Ljubljana, flubber"))
    assert state["request"]["word_boost"] == ["Siobhan Quaid", "Ljubljana", "flubber"]
    transcribe_file(audio, _options(url))
    assert "word_boost" not in state["request"]


def test_cloud_speakers_voices_are_embedded_here(server: tuple[str, dict[str, Any]], audio: Path) -> None:
    """The cloud engine's speakers get voice embeddings from our own encoder over their
    words (so known voices are recognised with the cloud engine too)."""
    from tapeworks.speech.pipeline import transcribe

    url, _state = server
    done = transcribe(audio, _options(url))
    # S2 says one 0.3 s word: too little to embed, so it has no voice (never a guess)
    assert [v.speaker_id for v in done.voices] == ["S1"]
    assert len(done.voices[0].embedding) == 256
    assert abs(sum(x * x for x in done.voices[0].embedding) - 1.0) < 1e-3
    assert done.voices[0].seconds == 0.85
    assert transcribe(audio, _options(url, diarize=False)).voices == ()
