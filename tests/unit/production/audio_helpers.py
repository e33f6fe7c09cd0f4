"""Real audio for the production tests: signals generated here and written with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from scipy import signal

RATE = 44100
JFK = Path("/work/shared/data/speech/jfk.flac")


def write_wav(path: Path, audio: np.ndarray, rate: int = RATE) -> Path:
    """Write float audio (channels, n) as 16-bit WAV with PyAV."""
    audio = np.atleast_2d(audio)
    channels = audio.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout=layout)
        step = 4096
        for i in range(0, pcm.shape[1], step):
            chunk = np.ascontiguousarray(pcm[:, i : i + step].T.reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def decode_all(path: Path) -> tuple[np.ndarray, int]:
    """Decode a whole (small) file to float32 (channels, n) for checking."""
    from tapeworks.audio.decode import frame_to_float

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = [frame_to_float(f) for f in container.decode(stream)]
        return np.concatenate(frames, axis=1), int(stream.rate)


def true_peak_dbtp(audio: np.ndarray) -> float:
    """Independent 4x-oversampled true peak (scipy polyphase resampler)."""
    up = signal.resample_poly(audio.astype(np.float64), 4, 1, axis=1)
    return 20.0 * np.log10(np.abs(up).max())


def speechlike(seconds: float, seed: int, channels: int = 1, rate: int = RATE) -> np.ndarray:
    """Noise shaped like speech: syllable-rate bursts of band-limited noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    noise = rng.standard_normal((channels, n))
    b, a = signal.butter(4, [150, 3500], btype="band", fs=rate)
    voiced = signal.lfilter(b, a, noise, axis=1)
    t = np.arange(n) / rate
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)) ** 2
    return (voiced * envelope * 0.1).astype(np.float32)
