"""`tapeworks worker` processes for tests that kill, restart or separate workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

TAPEWORKS = str(Path(sys.executable).with_name("tapeworks"))


def worker_env(settings: Any) -> dict[str, str]:
    """The environment of a worker process on the same database, queue and store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWORKS_")}
    env.update({
        "TAPEWORKS_DATA_DIR": str(settings.data_dir),
        "TAPEWORKS_DATABASE_URL": settings.database_url,
        "TAPEWORKS_QUEUE_URL": settings.queue_url,
        "TAPEWORKS_QUEUE_NAME": settings.queue_name,
        "TAPEWORKS_SECRET_KEY": settings.secret_key,
        "TAPEWORKS_SPEECH_ENGINE": "fake",
        "TAPEWORKS_FAKE_REALTIME_FACTOR": str(settings.fake_realtime_factor),
        "TAPEWORKS_JOB_LEASE_SECONDS": str(settings.job_lease_seconds),
        "TAPEWORKS_JOB_HEARTBEAT_SECONDS": str(settings.job_heartbeat_seconds),
        "TAPEWORKS_RECONCILE_INTERVAL_SECONDS": str(settings.reconcile_interval_seconds),
        "TAPEWORKS_SHUTDOWN_GRACE_SECONDS": str(settings.shutdown_grace_seconds),
        "TAPEWORKS_PLAN_OVERRIDES": settings.plan_overrides,
        "TAPEWORKS_ENVIRONMENT": "test",
    })
    if settings.storage_url:
        env["TAPEWORKS_STORAGE_URL"] = settings.storage_url
    return env


def start_worker(settings: Any, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`tapeworks worker --threads 1 [args]`, its output appended to `log`."""
    return start_tapeworks(settings, log, "worker", "--threads", "1", *args)


def start_tapeworks(settings: Any, log: Path, *args: str,
                    env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Any `tapeworks` command in its own process, on the same database, queue and store."""
    return subprocess.Popen([TAPEWORKS, *args], env={**worker_env(settings), **(env or {})},
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)
