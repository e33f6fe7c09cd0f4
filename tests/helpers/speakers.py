"""Recordings with known speakers, for the speaker-counting tests and benchmark.

Two sources: espeak-ng voice variants (distinct synthetic voices; the same variant
reading another text is "the same voice in another recording") and real speech from the
shared samples (JFK, and the two callers of `sample.wav` cut out by `sample.stm`).
Every builder returns the samples (16 kHz mono float32) and the reference turns, so the
labels can be scored (`tapeworks.speech.scoring.speaker_accuracy`).

Voices were chosen by measurement: the variants below embed far apart (cosine similarity
of their resemblyzer embeddings 0.56-0.80) while one variant reading two texts stays at
0.93-0.97. Close pairs such as en-us+m1 / en-us+m3 (0.92-0.96) are left out: they are
one voice to the encoder as much as to a listener.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tapeworks.audio.decode import SPEECH_RATE, read_all, write_wav
from tapeworks.speech.scoring import Turn, read_stm

VOICES = ("en-us+Andy", "en-029+f4", "en-gb+m7", "en-gb-scotland+f2", "en+klatt4")

SENTENCES = (
    "The quarterly report shows that our revenue grew by twelve percent, mostly because of the new plans.",
    "I walked down to the harbour this morning and watched the fishing boats come in.",
    "When you say you feel stuck, what does a good week look like for you?",
    "Honestly, I think the hardest part is starting, once I begin I can keep going for hours.",
    "Let's write that down as a goal for the next session and see how it feels.",
    "My sister called last night and we talked about moving closer to our parents.",
    "The train was late again, so I missed the first half of the meeting.",
    "Could you tell me more about what happened after the presentation?",
    "We planted tomatoes, beans and a row of sunflowers along the fence.",
    "I'm not sure yet, but I'd like to try the new approach for a month.",
    "The museum opens at ten and the guided tour starts at half past eleven.",
    "That sounds like real progress compared with where you were in the spring.",
)
INTERJECTIONS = ("Neither did I.", "Right.", "Oh, really?", "Yes, exactly.")


@dataclass(frozen=True)
class Recording:
    name: str
    samples: np.ndarray
    turns: list[Turn]  # reference: who spoke when (seconds)

    @property
    def speakers(self) -> int:
        return len({t.speaker for t in self.turns})

    @property
    def seconds(self) -> float:
        return len(self.samples) / SPEECH_RATE

    def write(self, path: Path) -> Path:
        write_wav(path, self.samples)
        return path


def speak(text: str, voice: str, words_per_minute: int = 165) -> np.ndarray:
    """espeak-ng speaking `text` with `voice`, decoded to 16 kHz mono float32."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-w", str(out), text],
            check=True, capture_output=True,
        )
        samples = read_all(out)
    return _trim(samples)


def _trim(samples: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > floor)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def join(name: str, pieces: Sequence[tuple[str, np.ndarray]], gap: float = 0.35) -> Recording:
    """Pieces one after another (speaker label, samples), `gap` seconds of silence between."""
    silence = np.zeros(int(gap * SPEECH_RATE), dtype=np.float32)
    out: list[np.ndarray] = []
    turns: list[Turn] = []
    t = 0.0
    for i, (speaker, samples) in enumerate(pieces):
        if i:
            out.append(silence)
            t += gap
        out.append(samples.astype(np.float32))
        turns.append(Turn(speaker, round(t, 3), round(t + len(samples) / SPEECH_RATE, 3)))
        t += len(samples) / SPEECH_RATE
    return Recording(name, np.concatenate(out), turns)


def loop(recording: Recording, seconds: float, name: str | None = None) -> Recording:
    """`recording` repeated (with its turns) until it lasts at least `seconds`."""
    times = max(1, int(np.ceil(seconds / recording.seconds)))
    pieces: list[tuple[str, np.ndarray]] = []
    for _ in range(times):
        for turn in recording.turns:
            a, b = int(turn.start * SPEECH_RATE), int(turn.end * SPEECH_RATE)
            pieces.append((turn.speaker, recording.samples[a:b]))
    gaps = [b.start - a.end for a, b in zip(recording.turns, recording.turns[1:], strict=False)]
    return join(name or f"{recording.name} x{times}", pieces, gap=float(np.median(gaps)) if gaps else 0.5)


def monologue(voice: str, seconds: float) -> Recording:
    """One espeak-ng voice reading the sentences in turn for about `seconds`."""
    pieces: list[tuple[str, np.ndarray]] = []
    total, i = 0.0, 0
    while total < seconds:
        samples = speak(SENTENCES[i % len(SENTENCES)], voice)
        pieces.append((voice, samples))
        total += len(samples) / SPEECH_RATE + 0.35
        i += 1
    return join(f"espeak {voice} {seconds:.0f}s", pieces)


def dialogue(voices: Sequence[str], turns: int, interject: bool = False) -> Recording:
    """`voices` taking turns, one sentence each; with `interject`, after every second turn
    the next voice cuts in with a short reply (under a second) before the speaker goes on."""
    pieces: list[tuple[str, np.ndarray]] = []
    for i in range(turns):
        voice = voices[i % len(voices)]
        pieces.append((voice, speak(SENTENCES[i % len(SENTENCES)], voice)))
        if interject and i % 2 == 1:
            other = voices[(i + 1) % len(voices)]
            pieces.append((other, speak(INTERJECTIONS[i % len(INTERJECTIONS)], other)))
            pieces.append((voice, speak(SENTENCES[(i + 5) % len(SENTENCES)], voice)))
    label = "+".join(v.split("+")[-1] for v in voices)
    return join(f"espeak {label} {turns} turns" + (" interjections" if interject else ""), pieces)


def jfk(speech_dir: Path) -> Recording:
    samples = _trim(read_all(speech_dir / "jfk.flac"))
    return Recording("jfk", samples, [Turn("jfk", 0.0, round(len(samples) / SPEECH_RATE, 3))])


def sample_call(speech_dir: Path) -> Recording:
    """sample.wav as it is, with its reference (sample.stm turns)."""
    samples = read_all(speech_dir / "sample.wav")
    return Recording("sample.wav", samples, read_stm(speech_dir / "sample.stm"))


def real_three(speech_dir: Path) -> Recording:
    """Three real voices: the two callers of sample.wav (their turns cut out by sample.stm)
    and JFK, taking turns."""
    call = read_all(speech_dir / "sample.wav")
    turns = [t for t in read_stm(speech_dir / "sample.stm") if t.end - t.start >= 1.5]
    kennedy = _trim(read_all(speech_dir / "jfk.flac"))
    thirds = np.array_split(kennedy, 3)
    pieces: list[tuple[str, np.ndarray]] = []
    for i, turn in enumerate(turns):
        pieces.append((turn.speaker, call[int(turn.start * SPEECH_RATE) : int(turn.end * SPEECH_RATE)]))
        if i % 3 == 2:
            pieces.append(("jfk", thirds[(i // 3) % 3]))
    return join("sample callers + jfk", pieces)
