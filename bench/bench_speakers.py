"""Speaker benchmark: how many speakers are found and how many words get the right one,
diarization speed and memory of our numpy voice encoder next to the reference (resemblyzer
with PyTorch) in the same run, and the size of the default install before and after.

    PYTHONPATH=src .venv/bin/python bench/bench_speakers.py [--model base] [--only count,speed,size]
        [--long-minutes 20] [--speed-minutes 10] [--repeats 2]

Files: real speech (JFK; the two callers of sample.wav, alone and together) and espeak-ng
voices (tests/helpers/speakers.py), 10 s to 20 min, one to three voices; long ones are
loops of short ones, so their words come from transcribing the short one once.
Not part of the test suite; figures vary with the machine. Goals: issue 15.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import json
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.helpers.speakers: the same recordings as the tests

from tests.helpers import speakers as voices  # noqa: E402
from tests.helpers.speakers import Recording  # noqa: E402

from tapeworks.audio.decode import SPEECH_RATE, iter_chunks  # noqa: E402
from tapeworks.audio.vad import BackedVad  # noqa: E402
from tapeworks.speech import diarization  # noqa: E402
from tapeworks.speech.diarization import SpeakerEmbedder  # noqa: E402
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file  # noqa: E402
from tapeworks.speech.scoring import Turn, word_speaker_accuracy  # noqa: E402
from tapeworks.speech.windows import iter_windows  # noqa: E402
from tapeworks.transcripts.model import Transcript, Word  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "speech"


def quiet_logs() -> None:
    import logging

    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def row(*cells: object, first: int = 40) -> None:
    print("  ".join(f"{c!s:<{first}}" if i == 0 else f"{c!s:>12}" for i, c in enumerate(cells)))


# --- counting -------------------------------------------------------------------------


@dataclass
class Case:
    recording: Recording
    loop_of: Recording | None = None  # words come from transcribing this one


def cases(long_minutes: float) -> list[Case]:
    kennedy = voices.jfk(DATA)
    call = voices.sample_call(DATA)
    two = voices.dialogue(["en-gb+m7", "en-gb-scotland+f2"], 16, interject=True)
    three = voices.dialogue(["en-us+Andy", "en-029+f4", "en-gb+m7"], 24, interject=True)
    diane = voices.join("Diane alone (sample.wav)", [
        ("Diane", call.samples[int(t.start * SPEECH_RATE) : int(t.end * SPEECH_RATE)])
        for t in call.turns if t.speaker == "Diane"
    ])
    out = [
        Case(kennedy),
        Case(diane),
        Case(voices.monologue("en-gb-scotland+f2", 60)),
        Case(voices.loop(kennedy, 600, "jfk looped 10 min"), kennedy),
        Case(voices.loop(kennedy, long_minutes * 60, f"jfk looped {long_minutes:.0f} min"), kennedy),
        Case(call),
        Case(voices.join("jfk + espeak Andy", [
            ("jfk", kennedy.samples), ("andy", voices.speak(voices.SENTENCES[2], "en-us+Andy")),
            ("jfk", kennedy.samples[: 5 * SPEECH_RATE]), ("andy", voices.speak(voices.SENTENCES[4], "en-us+Andy")),
        ])),
        Case(two),
        Case(voices.loop(call, 600, "sample.wav looped 10 min"), call),
        Case(voices.real_three(DATA)),
        Case(three),
        Case(voices.loop(three, long_minutes * 60, f"espeak 3 voices looped {long_minutes:.0f} min"), three),
    ]
    return out


def _loop_words(base: Transcript, base_rec: Recording, looped: Recording) -> list[Word]:
    """Words of `looped` (made by voices.loop of `base_rec`): the base words, shifted."""
    words = base.words()
    out: list[Word] = []
    n = len(base_rec.turns)
    for k in range(len(looped.turns) // n):
        shift = looped.turns[k * n].start - base_rec.turns[0].start
        out.extend(replace(w, start=w.start + shift, end=w.end + shift) for w in words)
    return out


def diarize_words(path: Path, words: list[Word], num_speakers: int | None) -> list[Word]:
    """The pipeline's diarization (same VAD, windows, embedder) over `path`, labelling
    `words` (known from transcribing the loop's source once)."""
    embedder = SpeakerEmbedder()
    i = 0
    for window in iter_windows(iter_chunks(path), BackedVad()):
        j = i
        while j < len(words) and (words[j].start + words[j].end) / 2 < window.end:
            j += 1
        embedder.add(window.samples, window.start, window.regions, words[i:j])
        i = j
    labels = embedder.speaker_labels(num_speakers, 6)
    per_word = embedder.word_labels([(w.start + w.end) / 2 for w in words], labels)
    return [replace(w, speaker=f"S{k + 1}") for w, k in zip(words, per_word, strict=True)]


def count(model: str, model_dir: str, long_minutes: float) -> None:
    print(f"\n== speakers found and words labelled right (model {model}; auto = count "
          "estimated, given = the true count entered)")
    row("file", "length", "voices", "found", "words right", "given: right")
    options = TranscribeOptions(model=model, model_dir=model_dir)
    base_transcripts: dict[str, Transcript] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, case in enumerate(cases(long_minutes)):
            rec = case.recording
            path = rec.write(Path(tmp) / f"{n}.wav")
            if case.loop_of is None:
                t = transcribe_file(path, options)
                base_transcripts[rec.name] = t
                words, found = t.words(), t.diarization.num_speakers
                given = transcribe_file(path, replace(options, num_speakers=rec.speakers)).words()
            else:
                base = base_transcripts[case.loop_of.name]
                plain = _loop_words(base, case.loop_of, rec)
                words = diarize_words(path, plain, None)
                found = len({w.speaker for w in words})
                given = diarize_words(path, plain, rec.speakers)
            minutes = rec.seconds / 60
            length = f"{rec.seconds:.0f} s" if minutes < 2 else f"{minutes:.0f} min"
            right = word_speaker_accuracy(words, _turns(rec))
            given_right = word_speaker_accuracy(given, _turns(rec)) if rec.speakers > 1 else 1.0
            mark = "" if found == rec.speakers else " x"
            row(rec.name, length, rec.speakers, f"{found}{mark}", f"{100 * right:.1f} %",
                f"{100 * given_right:.1f} %")
            sys.stdout.flush()


def _turns(rec: Recording) -> list[Turn]:
    return rec.turns


# --- speed and memory -----------------------------------------------------------------


class ReferenceEncoder:
    """resemblyzer's VoiceEncoder (PyTorch) behind our encoder's interface."""

    def __init__(self, threads: int) -> None:
        import torch
        from resemblyzer import VoiceEncoder

        torch.set_num_threads(threads)
        self.torch = torch
        self.model = VoiceEncoder("cpu", verbose=False)

    def embed_mels(self, mels: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model(self.torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))).numpy()


