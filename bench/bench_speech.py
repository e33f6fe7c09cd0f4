"""Speech benchmark: accuracy, word timing, speed and memory of our pipeline against a
bare faster-whisper call with the same model in the same run. Prints a table.

    .venv/bin/python bench/bench_speech.py [--model base] [--long-hours 3] [--skip-memory]

Not part of the test suite. Figures vary with the machine; the goals are in issue 4.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tapeworks.audio.decode import SPEECH_RATE, read_all, write_wav
from tapeworks.audio.vad import SileroVad
from tapeworks.speech.engines.models import resolve_model
from tapeworks.speech.engines.whisper import BEAM_SIZE, load_whisper
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
from tapeworks.speech.scoring import (
    insert_silences,
    normalise_text,
    read_rttm,
    read_stm,
    speaker_accuracy,
    word_error_rate,
)
from tapeworks.transcripts.model import Transcript

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers.paths import SPEECH_DIR as DATA

JFK = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


@dataclass
class TimedWord:
    text: str
    start: float


@dataclass
class Run:
    text: str
    words: list[TimedWord]
    seconds: float
    transcript: Transcript | None = None


def references() -> dict[str, str]:
    refs = {"jfk.flac": JFK}
    if (DATA / "sample.stm").exists():
        refs["sample.wav"] = " ".join(t.text for t in read_stm(DATA / "sample.stm"))
    return refs


class Bench:
    def __init__(self, model: str, model_dir: str) -> None:
        self.options = TranscribeOptions(model=model, model_dir=model_dir)
        self.model = load_whisper(resolve_model(model, model_dir=model_dir))

    def ours(self, path: Path, **changes: Any) -> Run:
        options = TranscribeOptions(**{**self.options.__dict__, **changes})
        t0 = time.perf_counter()
        t = transcribe_file(path, options)
        elapsed = time.perf_counter() - t0
        return Run(t.text(), [TimedWord(w.text, w.start) for w in t.words()], elapsed, t)

    def bare(self, path: Path) -> Run:
        t0 = time.perf_counter()
        segments, _ = self.model.transcribe(str(path), beam_size=BEAM_SIZE, word_timestamps=True)
        segs = list(segments)
        elapsed = time.perf_counter() - t0
        words = [TimedWord(w.word.strip(), w.start) for s in segs for w in (s.words or [])]
        return Run(" ".join(s.text.strip() for s in segs), words, elapsed)


def gap_onset_errors(words: list[TimedWord], gaps: list[tuple[float, float]], onsets: list[float]) -> list[float]:
    """|start - true onset| of the first word starting after each gap's beginning."""
    errors = []
    for (a, _), onset in zip(gaps, onsets, strict=True):
        after = [w for w in words if w.start >= a]
        if after:
            errors.append(abs(after[0].start - onset))
    return errors


def turn_start_errors(words: list[TimedWord], stm: Path) -> list[float]:
    """|start - annotated turn start| for the word matching each stm turn's first word."""
    errors = []
    for turn in read_stm(stm):
        first = normalise_text(turn.text)[:1]
        near = [w for w in words if normalise_text(w.text)[:1] == first and abs(w.start - turn.start) < 1.5]
        if near:
            errors.append(min(abs(w.start - turn.start) for w in near))
    return errors


def loop_file(source: Path, target: Path, seconds: float) -> Path:
    """Write `source` repeated up to `seconds` as 16 kHz PCM WAV, block by block."""
    block = (np.clip(read_all(source), -1, 1) * 32767).astype("<i2").tobytes()
    frames_total = int(seconds * SPEECH_RATE)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SPEECH_RATE)
        written = 0
        while written < frames_total:
            n = min(len(block) // 2, frames_total - written)
            out.writeframes(block[: n * 2])
            written += n
    return target


def peak_rss_mib() -> float:
    """VmHWM: peak RSS of this process image. (ru_maxrss would also count the memory of
    the parent this process was forked from before exec, hiding the real figure.)"""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str, engine: str, model: str, model_dir: str) -> None:
    t0 = time.perf_counter()
    t = transcribe_file(path, TranscribeOptions(engine=engine, model=model, model_dir=model_dir))
    rss_mib = peak_rss_mib()
    print(json.dumps({"rss_mib": rss_mib, "seconds": time.perf_counter() - t0,
                      "words": len(t.words()), "speakers": len(t.speakers)}))


def measure_child(path: Path, engine: str, model: str, model_dir: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", str(path), "--engine", engine,
           "--model", model, "--model-dir", model_dir]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def row(*cells: object) -> None:
    print("  ".join(f"{c:<34}" if i == 0 else f"{c!s:>14}" for i, c in enumerate(cells)))


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def accuracy(b: Bench) -> None:
    print("\n== accuracy (WER, lower is better)")
    row("file", "ours", "bare", "diff (pts)")
    for name, ref in references().items():
        ours, bare = b.ours(DATA / name), b.bare(DATA / name)
        wo, wb = word_error_rate(ref, ours.text), word_error_rate(ref, bare.text)
        row(name, pct(wo), pct(wb), f"{100 * (wo - wb):+.1f}")
        if name == "sample.wav" and ours.transcript is not None:
            acc = speaker_accuracy(ours.transcript.words(), read_rttm(DATA / "sample.rttm"))
            row("  sample.wav speaker accuracy", pct(acc), "-", f"{len(ours.transcript.speakers)} spk")


