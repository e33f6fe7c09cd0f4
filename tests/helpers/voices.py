"""Two real voices (piper's Joe and espeak-ng) placed as phrases on separate tracks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from tapeworks.audio.decode import decode_blocks
from tapeworks.audio.probe import read_info
from tapeworks.narrators import EspeakEngine, Narrators, PiperEngine
from tapeworks.transcripts.model import Segment, Transcript, Word

_SPEECH_DB = -45.0  # a 10 ms frame louder than this is speech


@dataclass(frozen=True)
class Phrase:
    text: str
    start: float  # timeline seconds where the phrase's audio starts
    audible: tuple[float, float]  # first and last loud 10 ms frame, timeline seconds


def narrate(tmp: Path, narrator: str, text: str) -> tuple[np.ndarray, int]:
    narrators = Narrators([PiperEngine(), EspeakEngine()])
    result = narrators.narrate(narrator, text, tmp)
    info = read_info(result.path)
    audio = np.concatenate(list(decode_blocks(result.path, info.sample_rate, 1, info.sample_rate)), axis=1)
    return audio[0], info.sample_rate


def audible_extent(samples: np.ndarray, rate: int) -> tuple[float, float]:
    hop = rate // 100
    n = samples.size // hop
    frames = samples[: n * hop].reshape(n, hop).astype(np.float64)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.nonzero(db > _SPEECH_DB)[0]
    return loud[0] * hop / rate, (loud[-1] + 1) * hop / rate


def write_track(path: Path, tmp: Path, narrator: str, lines: list[tuple[float, str]], seconds: float,
                rate: int, channels: int, level: float = 1.0) -> list[Phrase]:
    """Each (start, text) spoken by `narrator` at `start`; written at `rate`/`channels`."""
    mono_rate = None
    placed: list[tuple[float, np.ndarray, str]] = []
    for start, text in lines:
        audio, mono_rate = narrate(tmp, narrator, text)
        placed.append((start, audio, text))
    assert mono_rate is not None
    track = np.zeros(int(seconds * mono_rate), np.float32)
    phrases: list[Phrase] = []
    for start, audio, text in placed:
        i = round(start * mono_rate)
        track[i : i + audio.size] += audio[: track.size - i] * level
        a, b = audible_extent(audio, mono_rate)
        phrases.append(Phrase(text, start, (start + a, start + b)))
    _write(path, track, mono_rate, rate, channels)
    return phrases


def _write(path: Path, mono: np.ndarray, mono_rate: int, rate: int, channels: int) -> None:
    layout = "stereo" if channels == 2 else "mono"
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout=layout)
        resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
        pcm = np.clip(np.rint(mono * 32767), -32768, 32767).astype(np.int16)
        for i in range(0, pcm.size, 4096):
            frame = av.AudioFrame.from_ndarray(pcm[None, i : i + 4096], format="s16", layout="mono")
            frame.sample_rate = mono_rate
            for res in resampler.resample(frame):
                for packet in stream.encode(res):
                    out.mux(packet)
        for res in resampler.resample(None):
            for packet in stream.encode(res):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def phrase_transcript(phrases: list[Phrase], speaker: str = "S1") -> Transcript:
    """Words spread evenly over each phrase's audible extent (a stand-in for an engine's)."""
    segments = []
    for k, p in enumerate(phrases):
        tokens = p.text.split()
        a, b = p.audible
        step = (b - a) / len(tokens)
        words = [Word(text=t, start=round(a + i * step, 3), end=round(a + (i + 1) * step - 0.02, 3),
                      speaker=speaker) for i, t in enumerate(tokens)]
        segments.append(Segment(id=f"s{k}", speaker=speaker, start=words[0].start, end=words[-1].end,
                                text=p.text, words=words))
    return Transcript(language="en", segments=segments)
