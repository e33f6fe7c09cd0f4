"""Webhook throughput (issue 14): N events to a receiver on loopback.

    .venv/bin/python bench/bench_webhooks.py [--events 1000] [--threads 4] [--database sqlite|postgresql]

Prints figures; not part of the test suite. A migrated database (SQLite file, or a fresh
PostgreSQL database on 127.0.0.1:5432), one user with one endpoint, and `--threads`
consumer threads running `jobs.execute_next(rt, "short")` as `tapeworks worker` does. A
producer records the events one transaction each (`events.record_event`, the outbox path
the completions take) and notes when each commit returned; the receiver (a
ThreadingHTTPServer on 127.0.0.1 answering 204) notes when each request arrived.
Prints events per second delivered (from the first commit to the last receipt) and the
p50/p99/max delay from commit to receipt.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = ap.parse_args()


    import psycopg
    from tests.helpers.webhook_receiver import Receiver

    from tapeworks.config import Settings
    from tapeworks.db import migrate
    from tapeworks.events import service as events
    from tapeworks.logging import configure_logging
    from tapeworks.queue import jobs
    from tapeworks.runtime import Runtime
    from tapeworks.users import service as users
    from tapeworks.webhooks import service as webhooks

    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        pg_name = None
        if args.database == "postgresql":
            pg_name = f"tw_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test",
                                 autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{pg_name}"')
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
        else:
            url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        settings = Settings(environment="test", data_dir=Path(tmp) / "data", database_url=url,
                            secret_key="bench-" + uuid.uuid4().hex, workers=0,
                            speech_engine="fake", webhook_allow_private=True, log_level="ERROR")
        rt = Runtime(settings)
        receiver = Receiver().start()
        try:
            with rt.database.transaction() as db:
                uid = users.create_user(db, email="bench@example.com", password="password123").id
                webhooks.create_endpoint(db, rt, uid, url=receiver.url)
            committed: dict[str, float] = {}
            stop = threading.Event()

            def consume() -> None:
                while not stop.is_set():
                    if jobs.execute_next(rt, "short") == "idle":
                        time.sleep(0.01)

            consumers = [threading.Thread(target=consume, daemon=True)
                         for _ in range(args.threads)]
            for t in consumers:
                t.start()
            start = time.time()
            for n in range(args.events):
                ev = rt.database.run(lambda db, n=n: events.record_event(
                    db, rt, uid, "session.completed", {"id": f"s{n}", "title": f"talk {n}"}))
                committed[ev.id] = time.time()
            receiver.wait_for(args.events, timeout=600)
            stop.set()
            for t in consumers:
                t.join(10)
            got = {}
            for r in receiver.received:
                got.setdefault(r.headers["webhook-id"], r.at)
            delays = sorted(got[i] - committed[i] for i in committed if i in got)
            last = max(got.values())
            print(f"database: {args.database}, consumer threads: {args.threads}, "
                  f"events: {args.events}, received: {len(receiver.received)} "
                  f"({len(got)} distinct webhook-ids)")
            print(f"events recorded per second: {args.events / (max(committed.values()) - start):.1f}")
            print(f"events delivered per second: {len(got) / (last - start):.1f}")
            q = statistics.quantiles(delays, n=100)
            print(f"delay commit -> receipt: p50 {statistics.median(delays) * 1000:.0f} ms, "
                  f"p99 {q[98] * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms")
        finally:
            receiver.stop()
            rt.close()
            if pg_name:
                with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test",
                                     autocommit=True) as c:
                    c.execute(f'DROP DATABASE "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
