"""An AssemblyAI-style HTTP speech API behind the file-engine interface.

Protocol: POST /v2/upload (raw bytes) -> {upload_url}; POST /v2/transcript
{audio_url, speaker_labels, language_code | language_detection} -> {id, status};
GET /v2/transcript/{id} until status is "completed" or "error". Words come back in
milliseconds with a speaker letter. The API key goes in the `authorization` header.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from tapeworks.errors import EngineError
from tapeworks.speech.engines.base import EngineResult, EngineSegment, EngineWord
from tapeworks.transcripts.model import ModelInfo

UPLOAD_BLOCK = 1 << 20
POLL_SECONDS = 1.0


def _file_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from iter(lambda: fh.read(UPLOAD_BLOCK), b"")


@dataclass
class CloudEngine:
    base_url: str
    api_key: str
    poll_seconds: float = 1.0
    timeout_seconds: float = 3600.0
    request_timeout: float = 30.0
    info: ModelInfo = field(init=False)

    def __post_init__(self) -> None:
        host = urlparse(self.base_url).netloc or self.base_url
        self.info = ModelInfo(engine="cloud", name="default", source=f"api:{host}")

    def _request(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise EngineError(f"cloud speech API at {self.base_url} could not be reached: {exc}") from exc
        if response.status_code in (401, 403):
            raise EngineError(f"cloud speech API refused the API key (HTTP {response.status_code})")
        if response.status_code >= 400:
            raise EngineError(
                f"cloud speech API returned HTTP {response.status_code} for {method} {url}: "
                f"{response.text[:300]}"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise EngineError(f"cloud speech API sent a non-JSON answer to {method} {url}") from exc
        if not isinstance(body, dict):
            raise EngineError(f"cloud speech API sent an unexpected answer to {method} {url}")
        return body

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url.rstrip("/"),
            headers={"authorization": self.api_key},
            timeout=self.request_timeout,
        )

    def transcribe_path(
        self, path: Path, *, language: str | None, speakers: int | None, diarize: bool,
        word_boost: list[str] | None = None,
    ) -> EngineResult:
        with self._client() as client:
            upload = self._request(client, "POST", "/v2/upload", content=_file_blocks(path))
            request: dict[str, Any] = {"audio_url": upload["upload_url"], "speaker_labels": diarize}
            if language:
                request["language_code"] = language
            else:
                request["language_detection"] = True
            if diarize and speakers:
                request["speakers_expected"] = speakers
            if word_boost:  # the vocabulary: AssemblyAI's custom vocabulary
                request["word_boost"] = word_boost
            job = self._request(client, "POST", "/v2/transcript", json=request)
            body = self._poll(client, str(job["id"]))
        return _result(body)

    def _poll(self, client: httpx.Client, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            body = self._request(client, "GET", f"/v2/transcript/{job_id}")
            status = body.get("status")
            if status == "completed":
                return body
            if status == "error":
                raise EngineError(f"cloud transcription failed: {body.get('error') or 'no reason given'}")
            if time.monotonic() > deadline:
                raise EngineError(f"cloud transcription {job_id} not done after {self.timeout_seconds:.0f} s")
            time.sleep(self.poll_seconds)


def _result(body: dict[str, Any]) -> EngineResult:
    words = [
        EngineWord(
            text=str(w["text"]),
            start=float(w["start"]) / 1000,
            end=float(w["end"]) / 1000,
            confidence=float(w.get("confidence", 1.0)),
            speaker=str(w["speaker"]) if w.get("speaker") is not None else None,
        )
        for w in body.get("words") or []
    ]
    segment = EngineSegment(str(body.get("text") or ""), 0.0, words[-1].end if words else 0.0, words)
    return EngineResult([segment] if words else [], body.get("language_code"))
