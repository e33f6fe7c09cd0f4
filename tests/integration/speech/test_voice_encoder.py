"""The numpy voice encoder against the reference (resemblyzer with PyTorch, dev install only)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tapeworks.audio.decode import read_all
from tapeworks.speech.voice_encoder import (
    EncoderUnavailable,
    VoiceEncoder,
    load_model,
    mel_spectrogram,
    preprocess_wav,
)
from tapeworks.speech.voice_encoder import encoder as encoder_module

ROOT = Path(__file__).resolve().parents[3]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    from resemblyzer import VoiceEncoder as ReferenceEncoder

    return ReferenceEncoder("cpu", verbose=False)


def test_embeddings_equal_the_reference_on_sample_wav(speech_dir: Path, reference) -> None:  # type: ignore[no-untyped-def]
    from resemblyzer import preprocess_wav as reference_preprocess

    path = speech_dir / "sample.wav"
    ref_wav = reference_preprocess(path)
    ours_wav = preprocess_wav(read_all(path))
    assert len(ours_wav) == len(ref_wav)
    assert np.abs(ours_wav - ref_wav).max() < 1e-6

    ref_embedding, ref_partials, _ = reference.embed_utterance(ref_wav, return_partials=True)
    embedding, partials = VoiceEncoder.load().embed_utterance(ours_wav)
    assert partials.shape == ref_partials.shape == (29, 256)
    assert np.abs(partials - ref_partials).max() < TOLERANCE
    assert np.abs(embedding - ref_embedding).max() < TOLERANCE
    assert float(embedding @ ref_embedding) > 1 - 1e-6


def test_diarization_partials_equal_the_reference(speech_dir: Path, reference) -> None:  # type: ignore[no-untyped-def]
    """The batched path the pipeline uses: mel (ours vs librosa) and network (ours vs torch)."""
    import torch
    from resemblyzer.audio import wav_to_mel_spectrogram

    wav = read_all(speech_dir / "sample.wav")
    ref_mel = wav_to_mel_spectrogram(wav)
    mel = mel_spectrogram(wav)
    assert mel.shape == ref_mel.shape
    assert np.abs(mel - ref_mel).max() <= TOLERANCE * np.abs(ref_mel).max()
    batch = np.stack([ref_mel[i : i + 160] for i in range(0, len(ref_mel) - 160, 40)])
    with torch.inference_mode():
        expected = reference(torch.from_numpy(batch)).numpy()
    got = VoiceEncoder.load().embed_mels(batch)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < TOLERANCE
    short = ref_mel[100:160]  # a short turn: fewer frames than a partial
    with torch.inference_mode():
        expected_short = reference(torch.from_numpy(short[None])).numpy()
    assert np.abs(VoiceEncoder.load().embed_mels(short[None]) - expected_short).max() < TOLERANCE


def test_shipped_weights_are_the_checkpoint_converted() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "convert_voice_encoder.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "match" in result.stdout


def test_speakers_are_told_apart_without_torch(speech_dir: Path) -> None:
    """A process in which torch, librosa, sklearn and resemblyzer cannot be imported."""
    code = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "librosa", "sklearn", "resemblyzer"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
        t = transcribe_file({str(speech_dir / "sample.wav")!r}, TranscribeOptions(engine="fake"))
        print(t.diarization.status, len(t.speakers))
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "librosa")))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    status, modules = result.stdout.strip().splitlines()[-2:]
    assert status == "ok 2"
    assert modules == "[]"


@pytest.mark.parametrize("damage", ["truncated", "one byte flipped", "absent"])
def test_a_damaged_model_file_is_a_readable_error(tmp_path: Path, damage: str) -> None:
    shipped = Path(encoder_module.__file__).with_name(encoder_module.MODEL_FILE)
    damaged = tmp_path / "model.onnx"
    data = bytearray(shipped.read_bytes())
    if damage == "truncated":
        damaged.write_bytes(data[: len(data) // 2])
    elif damage == "one byte flipped":  # inside a weight: loads, but would embed wrongly
        data[len(data) // 2] ^= 0x01
        damaged.write_bytes(bytes(data))
    with pytest.raises(EncoderUnavailable) as err:
        load_model(damaged)
    message = str(err.value)
    assert "missing or damaged" in message and "reinstall" in message
    assert str(tmp_path) not in message and "onnx" not in message
    assert load_model(shipped).embed_mels(np.ones((1, 10, 40), dtype=np.float32)).shape == (1, 256)