def _reference_mel(samples: np.ndarray) -> np.ndarray:
    from resemblyzer.audio import wav_to_mel_spectrogram

    from tapeworks.speech.voice_encoder import normalize_volume

    return np.asarray(wav_to_mel_spectrogram(normalize_volume(samples)), dtype=np.float32)


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(path: str, which: str) -> None:
    if which == "reference":
        encoder = ReferenceEncoder(threads=2)
        diarization._load_encoder = lambda threads: encoder  # type: ignore[assignment,return-value]
        diarization._mel = _reference_mel
    t0 = time.perf_counter()
    embedder = SpeakerEmbedder()
    seconds = 0.0
    for window in iter_windows(iter_chunks(Path(path)), BackedVad()):
        embedder.add(window.samples, window.start, window.regions)
        seconds = window.end
    labels = embedder.speaker_labels(None, 6)
    elapsed = time.perf_counter() - t0
    print(json.dumps({
        "seconds": elapsed, "audio_seconds": seconds, "rss_mib": peak_rss_mib(),
        "speakers": len(set(labels.tolist())), "torch_loaded": "torch" in sys.modules,
    }))


def run_child(path: Path, which: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", str(path), "--which", which],
                          check=False, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{which} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed(minutes: float, repeats: int) -> None:
    print(f"\n== diarization (VAD, embeddings, clustering) of sample.wav looped to {minutes:.0f} min, "
          "each in a fresh process")
    row("encoder", "s per hour", "x real time", "peak RSS", "speakers", "torch loaded")
    with tempfile.TemporaryDirectory() as tmp:
        path = voices.loop(voices.sample_call(DATA), minutes * 60).write(Path(tmp) / "long.wav")
        runs: dict[str, list[dict[str, float]]] = {"ours": [], "reference": []}
        for _ in range(repeats):  # alternated, best of each: other load on the machine hurts both
            for which in runs:
                runs[which].append(run_child(path, which))
        for which, label in (("ours", "ours (onnxruntime, no torch)"), ("reference", "reference (resemblyzer, torch)")):
            r = min(runs[which], key=lambda x: x["seconds"])
            per_hour = r["seconds"] / r["audio_seconds"] * 3600
            row(label, f"{per_hour:.0f} s", f"{r['audio_seconds'] / r['seconds']:.0f}x",
                f"{r['rss_mib']:.0f} MiB", int(r["speakers"]), r["torch_loaded"])
            sys.stdout.flush()


# --- install size ---------------------------------------------------------------------


def _name(requirement: str) -> tuple[str, set[str]]:
    from packaging.requirements import Requirement

    req = Requirement(requirement)
    return re.sub(r"[-_.]+", "-", req.name).lower(), set(req.extras)


def closure(requirements: Iterable[str]) -> dict[str, int]:
    """Installed size (bytes, from each distribution's RECORD) of everything that
    installing `requirements` pulls in, by distribution name."""
    from packaging.requirements import Requirement

    seen: dict[str, int] = {}
    todo = [(r, "") for r in requirements]
    while todo:
        text, extra = todo.pop()
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name, extras = _name(text)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if name not in seen:
            seen[name] = sum(f.size or 0 for f in dist.files or [])
            todo.extend((r, "") for r in dist.requires or [])
        for e in extras:
            todo.extend((r, e) for r in dist.requires or [])
    return seen


def size() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    default = project["dependencies"]
    after = closure(default)
    before = closure([*default, "resemblyzer==0.1.4"])
    weights = sum(p.stat().st_size for p in (ROOT / "src/tapeworks/speech/voice_encoder").glob("*.onnx"))
    extra = {k: v for k, v in before.items() if k not in after}
    mb = 1024 * 1024
    print("\n== install size (installed files of every distribution the install pulls in)")
    row("install", "packages", "size")
    row("before: default + diarization extra (torch)", len(before), f"{sum(before.values()) / mb:.0f} MiB")
    row("after: default (speakers included)", len(after), f"{(sum(after.values()) + weights) / mb:.0f} MiB")
    print(f"  left out now: {', '.join(f'{k} {v / mb:.0f} MiB' for k, v in sorted(extra.items(), key=lambda p: -p[1]))}")
    print(f"  added: the converted voice encoder weights, {weights / mb:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="base")
    parser.add_argument("--model-dir", default=str(Path(tempfile.gettempdir()) / "tapeworks-bench-models"))
    parser.add_argument("--long-minutes", type=float, default=20.0)
    parser.add_argument("--speed-minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", help="comma-separated: count,speed,size")
    parser.add_argument("--child")
    parser.add_argument("--which", default="ours")
    args = parser.parse_args()
    quiet_logs()
    if args.child:
        child(args.child, args.which)
        return
    sections: dict[str, Callable[[], None]] = {
        "size": size,
        "speed": lambda: speed(args.speed_minutes, args.repeats),
        "count": lambda: count(args.model, args.model_dir, args.long_minutes),
    }
    for name in args.only.split(",") if args.only else list(sections):
        sections[name]()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
