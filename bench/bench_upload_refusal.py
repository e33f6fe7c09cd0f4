"""Cost of refusing an over-long upload, as a function of the file's length (issue 12).

    .venv/bin/python bench/bench_upload_refusal.py [--limit-minutes 30]

Prints figures; not part of the test suite. Writes FLACs of digital silence of 1 h, 10 h and
100 h (8 kHz mono, `tests.helpers.audio.write_silent_flac`; the 100-hour one is well under
the free plan's 200 MB), each twice: with the length in its STREAMINFO header ("declared")
and with the length left unknown, as an encoder writing to a pipe leaves it ("undeclared",
so only decoding tells). Every file is longer than the limit (default 30 minutes per
recording, so the 1-hour file is over it too).

Per file, CPU seconds of the probe (this process's `time.process_time`, median of 3 runs):
- before: the probe decodes the whole file, then the plan refuses it (what happened before
  the fix: `probe_audio(path)`, then the length check);
- after: the probe is given the plan's limit (`probe_audio(path, max_seconds=limit)`): a
  declared length over the limit is refused before any decoding, an undeclared one stops
  decoding as soon as it passes the limit.
Then the whole request, after: `POST /api/v1/sessions` of the 100-hour undeclared file on the
free plan (60 minutes), in process (TestClient, migrated SQLite), CPU seconds of the process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

HOUR = 3600.0


def cpu(fn: object, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()  # type: ignore[operator]
        times.append(time.process_time() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit-minutes", type=float, default=30.0)
    parser.add_argument("--hours", default="1,10,100")
    args = parser.parse_args()
    limit = args.limit_minutes * 60

    from tests.helpers.audio import write_silent_flac

    from tapeworks.audio.probe import probe_audio

    hours = [float(h) for h in args.hours.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"refusing over-long silent FLACs (8 kHz mono) on a limit of {args.limit_minutes:g} "
              "minutes per recording; CPU seconds of the probe, median of 3")
        print(f"{'length':>8} {'header':>11} {'MB':>6} {'before s':>9} {'after s':>8} "
              f"{'decoded before':>15} {'decoded after':>14}")
        for h in hours:
            for declared in (True, False):
                path = write_silent_flac(d / f"{h:g}h-{declared}.flac", h * HOUR,
                                         declare_length=declared)
                full = probe_audio(path)
                bounded = probe_audio(path, max_seconds=limit)
                assert bounded.over_limit and full.duration_seconds > limit
                before = cpu(lambda p=path: probe_audio(p), runs=1 if h >= 100 else 3)
                after = cpu(lambda p=path: probe_audio(p, max_seconds=limit))
                print(f"{h:>7g}h {'declared' if declared else 'undeclared':>11} "
                      f"{path.stat().st_size / 1e6:>6.2f} {before:>9.3f} {after:>8.3f} "
                      f"{full.decoded_seconds / HOUR:>13.1f} h {bounded.decoded_seconds / 60:>10.1f} min")
                path.unlink()

        print()
        print("the whole request after the fix: POST /api/v1/sessions on the free plan (60 minutes)")
        request_cpu(d)


def request_cpu(d: Path) -> None:
    import logging

    from fastapi.testclient import TestClient
    from tests.helpers.audio import write_silent_flac

    from tapeworks.app import create_app
    from tapeworks.config import Settings
    from tapeworks.db import migrate
    from tapeworks.runtime import Runtime
    from tapeworks.users import service as users

    url = f"sqlite:///{d / 'bench.db'}"
    migrate.upgrade(url)
    settings = Settings(environment="test", data_dir=d / "data", database_url=url,
                        secret_key="bench-" + "x" * 40, workers=0, speech_engine="fake",
                        log_level="WARNING")
    rt = Runtime(settings)
    app = create_app(settings, rt)
    logging.disable(logging.INFO)
    with TestClient(app) as client:
        with rt.database.transaction() as db:
            users.create_user(db, email="free@example.com", password="password123")
        token = client.post("/api/v1/auth/login", json={"email": "free@example.com",
                                                         "password": "password123"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for declared in (True, False):
            path = write_silent_flac(d / f"req-{declared}.flac", 100 * HOUR, declare_length=declared)
            data = path.read_bytes()
            status: list[int] = []

            def send(data: bytes = data, status: list[int] = status) -> None:
                r = client.post("/api/v1/sessions", headers=headers,
                                files={"file": ("long.flac", data, "audio/flac")})
                status.append(r.status_code)

            spent = cpu(send)
            print(f"  100 h {'declared' if declared else 'undeclared':>11}: {spent:.3f} CPU s, "
                  f"answered {sorted(set(status))}")
    rt.close()


if __name__ == "__main__":
    main()
