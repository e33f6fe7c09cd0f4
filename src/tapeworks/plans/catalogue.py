"""The one plan catalogue. Every limit lives here, with its unit in its name (rule 10).

Operators override values with `TAPEWORKS_PLAN_OVERRIDES` (JSON, e.g.
`{"free": {"monthly_audio_seconds": 7200}}`); the result is validated at start-up and a
bad catalogue stops the service with a message naming the problem.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tapeworks.errors import ConfigError, QuotaExceeded
from tapeworks.transcripts.exporters import EXPORT_FORMATS

GIB = 1024**3
HOUR = 3600


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    monthly_audio_seconds: int | None = Field(ge=0)  # None = unlimited
    max_file_bytes: int = Field(gt=0)
    max_recording_seconds: int | None = Field(ge=1)
    max_concurrent_jobs: int = Field(ge=1)
    retention_days_source_audio: int | None = Field(ge=1)  # None = keep forever
    retention_days_transcripts: int | None = Field(ge=1)  # None = never delete
    export_formats: tuple[str, ...]
    episodes_enabled: bool
    max_storage_bytes: int | None = Field(default=None, ge=0)

    @field_validator("export_formats")
    @classmethod
    def _known_formats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [f for f in v if f not in EXPORT_FORMATS]
        if bad:
            raise ValueError(f"unknown export formats {bad}; known: {list(EXPORT_FORMATS)}")
        if "json" not in v:
            raise ValueError("every plan must allow the json export")
        return v


DEFAULT_PLANS: dict[str, dict[str, Any]] = {
    "free": dict(
        monthly_audio_seconds=2 * HOUR, max_file_bytes=200 * 1024**2, max_recording_seconds=HOUR,
        max_concurrent_jobs=1, retention_days_source_audio=30, retention_days_transcripts=365,
        export_formats=("json", "txt", "srt", "vtt"), episodes_enabled=False,
        max_storage_bytes=2 * GIB,
    ),
    "pro": dict(
        monthly_audio_seconds=30 * HOUR, max_file_bytes=2 * GIB, max_recording_seconds=6 * HOUR,
        max_concurrent_jobs=3, retention_days_source_audio=180, retention_days_transcripts=None,
        export_formats=EXPORT_FORMATS, episodes_enabled=True, max_storage_bytes=100 * GIB,
    ),
    "unlimited": dict(
        monthly_audio_seconds=None, max_file_bytes=8 * GIB, max_recording_seconds=None,
        max_concurrent_jobs=8, retention_days_source_audio=None, retention_days_transcripts=None,
        export_formats=EXPORT_FORMATS, episodes_enabled=True, max_storage_bytes=None,
    ),
}


def build_catalogue(overrides_json: str = "") -> dict[str, Plan]:
    try:
        overrides = json.loads(overrides_json) if overrides_json.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"TAPEWORKS_PLAN_OVERRIDES is not valid JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise ConfigError("TAPEWORKS_PLAN_OVERRIDES must be a JSON object of plan name -> values")
    plans: dict[str, Plan] = {}
    for name in sorted(set(DEFAULT_PLANS) | set(overrides)):
        values = {**DEFAULT_PLANS.get(name, {}), **(overrides.get(name) or {}), "name": name}
        try:
            plans[name] = Plan(**values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"plan {name!r} is not valid: {problems}") from None
    return plans


_catalogue: dict[str, Plan] | None = None


def configure(overrides_json: str) -> dict[str, Plan]:
    global _catalogue
    _catalogue = build_catalogue(overrides_json)
    return _catalogue


def catalogue() -> dict[str, Plan]:
    return _catalogue if _catalogue is not None else configure("")


def get_plan(name: str) -> Plan:
    """The plan by name; a user on an unknown plan is refused (fail closed), never unlimited."""
    plans = catalogue()
    plan = plans.get(name)
    if plan is None:
        raise QuotaExceeded(f"plan {name!r} is not defined in the plan catalogue; an administrator "
                            f"must move this account to one of: {', '.join(plans)}",
                            details={"limit_type": "plan_missing"})
    return plan
