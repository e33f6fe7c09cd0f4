"""Synthetic audio for the speech unit tests (no model needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np

from tapeworks.audio.decode import SPEECH_RATE, write_wav


def tone_bursts(bursts: Sequence[tuple[float, float]], total: float, freq: float = 220.0) -> np.ndarray:
    """Silence with loud harmonic bursts at the given (start, end) seconds."""
    out = np.zeros(int(total * SPEECH_RATE), dtype=np.float32)
    for start, end in bursts:
        a, b = int(start * SPEECH_RATE), int(end * SPEECH_RATE)
        t = np.arange(b - a) / SPEECH_RATE
        out[a:b] = 0.3 * np.sin(2 * np.pi * freq * t) + 0.1 * np.sin(2 * np.pi * 3 * freq * t)
    return out


def write_bursts(path: Path, bursts: Sequence[tuple[float, float]], total: float) -> Path:
    write_wav(path, tone_bursts(bursts, total))
    return path


def encode(path: Path, samples: np.ndarray, codec: str, rate: int = 44_100, layout: str = "stereo") -> Path:
    """Encode mono 16 kHz samples with PyAV into `path` (format from the suffix)."""
    resampled = np.interp(
        np.arange(int(len(samples) * rate / SPEECH_RATE)) * SPEECH_RATE / rate,
        np.arange(len(samples)), samples,
    ).astype(np.float32)
    channels = 2 if layout == "stereo" else 1
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        fmt = stream.codec_context.format.name
        planar = np.tile(resampled, (channels, 1))
        frame_size = stream.codec_context.frame_size or 1024
        for i in range(0, planar.shape[1], frame_size):
            block = np.ascontiguousarray(planar[:, i : i + frame_size])
            if fmt == "s16":
                frame = av.AudioFrame.from_ndarray(
                    (block.T.reshape(1, -1) * 32767).astype(np.int16), format="s16", layout=layout
                )
            elif fmt == "s16p":
                frame = av.AudioFrame.from_ndarray((block * 32767).astype(np.int16), format="s16p", layout=layout)
            elif fmt == "fltp":
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
            else:
                frame = av.AudioFrame.from_ndarray(block.T.reshape(1, -1), format="flt", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
