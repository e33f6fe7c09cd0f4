"""A cloud narration engine speaking the ElevenLabs-style HTTP API.

Protocol: `GET /v1/voices` -> `{"voices": [{"voice_id", "name", "labels": {...}}]}`;
`POST /v1/text-to-speech/{voice_id}?output_format=mp3_44100_128` with JSON
`{"text", "model_id"}` -> the MP3 bytes (streamed to a file here). The key goes in
the `xi-api-key` header. Errors come back as `{"detail": {"status", "message"}}`;
`voice_not_found` means the narrator is unknown, 401 a bad key, 429 a busy service.
Narrator ids are `cloud-<voice_id>`. The voice list is cached for `cache_seconds`.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog

from tapeworks.narrators.base import Narration, NarrationFailed, NarratorInfo, UnknownNarrator

log = structlog.get_logger("tapeworks.narrators")

PREFIX = "cloud-"
OUTPUT_FORMAT = "mp3_44100_128"


@dataclass
class CloudNarrationEngine:
    base_url: str
    api_key: str
    model_id: str = "eleven_multilingual_v2"
    request_timeout: float = 60.0
    cache_seconds: float = 300.0
    name: str = "cloud"
    _cache: tuple[float, list[NarratorInfo]] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def available(self) -> bool:
        return bool(self.base_url and self.api_key)

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.request_timeout,
                            headers={"xi-api-key": self.api_key})

    def narrators(self) -> list[NarratorInfo]:
        with self._lock:
            if self._cache is not None and time.monotonic() - self._cache[0] < self.cache_seconds:
                return list(self._cache[1])
        try:
            with self._client() as client:
                response = client.get("/v1/voices")
        except httpx.HTTPError as exc:
            log.warning("narrators.cloud_unreachable", error=repr(exc))
            raise NarrationFailed("the cloud narration service cannot be reached") from exc
        body = self._json(response, "listing its narrators")
        voices = body.get("voices") if isinstance(body, dict) else None
        if not isinstance(voices, list):
            raise NarrationFailed("the cloud narration service sent an unexpected narrator list")
        found = [_info(v, self.name) for v in voices if isinstance(v, dict) and v.get("voice_id")]
        with self._lock:
            self._cache = (time.monotonic(), found)
        return list(found)

    def narrate(self, narrator: NarratorInfo, text: str, out_dir: Path) -> Narration:
        if not narrator.id.startswith(PREFIX):
            raise UnknownNarrator(f"there is no narrator called {narrator.id!r}")
        voice_id = narrator.id[len(PREFIX):]
        out = out_dir / f"narration-{uuid.uuid4().hex[:12]}.mp3"
        payload = {"text": text, "model_id": self.model_id}
        try:
            with self._client() as client, client.stream(
                "POST", f"/v1/text-to-speech/{voice_id}", params={"output_format": OUTPUT_FORMAT},
                json=payload, headers={"accept": "audio/mpeg"},
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    self._json(response, "speaking the text", narrator)
                with out.open("wb") as fh:
                    for chunk in response.iter_bytes():
                        fh.write(chunk)
        except httpx.HTTPError as exc:
            out.unlink(missing_ok=True)
            log.warning("narrators.cloud_unreachable", error=repr(exc))
            raise NarrationFailed("the cloud narration service cannot be reached") from exc
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        return Narration(out, narrator, "mp3")

    def _json(self, response: httpx.Response, doing: str,
              narrator: NarratorInfo | None = None) -> Any:
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if status < 400:
            if body is None:
                raise NarrationFailed(f"the cloud narration service sent an unreadable answer {doing}")
            return body
        detail = body.get("detail") if isinstance(body, dict) else None
        reason = detail.get("status") if isinstance(detail, dict) else None
        log.warning("narrators.cloud_refused", status=status, reason=reason,
                    body=(response.text or "")[:300])
        if reason == "voice_not_found" or (status == 404 and narrator is not None):
            name = narrator.id if narrator is not None else "this narrator"
            raise UnknownNarrator(f"the cloud narration service has no narrator {name!r}")
        if status in (401, 403):
            raise NarrationFailed(
                "the cloud narration service refused this server's API key; ask its administrator"
            )
        if status == 429:
            raise NarrationFailed("the cloud narration service is busy; try again in a minute")
        if status in (400, 422):
            raise NarrationFailed(f"the cloud narration service could not read this text ({doing})")
        raise NarrationFailed(f"the cloud narration service failed {doing} (HTTP {status})")


def _info(voice: dict[str, Any], engine: str) -> NarratorInfo:
    labels = voice.get("labels") if isinstance(voice.get("labels"), dict) else {}
    assert isinstance(labels, dict)
    described = ", ".join(str(v) for k, v in labels.items() if k in ("accent", "gender", "age", "description"))
    return NarratorInfo(
        id=f"{PREFIX}{voice['voice_id']}",
        name=str(voice.get("name") or voice["voice_id"]),
        engine=engine,
        language=str(labels["language"]) if labels.get("language") else None,
        description=described or "cloud narrator",
    )
