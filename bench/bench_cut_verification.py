"""Cut verification benchmark: render time of an episode with and without the audio check.

    .venv/bin/python bench/bench_cut_verification.py [--minutes 60] [--repeat 1] [--format mp3]

Prints figures; not part of the test suite. The source is the synthetic 60-minute
recording of bench_production.py (44.1 kHz stereo WAV, ~5 % "um" fillers, pauses of
0.35-4 s). Both renders run in this process, one after the other (alternating when
--repeat > 1), with the defaults of an episode: fillers and pauses cut, two-pass loudness,
limiter, MP3 128 kbit/s. Goal: the check costs at most 10 % of the render time.

A second section gives the check something to do: the same recording with word timings
as wrong as Whisper's can be (a share of the words zero-length at a random place between
their neighbours, or shifted by up to a second) and counts the words whose audio the cuts
clipped, with and without the check (source ground truth, not the transcript).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_production import clipped_words, make_source  # noqa: E402
from tapeworks.production.pipeline import (  # noqa: E402
    LoudnessSettings,
    RenderSettings,
    VerifySettings,
    produce,
)
from tapeworks.production.verify import analyse_source, verified_edit_list  # noqa: E402
from tapeworks.transcripts.model import Segment, Transcript, Word  # noqa: E402


def _timed_produce(wav: Path, transcript: Transcript, out: Path, fmt: str, verify: bool) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = produce(wav, transcript, out, render=RenderSettings(format=fmt),  # type: ignore[arg-type]
                     loudness=LoudnessSettings(), verify=VerifySettings(enabled=verify))
    return time.perf_counter() - t0, result


def wrong_timings(words: list[tuple[float, float, str]], share: float, seed: int) -> Transcript:
    """The true words with `share` of them mistimed the ways Whisper mistimes words."""
    rng = np.random.default_rng(seed)
    out: list[Word] = []
    for i, (a, b, text) in enumerate(words):
        if text != "um" and rng.random() < share:
            lo = words[i - 1][1] if i else 0.0
            hi = words[i + 1][0] if i + 1 < len(words) else b + 1.0
            if rng.random() < 0.5:
                at = float(rng.uniform(lo, hi))
                a, b = at, at  # zero length somewhere between its neighbours
            else:
                shift = float(rng.uniform(-1.0, 1.0))
                a, b = max(0.0, a + shift), max(0.0, b + shift)
        out.append(Word(text=text, start=a, end=b))
    out.sort(key=lambda w: w.start)
    segs = []
    for k in range(0, len(out), 40):
        ws = out[k : k + 40]
        segs.append(Segment(id=f"s{k}", start=ws[0].start, end=ws[-1].end,
                            text=" ".join(w.text for w in ws), words=ws))
    return Transcript(segments=segs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--format", default="mp3", choices=["mp3", "wav", "m4a"])
    ap.add_argument("--mistimed-share", type=float, default=0.05)
    args = ap.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    with tempfile.TemporaryDirectory(prefix="tapeworks-bench-verify-") as tmp:
        d = Path(tmp)
        seconds = args.minutes * 60
        t0 = time.perf_counter()
        wav, doc, words = make_source(d, "episode", seconds, seed=1)
        transcript = Transcript.model_validate_json(doc.read_text())
        print(f"built {args.minutes:.0f}-min source ({len(words)} words) in {time.perf_counter() - t0:.1f} s")

        # 1. render time with and without the check, same process, alternating
        times: dict[bool, list[float]] = {False: [], True: []}
        results = {}
        for _ in range(args.repeat):
            for verify in (False, True):
                took, res = _timed_produce(wav, transcript, d / f"ep-{verify}.{args.format}", args.format, verify)
                times[verify].append(took)
                results[verify] = res
        off, on = min(times[False]), min(times[True])
        t0 = time.perf_counter()
        planned = verified_edit_list(wav, transcript, seconds, verify=VerifySettings(enabled=False)).planned
        speech = analyse_source(wav, planned, seconds)
        analysis = time.perf_counter() - t0
        print(f"[render] {args.minutes:.0f}-min episode (fillers+pauses, loudness 2-pass, limiter, {args.format}): "
              f"without the check {off:.1f} s ({seconds / off:.1f}x real time), "
              f"with it {on:.1f} s ({seconds / on:.1f}x); ratio {on / off:.3f} "
              f"(+{100 * (on / off - 1):.1f} %, goal <= +10 %)")
        print(f"[render] runs without: {', '.join(f'{t:.1f}' for t in times[False])} s; "
              f"with: {', '.join(f'{t:.1f}' for t in times[True])} s")
        el_on = results[True].edit_list  # type: ignore[attr-defined]
        el_off = results[False].edit_list  # type: ignore[attr-defined]
        print(f"[render] check alone: {analysis:.1f} s for {len(planned)} planned cuts, "
              f"{speech.analysed_seconds / 60:.1f} min of audio analysed; cuts applied "
              f"{len(el_on.cuts)} (without the check {len(el_off.cuts)}), kept {len(el_on.kept)}; "
              f"words clipped: with {clipped_words(words, el_on.kept_ranges())}, "
              f"without {clipped_words(words, el_off.kept_ranges())}")

        # 2. mistimed words: what the check saves
        bad = wrong_timings(words, args.mistimed_share, seed=2)
        for verify in (False, True):
            el = verified_edit_list(wav, bad, seconds, verify=VerifySettings(enabled=verify)).edit_list
            print(f"[mistimed {100 * args.mistimed_share:.0f} % of words] check {'on ' if verify else 'off'}: "
                  f"words whose audio a cut clipped {clipped_words(words, el.kept_ranges())} of "
                  f"{sum(t != 'um' for _, _, t in words)}; removed {el.removed_duration / 60:.1f} min; "
                  f"kept cuts {len(el.kept)}")


if __name__ == "__main__":
    main()
