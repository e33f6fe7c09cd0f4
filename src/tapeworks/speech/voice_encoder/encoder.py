"""Resemblyzer's voice encoder (GE2E, 3-layer LSTM, 256-d embeddings) without PyTorch.

The same computation as `resemblyzer.VoiceEncoder` and `resemblyzer.audio`: the mel
filterbank (Slaney scale and norm, as librosa's default) and a centred power STFT (25 ms
Hann window, 10 ms hop) in numpy, resemblyzer's preprocessing (volume normalisation to
-30 dBFS, long silences trimmed with WebRTC VAD) and partial-utterance slicing, and the
network (LSTM, linear layer, ReLU, L2 norm) as an ONNX model run by onnxruntime, which
faster-whisper already brings. The model holds resemblyzer's own weights, converted once
by `scripts/convert_voice_encoder.py` (Apache-2.0, see LICENSE and NOTICE beside it) and
checked by SHA-256 before it is loaded. Embeddings match resemblyzer with torch to within
1e-4 (tests/integration/speech/test_voice_encoder.py); onnxruntime's LSTM is also faster
than torch's on CPU (bench/bench_speakers.py).

Audio is mono float32 at 16 kHz (the project's decoder resamples).
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import structlog

SAMPLE_RATE = 16_000
MEL_WINDOW = 400  # 25 ms
MEL_HOP = 160  # 10 ms
MEL_CHANNELS = 40
PARTIAL_FRAMES = 160  # 1.6 s
EMBEDDING = 256
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1
VAD_WINDOW = 30  # ms
VAD_AVERAGE_WIDTH = 8
VAD_MAX_SILENCE = 6
MODEL_FILE = "resemblyzer_voice_encoder.onnx"
MODEL_SHA256 = "b5368f4ea5b740edef3291825e24fc6b7f1f2e93f17e3cef3339f1538fdeca77"
log = structlog.get_logger("tapeworks.speech")
BATCH = 128  # partials per run: bounds the memory of one pass


class EncoderUnavailable(RuntimeError):
    """The voice encoder's weights are missing or damaged in this install."""


# --- mel spectrogram (librosa.feature.melspectrogram with resemblyzer's settings) -------


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    f_sp = 200.0 / 3
    mel = hz / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_part = hz >= min_log_hz
    mel[log_part] = min_log_mel + np.log(hz[log_part] / min_log_hz) / logstep
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    hz = f_sp * mel
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_part = mel >= min_log_mel
    hz[log_part] = min_log_hz * np.exp(logstep * (mel[log_part] - min_log_mel))
    return hz


@cache
def mel_filterbank(
    sr: int = SAMPLE_RATE, n_fft: int = MEL_WINDOW, n_mels: int = MEL_CHANNELS
) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters, Slaney-normalised (area 1 per filter)."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array([0.0]))[0],
                                   _hz_to_mel(np.array([sr / 2.0]))[0], n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, len(fft_freqs)), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / widths[i]
        upper = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    weights.setflags(write=False)
    return weights


