"""A local server speaking the ElevenLabs-style text-to-speech protocol (the cloud
narrator's tests): `GET /v1/voices`, `POST /v1/text-to-speech/{voice_id}` answering MP3
bytes, `xi-api-key` checked, `voice_not_found` and a busy answer (429) on request."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import av
import numpy as np
import pytest

KEY = "xi-test-key"
VOICES = [
    {"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel", "category": "premade",
     "labels": {"accent": "american", "gender": "female"}},
    {"voice_id": "pNInz6obpgDQGcFmaJgB", "name": "Adam", "category": "premade",
     "labels": {"accent": "american", "gender": "male"}},
]


def mp3_bytes(tmp_path: Path, seconds: float = 1.0) -> bytes:
    path = tmp_path / "served" / "cloud.mp3"
    path.parent.mkdir()
    rate = 44100
    t = np.arange(int(seconds * rate)) / rate
    data = (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
        stream.bit_rate = 128000
        for i in range(0, data.shape[1], 1152):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, i:i + 1152]),
                                               format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path.read_bytes()


class FakeElevenLabs(BaseHTTPRequestHandler):
    state: dict[str, Any]

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _authorised(self) -> bool:
        if self.headers.get("xi-api-key") != KEY:
            self._json(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
            return False
        return True

    def do_GET(self) -> None:
        self.state["lists"] = self.state.get("lists", 0) + 1
        if not self._authorised():
            return
        if self.path == "/v1/voices":
            self._json(200, {"voices": VOICES})
        else:
            self._json(404, {"detail": {"status": "not_found", "message": "Not found"}})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        url = urlparse(self.path)
        self.state["requests"] = [*self.state.get("requests", []), (url.path, parse_qs(url.query), body)]
        voice = url.path.rsplit("/", 1)[-1]
        if self.state.get("busy"):
            self._json(429, {"detail": {"status": "too_many_concurrent_requests",
                                        "message": "Too many requests"}})
        elif voice not in {v["voice_id"] for v in VOICES}:
            self._json(400, {"detail": {"status": "voice_not_found",
                                        "message": f"A voice with the voice_id {voice} was not found."}})
        else:
            audio: bytes = self.state["mp3"]
            self.send_response(200)
            self.send_header("content-type", "audio/mpeg")
            self.send_header("content-length", str(len(audio)))
            self.end_headers()
            self.wfile.write(audio)


@pytest.fixture
def eleven(tmp_path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    state: dict[str, Any] = {"mp3": mp3_bytes(tmp_path)}
    handler = type("Handler", (FakeElevenLabs,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    httpd.shutdown()
    httpd.server_close()
