"""The one plan catalogue. Every limit lives here, with its unit in its name (rule 10).

Layers, each validated as a whole: the defaults below, then the operator's file
`{data_dir}/plan_overrides.json` (written by `tapeworks plans set`), then
`TAPEWORKS_PLAN_OVERRIDES` (JSON, e.g. `{"free": {"monthly_audio_seconds": 7200}}`). The
result is built once per `Runtime` (`rt.plans`) at start-up; a bad catalogue stops the
service with a message naming the problem. There is no module-global catalogue: two apps in
one process (tests) can run with different plans.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tapeworks.errors import ConfigError, QuotaExceeded
from tapeworks.transcripts.exporters import EXPORT_FORMATS

GIB = 1024**3
HOUR = 3600
OVERRIDES_FILENAME = "plan_overrides.json"


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    monthly_audio_seconds: int | None = Field(ge=0)  # None = unlimited
    max_file_bytes: int = Field(gt=0)
    max_recording_seconds: int | None = Field(ge=1)  # None = no per-recording limit
    max_concurrent_jobs: int = Field(ge=1)
    retention_days_source_audio: int | None = Field(ge=1)  # None = keep forever
    retention_days_transcripts: int | None = Field(ge=1)  # None = never delete
    export_formats: tuple[str, ...]
    episodes_enabled: bool
    max_storage_bytes: int | None = Field(default=None, ge=0)  # None = unlimited
    # breaks ties between users whose turn in the queue it equally is (higher goes first)
    queue_priority: int = Field(default=0, ge=-100, le=100)

    @field_validator("export_formats")
    @classmethod
    def _known_formats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [f for f in v if f not in EXPORT_FORMATS]
        if bad:
            raise ValueError(f"unknown export formats {bad}; known: {list(EXPORT_FORMATS)}")
        if "json" not in v:
            raise ValueError("every plan must allow the json export")
        return v

    def limits(self) -> dict[str, Any]:
        """Every limit by name (JSON-ready)."""
        data = self.model_dump(mode="json")
        data.pop("name")
        return data


LIMIT_NAMES: tuple[str, ...] = tuple(n for n in Plan.model_fields if n != "name")

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


class Catalogue(Mapping[str, Plan]):
    """The validated plans of one runtime. `get` fails closed on an unknown name."""

    def __init__(self, plans: dict[str, Plan]) -> None:
        if not plans:
            raise ConfigError("the plan catalogue is empty; at least one plan must be defined")
        self._plans = dict(plans)

    def __getitem__(self, name: str) -> Plan:
        return self._plans[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._plans)

    def __len__(self) -> int:
        return len(self._plans)

    def get_plan(self, name: str) -> Plan:
        """The plan by name; a user on an unknown plan is refused, never treated as unlimited."""
        plan = self._plans.get(name)
        if plan is None:
            raise QuotaExceeded(
                f"your account is on plan {name!r}, which is not defined in the plan catalogue, "
                f"so the action was refused; an administrator must move the account to one of: "
                f"{', '.join(self._plans)}",
                details={"limit_type": "plan_missing", "plan": name})
        return plan


def _parse(source: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict | None) for v in data.values()):
        raise ConfigError(f"{source} must be a JSON object of plan name -> {{limit: value}}")
    return data


def build_catalogue(overrides_json: str = "", *, file_overrides: str = "",
                    default_plan: str | None = None) -> Catalogue:
    """Defaults, then the operator's file, then the environment; every plan validated."""
    layers = [("the plan overrides file", _parse("the plan overrides file", file_overrides)),
              ("TAPEWORKS_PLAN_OVERRIDES", _parse("TAPEWORKS_PLAN_OVERRIDES", overrides_json))]
    names = set(DEFAULT_PLANS)
    for _, layer in layers:
        names |= set(layer)
    plans: dict[str, Plan] = {}
    for name in sorted(names):
        values: dict[str, Any] = dict(DEFAULT_PLANS.get(name, {}))
        origin = "defaults"
        for source, layer in layers:
            if layer.get(name):
                values.update(layer[name])
                origin = source
        values["name"] = name
        try:
            plans[name] = Plan(**values)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"plan {name!r} is not valid (last set by {origin}): {problems}") from None
    catalogue = Catalogue(plans)
    if default_plan is not None and default_plan not in catalogue:
        raise ConfigError(f"TAPEWORKS_DEFAULT_PLAN is {default_plan!r}, which is not a plan; "
                          f"define it or use one of: {', '.join(catalogue)}")
    return catalogue


def overrides_path(data_dir: Path) -> Path:
    return data_dir / OVERRIDES_FILENAME


def read_overrides_file(data_dir: Path) -> str:
    path = overrides_path(data_dir)
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigError(f"cannot read the plan overrides file {path}: {exc}") from None


def load_catalogue(settings: Any) -> Catalogue:
    """The catalogue for these settings (`Settings`): raises ConfigError when invalid."""
    return build_catalogue(settings.plan_overrides,
                           file_overrides=read_overrides_file(settings.data_dir),
                           default_plan=settings.default_plan)


def coerce_limit(name: str, raw: str) -> Any:
    """A CLI value for a limit: JSON (`7200`, `null`, `true`, `["json","txt"]`) or a bare
    comma list for export_formats; `none`/`unlimited`/`never` mean no limit."""
    if name not in LIMIT_NAMES:
        raise ConfigError(f"unknown limit {name!r}; limits are: {', '.join(LIMIT_NAMES)}")
    text = raw.strip()
    if text.lower() in ("none", "null", "unlimited", "never"):
        return None
    if name == "export_formats" and not text.startswith("["):
        return [f.strip() for f in text.split(",") if f.strip()]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"{name}={raw!r}: give a number, true/false, null, or JSON") from None


def write_overrides_file(settings: Any, plan: str, values: dict[str, Any]) -> Catalogue:
    """Merge `values` into the operator's overrides file for `plan`, after validating the
    whole resulting catalogue (a bad value never reaches the file). Atomic replace."""
    data_dir: Path = settings.data_dir
    current = _parse("the plan overrides file", read_overrides_file(data_dir))
    merged = {**current, plan: {**(current.get(plan) or {}), **values}}
    text = json.dumps(merged, indent=2, sort_keys=True) + "\n"
    catalogue = build_catalogue(settings.plan_overrides, file_overrides=text,
                                default_plan=settings.default_plan)
    path = overrides_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return catalogue
