"""Production benchmark: speed, auto-editor side by side, and memory vs length.

    .venv/bin/python bench/bench_production.py [--minutes 60] [--memory-hours 3] [--skip-auto-editor]

Prints figures; not part of the test suite. Source audio is synthetic speech with known
word boundaries: band-limited noise "words" with syllable envelopes, short gaps inside
phrases, pauses of 0.3-4 s between phrases and ~5 % "um" fillers (a voiced hum),
44.1 kHz stereo 16-bit WAV, written streaming. The music bed is a 3-minute chord, looped.

auto-editor is installed with ../shared/tools/install-auto-editor.sh into
bench/out/auto-editor-venv when missing (it needs Debian's ffmpeg).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tapeworks.production.pipeline import (  # noqa: E402
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    Template,
    produce,
)
from tapeworks.transcripts.model import Segment, Transcript, Word  # noqa: E402

RATE = 44100
from tests.helpers.paths import TOOLS_DIR  # noqa: E402

AUTO_EDITOR = ROOT / "bench" / "out" / "auto-editor-venv" / "bin" / "auto-editor"
INSTALLER = TOOLS_DIR / "install-auto-editor.sh"


# --- synthetic episode ---------------------------------------------------------------
def word_plan(seconds: float, seed: int) -> list[tuple[float, float, str]]:
    rng = np.random.default_rng(seed)
    words: list[tuple[float, float, str]] = []
    t = 0.5
    while t < seconds - 6:
        for _ in range(int(rng.integers(4, 14))):
            dur = float(rng.uniform(0.18, 0.55))
            text = "um" if rng.random() < 0.05 else f"w{len(words)}"
            words.append((t, t + dur, text))
            t += dur + float(rng.uniform(0.04, 0.25))
        t += float(rng.choice([0.35, 0.8, 1.2, 2.0, 3.0, 4.0]))
    return words


def write_episode(path: Path, seconds: float, words: list[tuple[float, float, str]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    b, a = signal.butter(4, [150, 3500], btype="band", fs=RATE)
    zi = np.zeros((2, max(len(a), len(b)) - 1))
    chunk = RATE * 10
    total = int(seconds * RATE)
    starts = np.array([w[0] for w in words])
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=RATE, layout="stereo")
        for c0 in range(0, total, chunk):
            n = min(chunk, total - c0)
            noise = rng.standard_normal((2, n))
            noise[1] = 0.8 * noise[0] + 0.6 * noise[1]
            voiced, zi = signal.lfilter(b, a, noise, axis=1, zi=zi)
            x = 0.001 * rng.standard_normal((2, n))  # room tone
            t = (np.arange(n) + c0) / RATE
            lo = max(0, int(np.searchsorted(starts, c0 / RATE - 1.0)))
            hi = int(np.searchsorted(starts, (c0 + n) / RATE))
            for ws, we, text in words[lo:hi]:
                i0, i1 = max(0, round(ws * RATE) - c0), min(n, round(we * RATE) - c0)
                if i1 <= i0:
                    continue
                tt = t[i0:i1]
                env = np.minimum(1.0, np.minimum(tt - ws, we - tt) / 0.015)
                if text == "um":
                    hum = np.sin(2 * np.pi * 140 * tt) + 0.5 * np.sin(2 * np.pi * 280 * tt)
                    x[:, i0:i1] += 0.15 * hum * env
                else:
                    syl = 0.55 + 0.45 * np.sin(2 * np.pi * 4.5 * (tt - ws)) ** 2
                    x[:, i0:i1] += 0.35 * voiced[:, i0:i1] * env * syl
            pcm = np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T.reshape(1, -1)), format="s16", layout="stereo")
            frame.sample_rate = RATE
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)


def write_music(path: Path, seconds: float = 180.0) -> None:
    t = np.arange(int(seconds * RATE)) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (196.0, 246.9, 293.7)) / 3
    x = 0.3 * chord * (0.8 + 0.2 * np.sin(2 * np.pi * 0.25 * t))
    pcm = (np.stack([x, x]) * 32767).astype(np.int16)
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_s16le", rate=RATE, layout="stereo")
        for i in range(0, pcm.shape[1], RATE):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, i : i + RATE].T.reshape(1, -1)), format="s16", layout="stereo")
            frame.sample_rate = RATE
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode(None):
            out.mux(p)


def transcript_for(words: list[tuple[float, float, str]], seconds: float) -> Transcript:
    segs = []
    for k in range(0, len(words), 40):
        ws = [Word(text=txt, start=a, end=b) for a, b, txt in words[k : k + 40]]
        segs.append(Segment(id=f"s{k}", start=ws[0].start, end=ws[-1].end, text=" ".join(w.text for w in ws), words=ws))
    return Transcript(segments=segs, duration=seconds)


def make_source(dir_: Path, name: str, seconds: float, seed: int) -> tuple[Path, Path, list[tuple[float, float, str]]]:
    words = word_plan(seconds, seed)
    wav, doc = dir_ / f"{name}.wav", dir_ / f"{name}.json"
    write_episode(wav, seconds, words, seed)
    doc.write_text(transcript_for(words, seconds).model_dump_json())
    return wav, doc, words


# --- clipping ---------------------------------------------------------------------------
def clipped_words(words: list[tuple[float, float, str]], kept: list[tuple[float, float]], tol: float = 0.001) -> int:
    """Speech words (not fillers) not wholly inside one kept range."""
    starts = np.array([a for a, _ in kept])
    count = 0
    for ws, we, text in words:
        if text == "um":
            continue
        i = int(np.searchsorted(starts, ws + tol, side="right")) - 1
        if i < 0 or kept[i][1] < we - tol:
            count += 1
    return count


# --- auto-editor --------------------------------------------------------------------------
def ensure_auto_editor() -> Path | None:
    if AUTO_EDITOR.exists():
        return AUTO_EDITOR
    print(f"auto-editor missing: installing with {INSTALLER} (takes a few minutes) ...", flush=True)
    done = subprocess.run(["bash", str(INSTALLER), str(AUTO_EDITOR.parents[1])], capture_output=True, text=True)
    if done.returncode != 0 or not AUTO_EDITOR.exists():
        print(f"could not install auto-editor; run: bash {INSTALLER} {AUTO_EDITOR.parents[1]}\n{done.stderr[-2000:]}")
        return None
    return AUTO_EDITOR


def auto_editor_kept(tool: Path, wav: Path) -> list[tuple[float, float]]:
    """auto-editor's kept ranges (source seconds), from its v3 timeline export."""
    done = subprocess.run([str(tool), str(wav), "--export", "timeline:api=3", "--no-open", "-q"],
                          check=True, capture_output=True, text=True)
    data = json.loads(done.stdout[done.stdout.index("{"):])
    tb = data.get("timebase", "30/1")
    num, _, den = str(tb).partition("/")
    fps = float(num) / float(den or 1)
    clips = data.get("a", [[]])[0] if data.get("a") else data.get("v", [[]])[0]
    kept = sorted((c["offset"] / fps, (c["offset"] + c["dur"]) / fps) for c in clips)
    return kept


