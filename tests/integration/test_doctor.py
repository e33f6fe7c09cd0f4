"""`tapeworks doctor` against a good deployment and against broken ones: each broken part
is reported by name, with what to do, and the command exits non-zero."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from tapeworks.db import migrate
from tests.conftest import LiveServer, make_settings
from tests.helpers.smtp_server import MailServer
from tests.helpers.workers import TAPEWORKS


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TAPEWORKS_")}
    return subprocess.run([TAPEWORKS, "doctor"], env={**base, **env, "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=300)


def _rows(out: str) -> dict[str, str]:
    """check name -> "ok" / "FAIL" from the doctor's table."""
    rows: dict[str, str] = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) >= 2 and cells[1] in ("ok", "FAIL") and cells[0]:
            rows[cells[0]] = cells[1]
    return rows


def test_a_good_deployment_passes_every_check(
        fresh_db_url: Callable[[str], str], live_server: Callable[..., LiveServer],
        mail_server: MailServer, tmp_path: Path) -> None:
    url = fresh_db_url("postgresql")
    srv = live_server(url)
    env = {"TAPEWORKS_DATA_DIR": str(tmp_path / "data"), "TAPEWORKS_DATABASE_URL": url,
           "TAPEWORKS_QUEUE_URL": "redis://127.0.0.1:6379/0", "TAPEWORKS_SPEECH_MODEL": "tiny.en",
           "TAPEWORKS_SPEECH_HUB": "0", "TAPEWORKS_SMTP_URL": f"smtp://127.0.0.1:{mail_server.port}",
           "TAPEWORKS_PUBLIC_URL": srv.url}
    done = _doctor(env)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows(done.stdout)
    assert rows == {"database": "ok", "store": "ok", "queue": "ok", "speech model": "ok",
                    "mail (SMTP)": "ok", "public URL": "ok"}, done.stdout
    assert "all 6 checks passed" in done.stderr
    assert "SHA-256" in done.stdout and "verified" in done.stdout


def test_each_broken_part_is_named_with_what_to_do(
        fresh_db_url: Callable[[str], str], tmp_path: Path) -> None:
    url = fresh_db_url("sqlite")
    migrate.downgrade(url, "0003")  # a database behind the code
    env = {"TAPEWORKS_DATA_DIR": str(tmp_path / "data"), "TAPEWORKS_DATABASE_URL": url,
           "TAPEWORKS_QUEUE_URL": "redis://127.0.0.1:1/0",
           "TAPEWORKS_STORAGE_URL": "s3://nowhere/tw", "TAPEWORKS_S3_ENDPOINT_URL": "http://127.0.0.1:1",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
           "TAPEWORKS_SPEECH_MODEL": "no-such-model", "TAPEWORKS_SPEECH_HUB": "0",
           "TAPEWORKS_SMTP_URL": "smtp://127.0.0.1:1", "TAPEWORKS_PUBLIC_URL": "http://127.0.0.1:1"}
    done = _doctor(env)
    assert done.returncode == 1
    assert _rows(done.stdout) == {k: "FAIL" for k in ("database", "store", "queue", "speech model",
                                                      "mail (SMTP)", "public URL")}, done.stdout
    assert "tapeworks db upgrade" in done.stdout  # what to do, for the database behind
    assert "6 of 6 checks failed" in done.stderr


def test_an_unconfigured_mail_server_and_public_url_are_not_failures(
        fresh_db_url: Callable[[str], str], tmp_path: Path) -> None:
    settings = make_settings(tmp_path, fresh_db_url("sqlite"))
    done = _doctor({"TAPEWORKS_DATA_DIR": str(settings.data_dir),
                    "TAPEWORKS_DATABASE_URL": settings.database_url,
                    "TAPEWORKS_SPEECH_ENGINE": "fake"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not configured: no mail is sent" in done.stdout and "TAPEWORKS_PUBLIC_URL" in done.stdout
