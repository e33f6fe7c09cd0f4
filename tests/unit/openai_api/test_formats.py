"""Our transcript in OpenAI's response formats, checked with the official `openai`
client's own response models and our subtitle parsers; errors in OpenAI's shape raise
the client's own exception classes."""

from __future__ import annotations

import json
import math

import httpx
import openai
import pytest
from openai.types.audio import Transcription, TranscriptionDiarized, TranscriptionVerbose

from tapeworks.errors import (
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    TapeworksError,
    Unauthorized,
    UnsupportedMedia,
    ValidationFailed,
)
from tapeworks.openai_api.errors import translate
from tapeworks.openai_api.formats import RESPONSE_FORMATS, render
from tapeworks.openai_api.languages import language_code, language_name
from tapeworks.transcripts.exporters import subtitle_cues
from tapeworks.transcripts.model import Segment, Speaker, Transcript, Word
from tapeworks.transcripts.parsers import parse_srt, parse_vtt


def transcript() -> Transcript:
    def words(text: str, start: float, speaker: str) -> list[Word]:
        out = []
        for i, tok in enumerate(text.split()):
            out.append(Word(text=" " + tok, start=round(start + 0.4 * i, 3),
                            end=round(start + 0.4 * i + 0.3, 3), confidence=0.9,
                            speaker=speaker))
        return out

    a = words("And so my fellow Americans", 0.5, "S1")
    b = words("ask not what your country can do for you", 3.0, "S2")
    return Transcript(
        language="en", duration=7.25,
        speakers=[Speaker(id="S1", name="John", role="host"),
                  Speaker(id="S2", name="Guest", role=None)],
        segments=[
            Segment(id="seg1", speaker="S1", start=0.5, end=a[-1].end,
                    text="And so my fellow Americans", words=a),
            Segment(id="seg2", speaker="S2", start=3.0, end=b[-1].end,
                    text="ask not what your country can do for you", words=b),
        ],
    )


def test_json_is_openais_transcription() -> None:
    r = render(transcript(), "json")
    assert r.media_type == "application/json" and r.data is not None
    parsed = Transcription.model_validate(r.data)
    assert parsed.text == ("And so my fellow Americans ask not what your country can do "
                           "for you")
    assert r.data["usage"] == {"type": "duration", "seconds": 8}


def test_text_is_one_line() -> None:
    r = render(transcript(), "text")
    assert r.text == "And so my fellow Americans ask not what your country can do for you\n"
    assert r.media_type.startswith("text/plain")


def test_verbose_json_parses_as_openais_model_and_keeps_our_speakers() -> None:
    t = transcript()
    r = render(t, "verbose_json", granularities=("segment",))
    assert r.data is not None
    v = TranscriptionVerbose.model_validate(r.data)
    assert v.language == "english" and v.duration == 7.25
    assert v.words is None  # not asked for
    assert v.segments is not None and [s.id for s in v.segments] == [0, 1]
    first = v.segments[0]
    assert (first.start, first.end, first.text) == (0.5, 2.4, "And so my fellow Americans")
    assert first.seek == 50 and first.tokens == [] and first.temperature == 0.0
    assert first.avg_logprob == pytest.approx(math.log(0.9), abs=1e-6)
    assert 0 < first.compression_ratio < 2.4
    # our extras survive the client's parsing
    assert first.model_extra == {"speaker": "S1"}
    assert v.model_extra is not None
    assert v.model_extra["speakers"] == [{"id": "S1", "name": "John", "role": "host"},
                                         {"id": "S2", "name": "Guest", "role": None}]
    assert json.loads(json.dumps(r.data)) == r.data


def test_verbose_json_with_words_when_asked() -> None:
    t = transcript()
    r = render(t, "verbose_json", granularities=("word", "segment"))
    v = TranscriptionVerbose.model_validate(r.data)
    assert v.words is not None and len(v.words) == len(t.words()) == 14
    assert v.words[0].word == "And" and v.words[0].start == 0.5 and v.words[0].end == 0.8
    assert v.words[5].model_extra == {"speaker": "S2"}
    only_words = render(t, "verbose_json", granularities=("word",)).data
    assert only_words is not None and only_words["segments"] and only_words["words"]