# --- memory child -----------------------------------------------------------------------------
def memory_child(wav: Path, doc: Path, out: Path, music: Path) -> None:
    transcript = Transcript.model_validate_json(doc.read_text())
    produce(wav, transcript, out, template=Template(music=music), render=RenderSettings(format="mp3"))
    # VmHWM (peak RSS of this process image, KiB); ru_maxrss would also carry the parent's
    # peak across fork+exec on Linux
    status = Path("/proc/self/status").read_text()
    hwm = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    print(hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def rss_of_run(wav: Path, doc: Path, out: Path, music: Path) -> float:
    done = subprocess.run([sys.executable, __file__, "--child-memory", str(wav), str(doc), str(out), str(music)],
                          check=True, capture_output=True, text=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024.0  # KiB -> MiB


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--memory-hours", type=float, default=3.0)
    ap.add_argument("--skip-auto-editor", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--child-memory", nargs=4, metavar=("WAV", "DOC", "OUT", "MUSIC"))
    args = ap.parse_args()
    if args.child_memory:
        memory_child(*(Path(p) for p in args.child_memory))
        return

    print(f"cores available: {len(os.sched_getaffinity(0))}")
    with tempfile.TemporaryDirectory(prefix="tapeworks-bench-") as tmp:
        d = Path(tmp)
        seconds = args.minutes * 60
        t0 = time.perf_counter()
        wav, doc, words = make_source(d, "episode", seconds, seed=1)
        music = d / "music.wav"
        write_music(music)
        print(f"built {args.minutes:.0f}-min source ({len(words)} words) in {time.perf_counter() - t0:.1f} s")
        transcript = Transcript.model_validate_json(doc.read_text())

        # 1. speed: cuts + two-pass loudness + music bed + MP3
        if not args.skip_speed:
            t0 = time.perf_counter()
            res = produce(wav, transcript, d / "episode.mp3", template=Template(music=music),
                          render=RenderSettings(format="mp3", title="Bench"))
            full = time.perf_counter() - t0
            print(f"[speed] full produce (fillers+pauses, loudness 2-pass, limiter, ducked music, MP3 128k stereo): "
                  f"{full:.1f} s for {seconds / 60:.0f} min = {seconds / full:.1f}x real time "
                  f"(goal >= 40x); episode {res.duration_seconds / 60:.1f} min; cuts {json.dumps(res.cuts)}; "
                  f"loudness {json.dumps(res.loudness)}")
            for label, variant in (("mono 128k", RenderSettings(format="mp3", channels=1)),
                                   ("stereo 128k, LAME -q 7", RenderSettings(format="mp3", mp3_quality=7))):
                t0 = time.perf_counter()
                produce(wav, transcript, d / "variant.mp3", template=Template(music=music), render=variant)
                took = time.perf_counter() - t0
                print(f"[speed] same, MP3 {label}: {took:.1f} s = {seconds / took:.1f}x real time")
            ours_clipped = clipped_words(words, res.edit_list.kept_ranges())
            print(f"[speed] words clipped by the full produce: {ours_clipped}")

        # 2. side by side with auto-editor: silence cutting only, WAV out
        t0 = time.perf_counter()
        silence = produce(wav, transcript, d / "ours-silence.wav",
                          cleaning=CleaningSettings(remove_fillers=False),
                          loudness=LoudnessSettings(enabled=False), render=RenderSettings(format="wav"))
        ours = time.perf_counter() - t0
        ours_clip = clipped_words(words, silence.edit_list.kept_ranges())
        print(f"[auto-editor] ours silence-only -> WAV: {ours:.1f} s ({seconds / ours:.1f}x), "
              f"{silence.duration_seconds / 60:.1f} min kept, words clipped {ours_clip}")
        tool = None if args.skip_auto_editor else ensure_auto_editor()
        if tool is not None:
            t0 = time.perf_counter()
            subprocess.run([str(tool), str(wav), "-o", str(d / "ae.wav"), "--no-open", "-q"], check=True, capture_output=True)
            theirs = time.perf_counter() - t0
            with av.open(str(d / "ae.wav")) as c:
                ae_dur = float(c.streams.audio[0].duration * c.streams.audio[0].time_base)
            try:
                ae_clip: int | str = clipped_words(words, auto_editor_kept(tool, wav))
            except (subprocess.CalledProcessError, KeyError, ValueError, json.JSONDecodeError) as exc:
                ae_clip = f"unknown ({exc})"
            print(f"[auto-editor] auto-editor 23.32.1 defaults (threshold 4%, margin 0.2s) -> WAV: {theirs:.1f} s "
                  f"({seconds / theirs:.1f}x), {ae_dur / 60:.1f} min kept, words clipped {ae_clip}")
            print(f"[auto-editor] our time / its time = {ours / theirs:.2f} (goal < 1.0)")

        # 3. memory: 3 hours vs 3 minutes, each in its own process
        if not args.skip_memory:
            short = make_source(d, "short", 180.0, seed=2)
            rss_short = rss_of_run(short[0], short[1], d / "short.mp3", music)
            (d / "short.wav").unlink()
            long_ = make_source(d, "long", args.memory_hours * 3600, seed=3)
            t0 = time.perf_counter()
            rss_long = rss_of_run(long_[0], long_[1], d / "long.mp3", music)
            print(f"[memory] peak RSS 3-min episode {rss_short:.0f} MiB; {args.memory_hours:.0f}-hour episode "
                  f"{rss_long:.0f} MiB (run {time.perf_counter() - t0:.0f} s); difference {rss_long - rss_short:.0f} MiB "
                  f"(goal <= 100 MiB)")


if __name__ == "__main__":
    main()
