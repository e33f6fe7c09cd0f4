"""Settings: one pydantic-settings class, every variable prefixed `TAPEWORKS_`.

Settings are built explicitly (`Settings()` in the CLI, `create_app(settings)`), never
at import time, so tests can build as many differently-configured apps as they need.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tapeworks.errors import ConfigError

# Secrets that appear in docs and examples: refused outside development.
KNOWN_DEFAULT_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "tapeworks"})

# Standard Webhooks' recommended schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = "0,5s,5m,30m,2h,5h,10h,10h"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_durations(value: str) -> tuple[float, ...]:
    """``"0,5s,5m,2h"`` -> seconds ``(0.0, 5.0, 300.0, 7200.0)``; a bare number is seconds."""
    out: list[float] = []
    for part in value.split(","):
        m = _DURATION.match(part)
        if not m:
            raise ValueError(
                f"{part.strip()!r} is not a duration; write numbers with an optional unit "
                "(ms, s, m, h, d), separated by commas, e.g. 0,5s,5m,30m,2h"
            )
        seconds = float(m.group(1)) * _UNIT_SECONDS[(m.group(2) or "s").lower()]
        if not math.isfinite(seconds):
            raise ValueError(f"{part.strip()!r} is not a finite duration")
        out.append(seconds)
    if not out:
        raise ValueError("the schedule needs at least one attempt")
    return tuple(out)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAPEWORKS_", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./tapeworks-data")
    database_url: str = ""  # default: sqlite file in data_dir
    queue_url: str = ""  # default: huey SQLite storage in data_dir; redis://... for many machines
    queue_name: str = "tapeworks"
    storage_url: str = ""  # default: local directory in data_dir; s3://bucket/prefix
    s3_endpoint_url: str = ""  # MinIO, Ceph, R2, ...: the S3 API's address (default: AWS)
    s3_region: str = ""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    secret_key: str = ""  # default: generated into data_dir/secret_key on first run
    admin_email: str | None = None
    admin_password: str | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    # In-process consumer threads in `serve`: `workers` for the long pool (transcriptions,
    # renders), `short_workers` for the short pool (deliveries, mail, feed work), so short jobs
    # never wait behind hour-long ones. `TAPEWORKS_WORKERS=0` makes an API-only process (no
    # consumers, no periodic jobs) unless `short_workers` is set explicitly.
    workers: int = 2
    short_workers: int | None = None  # default: 1 when workers > 0, else 0
    access_token_ttl_seconds: int = 12 * 3600
    # Sign-in throttling: within the window, this many failed passwords for one account from
    # one address, or this many from one address whatever the account, and further attempts
    # are refused (429 with Retry-After) until the oldest failures leave the window. Keyed by
    # address too, so nobody can lock a victim out from elsewhere.
    login_window_seconds: float = Field(default=15 * 60.0, gt=0)
    login_max_failures_per_account: int = Field(default=10, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    max_upload_bytes: int = 2 * 1024**3  # hard ceiling, before any plan limit
    # Longest recording or asset accepted whatever the plan says (a plan without a
    # per-recording limit still has this one): the probe never decodes past it.
    max_recording_seconds: float = 24 * 3600.0
    # Every request body but uploads (which stream with their plan's limit).
    max_body_bytes: int = 1024 * 1024

    # Operations. /metrics answers only with `Authorization: Bearer <metrics token>`, or to
    # anyone with TAPEWORKS_METRICS_PUBLIC=true; without either it is a 404. The same token
    # (or an administrator's) gets the details of /readyz; anyone else gets ready or not.
    metrics_token: str = ""
    metrics_public: bool = False
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks,
    # comma-separated, e.g. "127.0.0.1,10.0.0.0/8"); everyone else's are ignored.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Jobs (rule 6)
    job_lease_seconds: float = 60.0
    job_heartbeat_seconds: float = 15.0
    job_max_attempts: int = 3
    reconcile_interval_seconds: float = 30.0
    # a queued job whose message was lost is re-sent after this long
    job_requeue_after_seconds: float = 120.0
    # SIGTERM: running jobs get this long to finish; the others go back to the queue at once
    shutdown_grace_seconds: float = 30.0
    # Retention: how often the purge runs next to the reconciler (0 = never in this process)
    purge_interval_seconds: float = 3600.0
    # Publishing: how often scheduled items whose publish_at has passed are announced
    # (their episode.published event), next to the reconciler (0 = never in this process)
    publish_check_interval_seconds: float = 30.0

    # Speech
    speech_engine: Literal["whisper", "cloud", "fake"] = "whisper"
    speech_model: str = "base"
    speech_model_path: str | None = None
    speech_cloud_url: str | None = None
    speech_cloud_api_key: str | None = None
    fake_realtime_factor: float = 0.0  # fake engine only (tests)

    # Plans: JSON object of per-plan overrides, e.g. {"free": {"monthly_audio_seconds": 7200}}
    plan_overrides: str = ""
    default_plan: str = "free"

    log_level: str = "INFO"
    log_json: bool = True

    # Links in mail and webhook payloads: the address users reach this service at
    # (default: http://{host}:{port}).
    public_url: str = ""

    # Webhooks (issue 14). Delay before each attempt of one event: the first is the
    # first delivery, so its length is the number of attempts.
    webhook_retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        default_factory=lambda: parse_durations(DEFAULT_WEBHOOK_RETRY_SCHEDULE)
    )
    webhook_timeout_seconds: float = 15.0
    # Reach loopback and private addresses (tests, a receiver on the same network).
    webhook_allow_private: bool = False
    # An endpoint failing every attempt for this long is disabled and its owner told.
    webhook_disable_after_seconds: float = 5 * 86400.0

    # Mail: smtp://user:pass@host:587 (STARTTLS when offered, required with a password)
    # or smtps://user:pass@host:465 (TLS from the start). Unset: no mail is sent.
    smtp_url: str = ""
    mail_from: str = "tapeworks <tapeworks@localhost>"

    # Narrators (text to speech for generated assets): piper's neural voices when the
    # `narration` extra is installed (plus `*.onnx` voices in `narrator_voice_dir`), an
    # ElevenLabs-style cloud service when both of these are set, espeak-ng as the fallback.
    narrator_cloud_url: str = ""
    narrator_cloud_api_key: str = ""
    narrator_voice_dir: Path | None = None

    # OpenAI-compatible /v1/audio/transcriptions: longer recordings are refused (413).
    sync_max_seconds: float = 600.0

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        if isinstance(v, str):
            return [o.strip().rstrip("/") for o in v.split(",") if o.strip()]
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, v: object) -> object:
        if isinstance(v, str):
            v = [p.strip() for p in v.split(",") if p.strip()]
        if isinstance(v, list):
            for item in v:
                try:
                    ipaddress.ip_network(str(item), strict=False)
                except ValueError:
                    raise ValueError(f"{item!r} in TAPEWORKS_TRUSTED_PROXIES is not an IP "
                                     "address or network (e.g. 10.0.0.0/8)") from None
        return v

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, v: object) -> object:
        if isinstance(v, str):
            return parse_durations(v)
        return v

    @model_validator(mode="after")
    def _paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        return self

    # Derived values -----------------------------------------------------------------
    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "tapeworks.db"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def is_embedded_database(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def serve_threads(self) -> dict[str, int]:
        """Consumer threads per pool inside `serve`."""
        short = self.short_workers if self.short_workers is not None else int(self.workers > 0)
        return {"long": self.workers, "short": short}

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def scratch_dir(self) -> Path:
        """Local scratch space only: nothing here is ever the source of truth (rule 4)."""
        return self.data_dir / "scratch"

    def ensure_dirs(self) -> None:
        """Make the data dir (0700: recordings and the database are private) and, on the
        embedded default, the database file (0600; SQLite's -wal and -shm files take its
        mode). What already exists keeps the mode its operator gave it."""
        for d in (self.data_dir, self.scratch_dir, self.models_dir):
            if not d.exists():
                d.mkdir(parents=True, exist_ok=True, mode=0o700)
                d.chmod(0o700)  # whatever the umask
        if not self.database_url and not self.sqlite_path.exists():
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.sqlite_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))

    def resolved_secret_key(self) -> str:
        """The signing key: from the environment, else generated once into the data dir.

        A key left at a known default is refused outside development.
        """
        key = self.secret_key
        if key:
            if key.lower() in KNOWN_DEFAULT_SECRETS and self.environment != "development":
                raise ConfigError(
                    "TAPEWORKS_SECRET_KEY is set to a well-known default; "
                    "set a long random value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            return key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(key)
        tmp.chmod(0o600)
        tmp.replace(path)
        return key