@cache
def _hann(n: int) -> np.ndarray:
    """Periodic Hann window (scipy.signal.get_window('hann', n), as librosa uses)."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
    window.setflags(write=False)
    return window


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) float32 mel power spectrogram (not log), one frame per 10 ms,
    frames centred on multiples of the hop with zero padding at both ends."""
    wav = np.asarray(wav, dtype=np.float32)
    pad = MEL_WINDOW // 2
    padded = np.pad(wav, (pad, pad))
    if len(padded) < MEL_WINDOW:
        padded = np.pad(padded, (0, MEL_WINDOW - len(padded)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, MEL_WINDOW)[::MEL_HOP]
    spectrum = np.fft.rfft(frames * _hann(MEL_WINDOW), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    return np.ascontiguousarray((power @ mel_filterbank().T).astype(np.float32))


# --- resemblyzer's preprocessing --------------------------------------------------------


def normalize_volume(wav: np.ndarray, target_dbfs: float = TARGET_DBFS,
                     increase_only: bool = False) -> np.ndarray:
    """Scale `wav` to `target_dbfs` RMS (resemblyzer.audio.normalize_volume)."""
    rms = float(np.sqrt(np.mean((wav.astype(np.float64) * INT16_MAX) ** 2)))
    if rms <= 0:
        return wav
    change = target_dbfs - 20 * np.log10(rms / INT16_MAX)
    if change < 0 and increase_only:
        return wav
    return (wav * (10 ** (change / 20))).astype(np.float32)


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    padded = np.concatenate((np.zeros((width - 1) // 2), values, np.zeros(width // 2)))
    total = np.cumsum(padded, dtype=float)
    total[width:] = total[width:] - total[:-width]
    return total[width - 1 :] / width


def trim_long_silences(wav: np.ndarray) -> np.ndarray:
    """Drop silences longer than ~0.2 s, found by WebRTC VAD in 30 ms windows
    (resemblyzer.audio.trim_long_silences)."""
    import webrtcvad
    from scipy.ndimage import binary_dilation

    window = VAD_WINDOW * SAMPLE_RATE // 1000
    wav = wav[: len(wav) - len(wav) % window]
    pcm = np.round(wav * INT16_MAX).astype(np.int16).tobytes()
    vad = webrtcvad.Vad(3)
    flags = np.array([
        vad.is_speech(pcm[i * 2 : (i + window) * 2], sample_rate=SAMPLE_RATE)
        for i in range(0, len(wav), window)
    ], dtype=float)
    mask = np.round(_moving_average(flags, VAD_AVERAGE_WIDTH)).astype(bool)
    mask = binary_dilation(mask, np.ones(VAD_MAX_SILENCE + 1))
    return wav[np.repeat(mask, window)]


def preprocess_wav(wav: np.ndarray) -> np.ndarray:
    """resemblyzer.preprocess_wav for audio already at 16 kHz."""
    wav = normalize_volume(np.asarray(wav, dtype=np.float32), increase_only=True)
    return trim_long_silences(wav)


def partial_slices(n_samples: int, rate: float = 1.3,
                   min_coverage: float = 0.75) -> tuple[list[slice], list[slice]]:
    """Where resemblyzer cuts an utterance into 1.6 s partials (wave and mel slices)."""
    samples_per_frame = SAMPLE_RATE * 10 // 1000
    n_frames = int(np.ceil((n_samples + 1) / samples_per_frame))
    step = int(np.round((SAMPLE_RATE / rate) / samples_per_frame))
    if not 0 < step <= PARTIAL_FRAMES:
        raise ValueError(f"partial rate {rate} out of range")
    wav_slices, mel_slices = [], []
    for i in range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step):
        mel_slices.append(slice(i, i + PARTIAL_FRAMES))
        wav_slices.append(slice(i * samples_per_frame, (i + PARTIAL_FRAMES) * samples_per_frame))
    last = wav_slices[-1]
    coverage = (n_samples - last.start) / (last.stop - last.start)
    if coverage < min_coverage and len(mel_slices) > 1:
        mel_slices, wav_slices = mel_slices[:-1], wav_slices[:-1]
    return wav_slices, mel_slices


# --- the network (onnxruntime) ------------------------------------------------------------


def _ort_errors() -> tuple[type[BaseException], ...]:
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile",
             "NoModel", "RuntimeException")
    return tuple(getattr(state, n) for n in names if hasattr(state, n))


class VoiceEncoder:
    """The encoder network (resemblyzer's weights as ONNX, run by onnxruntime)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    @classmethod
    def load(cls, threads: int = 2) -> VoiceEncoder:
        """The shipped model, one session per thread count and process."""
        with _lock:
            if threads not in _loaded:
                ref = resources.files("tapeworks.speech.voice_encoder") / MODEL_FILE
                with resources.as_file(ref) as path:
                    _loaded[threads] = load_model(path, threads)
            return _loaded[threads]

    def embed_mels(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) mel partials -> (batch, 256) L2-normed embeddings."""
        mels = np.asarray(mels, dtype=np.float32)
        if mels.ndim != 3 or mels.shape[2] != MEL_CHANNELS:
            raise ValueError(f"mels must be (batch, frames, {MEL_CHANNELS}), got {mels.shape}")
        if len(mels) == 0:
            return np.zeros((0, EMBEDDING), dtype=np.float32)
        if mels.shape[1] == 0:
            raise ValueError("mels must hold at least one frame")
        out = [self._session.run(None, {"mels": np.ascontiguousarray(mels[i : i + BATCH])})[0]
               for i in range(0, len(mels), BATCH)]
        return np.concatenate(out).astype(np.float32)

    def embed_utterance(self, wav: np.ndarray, rate: float = 1.3, min_coverage: float = 0.75,
                        ) -> tuple[np.ndarray, np.ndarray]:
        """resemblyzer's embed_utterance on a preprocessed wave: (embedding, partials)."""
        wav_slices, mel_slices = partial_slices(len(wav), rate, min_coverage)
        if wav_slices[-1].stop >= len(wav):
            wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)))
        mel = mel_spectrogram(wav)
        partials = self.embed_mels(np.stack([mel[s] for s in mel_slices]))
        raw = partials.mean(axis=0)
        return (raw / np.linalg.norm(raw)).astype(np.float32), partials


_lock = threading.Lock()
_loaded: dict[int, VoiceEncoder] = {}


def load_model(path: Path, threads: int = 2) -> VoiceEncoder:
    """The encoder from the ONNX file at `path`, checked against MODEL_SHA256 first."""
    unavailable = EncoderUnavailable(
        "the voice model that tells speakers apart is missing or damaged in this "
        "installation; reinstalling tapeworks restores it"
    )
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        log.error("speech.voice_model_unreadable", path=str(path), error=repr(exc))
        raise unavailable from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != MODEL_SHA256:
        log.error("speech.voice_model_damaged", path=str(path), sha256=digest, expected=MODEL_SHA256)
        raise unavailable
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except _ort_errors() as exc:
        log.error("speech.voice_model_unloadable", path=str(path), error=repr(exc))
        raise unavailable from exc
    return VoiceEncoder(session)