def timing(b: Bench, tmp: Path) -> None:
    print("\n== word-start error (median seconds, lower is better)")
    row("reference", "ours", "bare", "n")
    audio = read_all(DATA / "jfk.flac")
    regions = [(r.start, r.end) for r in SileroVad().detect(audio)]
    built = insert_silences(audio, regions, gap_seconds=1.5, repeat=2)
    path = tmp / "gapped.wav"
    write_wav(path, built.samples)
    ours, bare = b.ours(path, num_speakers=1), b.bare(path)
    eo = gap_onset_errors(ours.words, built.gaps, built.onsets)
    eb = gap_onset_errors(bare.words, built.gaps, built.onsets)
    row("jfk + inserted 1.5 s silences", f"{statistics.median(eo):.3f}", f"{statistics.median(eb):.3f}", len(eo))
    stm = DATA / "sample.stm"
    so = turn_start_errors(b.ours(DATA / "sample.wav").words, stm)
    sb = turn_start_errors(b.bare(DATA / "sample.wav").words, stm)
    row("sample.stm turn starts", f"{statistics.median(so):.3f}", f"{statistics.median(sb):.3f}", f"{len(so)}/{len(sb)}")


def speed(b: Bench, tmp: Path, minutes: float, source: str) -> None:
    print(f"\n== speed ({minutes:g} min of {source} looped; warm models; best of 2; RTF = seconds per audio second)")
    path = loop_file(DATA / source, tmp / "speed.wav", minutes * 60)
    seconds = minutes * 60
    ours_runs, bare_runs = [], []
    for _ in range(2):  # interleaved, best of two: the machine is shared and noisy
        ours_runs.append(b.ours(path))
        bare_runs.append(b.bare(path))
    ours = min(ours_runs, key=lambda r: r.seconds)
    bare = min(bare_runs, key=lambda r: r.seconds)
    row("run", "RTF", "seconds", "")
    row("ours (VAD, windows, align, diarize)", f"{ours.seconds / seconds:.3f}", f"{ours.seconds:.1f}", "")
    row("bare faster-whisper", f"{bare.seconds / seconds:.3f}", f"{bare.seconds:.1f}", "")
    row("ratio ours / bare", f"{ours.seconds / bare.seconds:.2f}", "", "")


def memory(tmp: Path, model: str, model_dir: str, long_hours: float, whisper_minutes: float) -> None:
    print("\n== memory (peak RSS of a fresh process per file, sample.wav looped)")
    row("engine, file", "peak RSS", "seconds", "words")
    runs: list[tuple[str, str, float]] = [
        ("fake", "fake", 3 / 60), ("fake", "fake", long_hours),
        ("whisper", model, 3 / 60), ("whisper", model, whisper_minutes / 60),
    ]
    results: dict[tuple[str, float], float] = {}
    for engine, name, hours in runs:
        if hours <= 0:
            continue
        path = loop_file(DATA / "sample.wav", tmp / f"mem-{hours:g}h.wav", hours * 3600)
        r = measure_child(path, engine, name, model_dir)
        results[(engine, hours)] = r["rss_mib"]
        label = f"{hours * 60:g} min" if hours < 1 else f"{hours:g} h"
        row(f"{engine} {name}, {label}", f"{r['rss_mib']:.0f} MiB", f"{r['seconds']:.0f}", int(r["words"]))
        path.unlink()
    for engine, short, long in (("fake", 3 / 60, long_hours), ("whisper", 3 / 60, whisper_minutes / 60)):
        if (engine, long) in results:
            diff = results[(engine, long)] - results[(engine, short)]
            row(f"{engine}: long - 3 min", f"{diff:+.0f} MiB", "", "")


def quiet_logs() -> None:
    """Warnings and errors only, on stderr: stdout is the table."""
    import logging

    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="base")
    parser.add_argument("--model-dir", default=str(Path(tempfile.gettempdir()) / "tapeworks-bench-models"))
    parser.add_argument("--speed-minutes", type=float, default=3.0)
    parser.add_argument("--speed-source", default="sample.wav", help="file in the data dir to loop")
    parser.add_argument("--long-hours", type=float, default=3.0)
    parser.add_argument("--whisper-minutes", type=float, default=20.0)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--only", help="comma-separated: accuracy,timing,speed,memory")
    parser.add_argument("--child")
    parser.add_argument("--engine", default="whisper")
    args = parser.parse_args()
    quiet_logs()
    if args.child:
        child(args.child, args.engine, args.model, args.model_dir)
        return
    b = Bench(args.model, args.model_dir)
    print(f"model {args.model} (cache {b.options.model_dir})")
    if args.only != "memory":
        b.ours(DATA / "jfk.flac")  # warm up: model, VAD, torch, embedding model
        b.bare(DATA / "jfk.flac")
    sections: dict[str, Callable[[Path], None]] = {
        "accuracy": lambda tmp: accuracy(b),
        "timing": lambda tmp: timing(b, tmp),
        "speed": lambda tmp: speed(b, tmp, args.speed_minutes, args.speed_source),
        "memory": lambda tmp: memory(tmp, args.model, args.model_dir, args.long_hours, args.whisper_minutes),
    }
    chosen = args.only.split(",") if args.only else list(sections)
    if args.skip_memory:
        chosen = [c for c in chosen if c != "memory"]
    steps = [sections[name] for name in chosen]
    with tempfile.TemporaryDirectory() as tmp:
        for step in steps:
            step(Path(tmp))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