def test_diarized_json_labels_turns_with_speaker_names() -> None:
    r = render(transcript(), "diarized_json")
    d = TranscriptionDiarized.model_validate(r.data)
    assert [(s.speaker, s.text) for s in d.segments] == [
        ("John", "And so my fellow Americans"),
        ("Guest", "ask not what your country can do for you")]


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_subtitles_have_our_cues_without_speaker_labels(fmt: str) -> None:
    t = transcript()
    r = render(t, fmt)
    assert r.text is not None
    cues = parse_srt(r.text) if fmt == "srt" else parse_vtt(r.text)
    expected = subtitle_cues(t)
    assert [(round(c.start, 3), round(c.end, 3), c.text) for c in cues] == \
        [(round(c.start, 3), round(c.end, 3), c.text) for c in expected]
    assert all(c.speaker is None for c in cues)
    assert "John" not in r.text
    if fmt == "vtt":
        assert r.text.startswith("WEBVTT\n")
    else:
        assert r.text.startswith("1\n00:00:00,500 --> ")


def test_every_format_renders_an_empty_transcript() -> None:
    empty = Transcript(language=None, duration=0.0)
    for fmt in RESPONSE_FORMATS:
        r = render(empty, fmt, granularities=("word",))
        assert (r.data is not None) != (r.text is not None)
    v = TranscriptionVerbose.model_validate(render(empty, "verbose_json").data)
    assert v.text == "" and v.language == "" and v.segments == []


def test_language_names_and_codes() -> None:
    assert language_name("en") == "english" and language_name("pt-BR") == "portuguese"
    assert language_name("xx") == "xx" and language_name(None) == ""
    assert language_code("English") == "en" and language_code("de") == "de"
    assert language_code("en-US") == "en" and language_code("Mandarin") == "zh"
    assert language_code("klingon") is None


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(("exc", "status", "code", "client_error"), [
    (QuotaExceeded("no minutes left this month", details={"limit_type": "monthly_audio_seconds"}),
     429, "insufficient_quota", openai.RateLimitError),
    (QuotaExceeded("storage is full", details={"limit_type": "max_storage_bytes"}),
     429, "insufficient_quota", openai.RateLimitError),
    (PayloadTooLarge("the recording is 11 minutes; the limit here is 10",
                     details={"limit_type": "sync_max_seconds"}),
     413, "audio_too_long", openai.APIStatusError),
    (QuotaExceeded("the free plan allows 60 minutes per recording",
                   details={"limit_type": "max_recording_seconds"}),
     413, "audio_too_long", openai.APIStatusError),
    (PayloadTooLarge("file too large"), 413, "file_too_large", openai.APIStatusError),
    (UnsupportedMedia("the file is not audio"), 400, "invalid_audio", openai.BadRequestError),
    (ValidationFailed("response_format: must be one of json, text",
                      details={"field": "response_format"}),
     400, "validation_error", openai.BadRequestError),
    (NotFound("no model named 'whisper-9'", details={"field": "model"}), 404,
     "model_not_found", openai.NotFoundError),
    (Unauthorized("the API token is not valid"), 401, "invalid_api_key",
     openai.AuthenticationError),
    (TapeworksError("odd"), 400, "bad_request", openai.BadRequestError),
])
def test_errors_in_openais_shape_raise_the_clients_exception(
    exc: TapeworksError, status: int, code: str, client_error: type[Exception]
) -> None:
    got_status, body = translate(exc, "req123")
    assert got_status == status
    assert set(body) == {"error"}
    assert body["error"]["message"] == exc.message
    assert body["error"]["code"] == code and body["error"]["request_id"] == "req123"
    assert body["error"]["type"] in ("invalid_request_error", "insufficient_quota",
                                     "server_error")

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(got_status, json=body, headers={"x-request-id": "req123"})

    client = openai.OpenAI(api_key="tw_x", base_url="http://tapeworks.test/v1", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(reply)))
    with pytest.raises(client_error) as info:
        client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF"))
    err = info.value
    assert isinstance(err, openai.APIStatusError) and err.status_code == status
    assert err.code == code and err.request_id == "req123"
    assert exc.message in str(err)
