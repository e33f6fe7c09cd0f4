"""Studio benchmark: multitrack render speed and memory, single-track render vs auto-editor.

    .venv/bin/python bench/bench_studio.py [--minutes 60] [--memory-hours 3]
        [--skip-multitrack] [--skip-memory] [--skip-single] [--skip-auto-editor]

Prints figures; not part of the test suite.

1. [multitrack] a two-track conversation (track A 44.1 kHz mono, track B 48 kHz mono,
   phrases taking turns with some crosstalk) rendered with `produce_multitrack`, next to
   the same conversation as one 44.1 kHz stereo file rendered with `produce`, in the same
   run: cuts, two-pass loudness, limiter, ducked music bed, MP3 128 kbit/s stereo. Goal:
   the two-track render at least half the single-track speed.
2. [memory] peak RSS of a two-track render of 3 minutes against 3 hours, each in its own
   process (VmHWM of the render process, which encodes the MP3 on its threads; an MP3
   worker process, used only without LAME's C API, is reported apart). Goal: within 100 MiB.
3. [single] the single-track render in multiples of real time on the cores here (goal:
   100x), next to auto-editor's silence-only run on the same file: like for like, our
   silence-only render (pauses, checked against the audio, no loudness, WAV out) over
   auto-editor's default run writing WAV (goal under 0.4; issue 11's bench measured 0.46),
   and our full render over its run writing WAV and writing MP3 128 kbit/s. auto-editor is installed by ../shared/tools/install-auto-editor.sh.

Sources are the synthetic speech of bench_production.py (noise "words" with syllable
envelopes, pauses of 0.3-4 s, ~5 % "um" fillers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from scipy import signal

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(BENCH))

import bench_production as bp  # noqa: E402
from tapeworks.production import mp3 as mp3_encoder  # noqa: E402
from tapeworks.production.multitrack import TrackSpec  # noqa: E402
from tapeworks.production.pipeline import (  # noqa: E402
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    Template,
    produce,
)
from tapeworks.production.studio import produce_multitrack  # noqa: E402
from tapeworks.transcripts.model import Segment, Transcript, Word  # noqa: E402

Plan = list[tuple[float, float, str]]


def conversation(seconds: float, seed: int) -> tuple[Plan, Plan]:
    """bench_production's word plan cut into phrases that alternate between two speakers;
    every fifth of B's phrases starts 0.4 s early, over the end of A's (crosstalk)."""
    words = bp.word_plan(seconds, seed)
    phrases: list[Plan] = [[]]
    for w in words:
        if phrases[-1] and w[0] - phrases[-1][-1][1] > 0.3:
            phrases.append([])
        phrases[-1].append(w)
    a: Plan = []
    b: Plan = []
    for k, phrase in enumerate(phrases):
        if k % 2 == 0:
            a += phrase
        else:
            shift = -0.4 if k % 10 == 1 else 0.0
            b += [(s + shift, e + shift, t) for s, e, t in phrase]
    return a, b


def write_track(path: Path, seconds: float, words: Plan, seed: int, rate: int) -> None:
    """One mono speaker track in the style of bench_production.write_episode."""
    rng = np.random.default_rng(seed)
    bb, aa = signal.butter(4, [150, 3500], btype="band", fs=rate)
    zi = np.zeros(max(len(aa), len(bb)) - 1)
    chunk = rate * 10
    total = int(seconds * rate)
    starts = np.array([w[0] for w in words])
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        for c0 in range(0, total, chunk):
            n = min(chunk, total - c0)
            voiced, zi = signal.lfilter(bb, aa, rng.standard_normal(n), zi=zi)
            x = 0.001 * rng.standard_normal(n)
            t = (np.arange(n) + c0) / rate
            lo = max(0, int(np.searchsorted(starts, c0 / rate - 1.0)))
            hi = int(np.searchsorted(starts, (c0 + n) / rate))
            for ws, we, text in words[lo:hi]:
                i0, i1 = max(0, round(ws * rate) - c0), min(n, round(we * rate) - c0)
                if i1 <= i0:
                    continue
                tt = t[i0:i1]
                env = np.minimum(1.0, np.minimum(tt - ws, we - tt) / 0.015)
                if text == "um":
                    x[i0:i1] += (
                        0.15
                        * (np.sin(2 * np.pi * 140 * tt) + 0.5 * np.sin(2 * np.pi * 280 * tt))
                        * env
                    )
                else:
                    x[i0:i1] += (
                        0.35
                        * voiced[i0:i1]
                        * env
                        * (0.55 + 0.45 * np.sin(2 * np.pi * 4.5 * (tt - ws)) ** 2)
                    )
            pcm = np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
            frame.sample_rate = rate
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)


def two_track_transcript(a: Plan, b: Plan, seconds: float) -> Transcript:
    segments = []
    for k, (plan, speaker) in enumerate(((a, "S1"), (b, "S2"))):
        for i in range(0, len(plan), 40):
            ws = [Word(text=t, start=s, end=e, speaker=speaker) for s, e, t in plan[i : i + 40]]
            segments.append(
                Segment(
                    id=f"t{k + 1}-{i}",
                    speaker=speaker,
                    start=ws[0].start,
                    end=ws[-1].end,
                    text=" ".join(w.text for w in ws),
                    words=ws,
                )
            )
    segments.sort(key=lambda s: s.start)
    return Transcript(segments=segments, duration=seconds)


def make_tracks(d: Path, name: str, seconds: float, seed: int) -> tuple[list[TrackSpec], Path]:
    a, b = conversation(seconds, seed)
    write_track(d / f"{name}-a.wav", seconds, a, seed, 44100)
    write_track(d / f"{name}-b.wav", seconds, b, seed + 100, 48000)
    doc = d / f"{name}.json"
    doc.write_text(two_track_transcript(a, b, seconds).model_dump_json())
    return [TrackSpec(d / f"{name}-a.wav", "Ann"), TrackSpec(d / f"{name}-b.wav", "Bob")], doc


def _stereo_render() -> RenderSettings:
    return RenderSettings(format="mp3", channels=2, title="Bench")


# --- memory child ---------------------------------------------------------------------------
def memory_child(a: Path, b: Path, doc: Path, out: Path, music: Path) -> None:
    transcript = Transcript.model_validate_json(doc.read_text())
    produce_multitrack(
        [TrackSpec(a, "Ann"), TrackSpec(b, "Bob")],
        transcript,
        out,
        template=Template(music=music),
        render=_stereo_render(),
        scratch_dir=out.parent,
    )
    status = Path("/proc/self/status").read_text()
    hwm = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"hwm_kib": int(hwm), "largest_worker_kib": mp3_encoder.last_worker_peak_kib}))


def rss_of_run(specs: list[TrackSpec], doc: Path, out: Path, music: Path) -> dict[str, float]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-memory",
            str(specs[0].path),
            str(specs[1].path),
            str(doc),
            str(out),
            str(music),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return {k: v / 1024.0 for k, v in data.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--memory-hours", type=float, default=3.0)
    ap.add_argument("--skip-multitrack", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-single", action="store_true")
    ap.add_argument("--skip-auto-editor", action="store_true")
    ap.add_argument("--child-memory", nargs=5, metavar=("A", "B", "DOC", "OUT", "MUSIC"))
    args = ap.parse_args()
    if args.child_memory:
        memory_child(*(Path(p) for p in args.child_memory))
        return

    print(f"cores available: {len(os.sched_getaffinity(0))}; load average {os.getloadavg()[0]:.1f}")
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="tapeworks-bench-studio-") as tmp:
        d = Path(tmp)
        music = d / "music.wav"
        bp.write_music(music)
        single_time: float | None = None
        if not (args.skip_multitrack and args.skip_single):
            t0 = time.perf_counter()
            wav, doc, words = bp.make_source(d, "single", seconds, seed=1)
            print(
                f"built {args.minutes:.0f}-min single-track source ({len(words)} words) in "
                f"{time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            transcript = Transcript.model_validate_json(doc.read_text())
            t0 = time.perf_counter()
            res = produce(
                wav,
                transcript,
                d / "single.mp3",
                template=Template(music=music),
                render=_stereo_render(),
            )
            single_time = time.perf_counter() - t0
            print(
                f"[single] full render (fillers+pauses, loudness 2-pass, limiter, ducked music, MP3 128k stereo): "
                f"{single_time:.1f} s for {args.minutes:.0f} min = {seconds / single_time:.1f}x real time "
                f"(goal 100x; load {os.getloadavg()[0]:.1f}); episode {res.duration_seconds / 60:.1f} min, "
                f"{res.loudness['output_lufs']} LUFS (target {res.loudness['target_lufs']}), "
                f"{res.loudness['true_peak_dbtp']} dBTP; cuts {json.dumps(res.cuts)}",
                flush=True,
            )

        if not args.skip_multitrack:
            t0 = time.perf_counter()
            specs, doc2 = make_tracks(d, "two", seconds, seed=1)
            print(
                f"built {args.minutes:.0f}-min two-track source in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            transcript2 = Transcript.model_validate_json(doc2.read_text())
            t0 = time.perf_counter()
            multi = produce_multitrack(
                specs,
                transcript2,
                d / "two.mp3",
                template=Template(music=music),
                render=_stereo_render(),
                scratch_dir=d,
            )
            multi_time = time.perf_counter() - t0
            assert single_time is not None
            print(
                f"[multitrack] two-track render (levelled {multi.track_gains_db} dB, mixed, same chain): "
                f"{multi_time:.1f} s = {seconds / multi_time:.1f}x real time; single-track in the same run "
                f"{seconds / single_time:.1f}x; two-track speed / single-track speed = {single_time / multi_time:.2f} "
                f"(goal >= 0.5); muted fillers {sum(len(m) for m in multi.mutes)}; "
                f"cuts {json.dumps(multi.result.cuts)}",
                flush=True,
            )
            for p in (*[s.path for s in specs], d / "two.mp3"):
                p.unlink()

        silence_time: float | None = None
        if not args.skip_single and single_time is not None:
            # like for like with auto-editor's default run: silence cutting only (pauses,
            # checked against the audio), no loudness, WAV out; the figure issue 11's bench
            # called "our time / its time" (0.46 then)
            t0 = time.perf_counter()
            produce(
                wav,
                transcript,
                d / "ours-silence.wav",
                cleaning=CleaningSettings(remove_fillers=False),
                loudness=LoudnessSettings(enabled=False),
                render=RenderSettings(format="wav"),
            )
            silence_time = time.perf_counter() - t0
            print(
                f"[single] ours silence-only (pauses checked against the audio, no loudness) -> WAV: "
                f"{silence_time:.1f} s ({seconds / silence_time:.1f}x, load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            (d / "ours-silence.wav").unlink(missing_ok=True)
        if not args.skip_single and not args.skip_auto_editor and single_time is not None:
            tool = bp.ensure_auto_editor()
            if tool is not None:
                # its default run (silence only) on the same file, the wall time of the whole
                # run; once writing WAV (no encode) and once MP3 128 kbit/s like ours
                for out_name, extra in (("ae.wav", []), ("ae.mp3", ["-b:a", "128k"])):
                    load = os.getloadavg()[0]
                    t0 = time.perf_counter()
                    ran = subprocess.run(
                        [str(tool), str(wav), "-o", str(d / out_name), *extra, "--no-open", "-q"],
                        capture_output=True,
                        text=True,
                    )
                    theirs = time.perf_counter() - t0
                    if (
                        ran.returncode != 0
                    ):  # e.g. "ffmpeg must be installed and on PATH" (apt-get install ffmpeg)
                        print(
                            f"[single] auto-editor failed, no comparison: {(ran.stderr or ran.stdout).strip()[-300:]}",
                            flush=True,
                        )
                        break
                    like = (
                        f"ours silence-only -> WAV / its run = {silence_time / theirs:.2f} (goal < 0.4); "
                        if silence_time is not None and not extra
                        else ""
                    )
                    print(
                        f"[single] auto-editor 23.32.1 silence-only -> {out_name.split('.')[1].upper()}"
                        f"{' 128k' if extra else ''}: {theirs:.1f} s ({seconds / theirs:.1f}x, load {load:.1f}); "
                        f"{like}our full render / its run = {single_time / theirs:.2f}",
                        flush=True,
                    )
                    (d / out_name).unlink(missing_ok=True)
        if single_time is not None:
            wav.unlink()

        if not args.skip_memory:
            short, sdoc = make_tracks(d, "short", 180.0, seed=2)
            rss_short = rss_of_run(short, sdoc, d / "short.mp3", music)
            for s in short:
                s.path.unlink()
            long_, ldoc = make_tracks(d, "long", args.memory_hours * 3600, seed=3)
            t0 = time.perf_counter()
            rss_long = rss_of_run(long_, ldoc, d / "long.mp3", music)
            print(
                f"[memory] two tracks, peak RSS of the render process: 3 min {rss_short['hwm_kib']:.0f} MiB, "
                f"{args.memory_hours:.0f} h {rss_long['hwm_kib']:.0f} MiB (run {time.perf_counter() - t0:.0f} s); "
                f"difference {rss_long['hwm_kib'] - rss_short['hwm_kib']:.0f} MiB (goal <= 100 MiB); "
                + (
                    f"largest MP3 worker process {rss_short['largest_worker_kib']:.0f} / "
                    f"{rss_long['largest_worker_kib']:.0f} MiB"
                    if rss_long["largest_worker_kib"]
                    else "MP3 encoded on threads of the render process (counted in it)"
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
