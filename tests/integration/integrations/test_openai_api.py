"""The official `openai` client, pointed at our base URL with an API token, transcribes a
real recording in every response format; a plan with no minutes left is a RateLimitError
(429 insufficient_quota), a file that is not audio a 4xx, a recording over
TAPEWORKS_SYNC_MAX_SECONDS a 413; each call is a session in the library."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import openai
import pytest

from tests.conftest import LiveServer
from tests.helpers.api import login
from tests.helpers.paths import JFK

FORMATS = ["json", "text", "srt", "vtt", "verbose_json"]


@pytest.fixture
def server(db_url: str, live_server: Callable[..., LiveServer]) -> LiveServer:
    return live_server(db_url, workers=1, plan_overrides=json.dumps(
        {"free": {"monthly_audio_seconds": 3600}}))


def api_token(srv: LiveServer, email: str) -> str:
    from tests.helpers.api import add_user
    add_user(srv.runtime, email)
    headers = login(srv.client, email)
    r = srv.client.post("/api/v1/auth/tokens", headers=headers, json={"name": "openai"})
    assert r.status_code == 201, r.text
    return str(r.json()["access_token"])


@pytest.fixture
def client(server: LiveServer) -> Iterator[openai.OpenAI]:
    c = openai.OpenAI(base_url=f"{server.url}/v1", api_key=api_token(server, "o@example.com"),
                      max_retries=0, timeout=120)
    yield c
    c.close()


def test_every_response_format_with_the_official_client(client: openai.OpenAI,
                                                        server: LiveServer) -> None:
    models = [m.id for m in client.models.list()]
    assert "whisper-1" in models and server.runtime.settings.speech_model in models
    out = {}
    for fmt in FORMATS:
        with open(JFK, "rb") as fh:
            out[fmt] = client.audio.transcriptions.create(model="whisper-1", file=fh,
                                                          response_format=fmt)  # type: ignore[call-overload]
    assert out["json"].text.strip()
    assert isinstance(out["text"], str) and out["text"].strip() == out["json"].text.strip()
    assert "-->" in out["srt"] and out["srt"].lstrip().startswith("1\n")
    assert out["vtt"].startswith("WEBVTT") and "-->" in out["vtt"]
    v = out["verbose_json"]
    assert v.language and v.duration > 10 and v.segments
    with open(JFK, "rb") as fh:
        words = client.audio.transcriptions.create(
            model="whisper-1", file=fh, response_format="verbose_json",
            timestamp_granularities=["word", "segment"], language="en", temperature=0.0)
    assert words.words and words.words[0].end >= words.words[0].start
    extra = words.model_dump()
    assert "speakers" in extra and extra["segments"][0]["speaker"]
    # every call is a session in the library
    token = client.api_key
    r = httpx.get(f"{server.url}/api/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["total"] == len(FORMATS) + 1



def test_the_prompt_is_the_vocabulary(client: openai.OpenAI, server: LiveServer) -> None:
    """OpenAI's `prompt` reaches the engine as the session's vocabulary (free text split
    into terms, never refused for its length)."""
    prompt = ("Siobhan Quaid, Ljubljana; a conversation between a coach and a client about "
              "moving abroad")
    with open(JFK, "rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh, prompt=prompt)
    token = client.api_key
    r = httpx.get(f"{server.url}/api/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    [session] = r.json()["items"]
    assert session["vocabulary"][:2] == ["Siobhan Quaid", "Ljubljana"]
    assert "abroad" in session["vocabulary"] and all(len(t) <= 60 for t in session["vocabulary"])


def test_refusals_are_openai_errors(client: openai.OpenAI, server: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.audio.transcriptions.create(model="whisper-1",
                                           file=("notes.mp3", b"this is not audio at all " * 40))
    assert bad.value.status_code == 400 and bad.value.code == "invalid_audio"
    assert "audio" in bad.value.message.lower()
    with pytest.raises(openai.NotFoundError) as nf, open(JFK, "rb") as fh:
        client.audio.transcriptions.create(model="gpt-4o-transcribe-x", file=fh)
    assert nf.value.code == "model_not_found"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="nope", max_retries=0).models.list()



def test_a_recording_over_the_sync_limit_is_413(db_url: str,
                                                live_server: Callable[..., LiveServer]) -> None:
    srv = live_server(db_url, workers=1, sync_max_seconds=5)
    c = openai.OpenAI(base_url=f"{srv.url}/v1", api_key=api_token(srv, "l@example.com"),
                      max_retries=0)
    with pytest.raises(openai.APIStatusError) as err, open(JFK, "rb") as fh:
        c.audio.transcriptions.create(model="whisper-1", file=fh)
    assert err.value.status_code == 413 and "/api/v1/sessions" in err.value.message


def test_a_plan_with_no_minutes_left_is_a_rate_limit_error(
        db_url: str, live_server: Callable[..., LiveServer]) -> None:
    srv = live_server(db_url, workers=1,
                      plan_overrides=json.dumps({"free": {"monthly_audio_seconds": 5}}))
    poor = openai.OpenAI(base_url=f"{srv.url}/v1", api_key=api_token(srv, "p@example.com"),
                         max_retries=0)
    with pytest.raises(openai.RateLimitError) as rl, open(JFK, "rb") as fh:
        poor.audio.transcriptions.create(model="whisper-1", file=fh)
    assert rl.value.status_code == 429 and rl.value.code == "insufficient_quota"
    assert rl.value.body["request_id"]  # type: ignore[index]
