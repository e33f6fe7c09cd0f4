"""Settings: one pydantic-settings class, every variable prefixed `TAPEWORKS_`.

Settings are built explicitly (`Settings()` in the CLI, `create_app(settings)`), never
at import time, so tests can build as many differently-configured apps as they need.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tapeworks.errors import ConfigError

# Secrets that appear in docs and examples: refused outside development.
KNOWN_DEFAULT_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "tapeworks"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TAPEWORKS_", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("./tapeworks-data")
    database_url: str = ""  # default: sqlite file in data_dir
    queue_url: str = ""  # default: huey SQLite storage in data_dir; redis://... for many machines
    queue_name: str = "tapeworks"
    storage_url: str = ""  # default: local directory in data_dir; s3://bucket/prefix
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    secret_key: str = ""  # default: generated into data_dir/secret_key on first run
    admin_email: str | None = None
    admin_password: str | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    # In-process consumer threads for the embedded queue (0 = do not consume in `serve`).
    workers: int = 2
    access_token_ttl_seconds: int = 12 * 3600
    max_upload_bytes: int = 2 * 1024**3  # hard ceiling, before any plan limit

    # Jobs (rule 6)
    job_lease_seconds: float = 60.0
    job_heartbeat_seconds: float = 15.0
    job_max_attempts: int = 3
    reconcile_interval_seconds: float = 30.0
    # a queued job whose message was lost is re-sent after this long
    job_requeue_after_seconds: float = 120.0
    # Retention: how often the purge runs next to the reconciler (0 = never in this process)
    purge_interval_seconds: float = 3600.0

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

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        if isinstance(v, str):
            return [o.strip().rstrip("/") for o in v.split(",") if o.strip()]
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
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def scratch_dir(self) -> Path:
        """Local scratch space only: nothing here is ever the source of truth (rule 4)."""
        return self.data_dir / "scratch"

    def ensure_dirs(self) -> None:
        for d in (self.data_dir, self.scratch_dir, self.models_dir):
            d.mkdir(parents=True, exist_ok=True)

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
