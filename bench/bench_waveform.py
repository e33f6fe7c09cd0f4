"""Waveform peaks for the cut editor: time and peak memory, short vs long recording.

    .venv/bin/python bench/bench_waveform.py [--minutes 60]

Prints figures; not part of the test suite. Encodes a 3-minute and an N-minute 44.1 kHz
stereo MP3 (128 kbit/s, the common podcast upload) of speech-like noise, then computes
the overview peaks (6,000 buckets, what `GET /sessions/{id}/waveform` stores) and one
detail span (30 s in the middle, 1,000 buckets), each in a fresh process so the peak
resident memory of one does not hide the other's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

RATE = 44_100


def write_mp3(path: Path, minutes: float) -> None:
    """Speech-like noise, encoded block by block (never the whole file in memory)."""
    from fractions import Fraction

    import av
    import numpy as np
    from tests.helpers.audio import speechlike

    block = speechlike(10.0, seed=3, channels=2, rate=RATE)  # 10 s, repeated with a varied gain
    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=RATE, layout="stereo")
        stream.bit_rate = 128_000
        pts = 0
        for i in range(int(minutes * 6)):
            chunk = block * (0.5 + 0.5 * ((i * 7) % 10) / 10)
            for k in range(0, chunk.shape[1], 1152):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk[:, k:k + 1152]),
                                                   format="fltp", layout="stereo")
                frame.sample_rate = RATE
                frame.pts = pts
                frame.time_base = Fraction(1, RATE)
                pts += frame.samples
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def measure(path: Path, seconds: float, detail: bool) -> dict[str, float]:
    """Run one computation in a child process; its wall time and peak RSS."""
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(ROOT / 'src')!r})
from pathlib import Path
from tapeworks.audio.peaks import compute_peaks
start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
if {detail}:
    pk = compute_peaks(Path({str(path)!r}), duration={seconds}, buckets=1000,
                       start={seconds / 2}, end={seconds / 2 + 30})
else:
    pk = compute_peaks(Path({str(path)!r}), duration={seconds}, buckets=6000)
elapsed = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "rss_mib": rss / 1024, "import_rss_mib": start / 1024,
                  "buckets": len(pk.peaks)}}))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for minutes in (3.0, args.minutes):
            path = Path(tmp) / f"talk-{minutes:g}.mp3"
            write_mp3(path, minutes)
            seconds = minutes * 60
            for detail in (False, True):
                m = measure(path, seconds, detail)
                rows.append((minutes, "detail 30 s" if detail else "overview", m,
                             path.stat().st_size / 2**20))
        print(f"{'recording':>10} {'MP3 MiB':>8} {'view':>12} {'buckets':>8} {'time s':>8} "
              f"{'x realtime':>11} {'peak RSS MiB':>13}")
        for minutes, view, m, mib in rows:
            span = 30.0 if view.startswith("detail") else minutes * 60
            print(f"{minutes:>8g} m {mib:>8.1f} {view:>12} {m['buckets']:>8.0f} {m['seconds']:>8.2f} "
                  f"{span / m['seconds']:>11.0f} {m['rss_mib']:>13.1f}")
        print(f"(peak RSS includes about {rows[0][2]['import_rss_mib']:.0f} MiB of imports)")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - t0:.0f} s")
