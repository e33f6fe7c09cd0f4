from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tapeworks.http.inputs import Name, StrictInput
from tapeworks.plans.catalogue import Plan
from tapeworks.plans.enforcement import Decision, UsageSnapshot
from tapeworks.plans.models import UsageEntry
from tapeworks.users.models import User

Action = Literal["create_session", "upload_file", "transcribe", "export_transcript",
                 "create_episode"]
JsonScalar = int | float | str | bool | list[str] | None


class ActionParams(StrictInput):
    bytes: int | None = Field(default=None, ge=0, le=2**53, description="upload_file: file size")
    seconds: float | None = Field(default=None, ge=0, le=10 * 365 * 24 * 3600,
                                  description="upload_file, transcribe: audio length")
    format: str | None = Field(default=None, max_length=16,
                               description="export_transcript: json, txt, srt, vtt, docx, pdf, xlsx")


class ValidateActionRequest(StrictInput):
    action: Action
    params: ActionParams = Field(default_factory=ActionParams)


class LimitOut(BaseModel):
    type: str
    current: JsonScalar
    limit: JsonScalar
    reset_at: datetime | None


class ValidateActionResponse(BaseModel):
    allowed: bool
    reason: str | None
    limit: LimitOut | None

    @classmethod
    def of(cls, d: Decision) -> ValidateActionResponse:
        lim = d.limit
        return cls(allowed=d.allowed, reason=d.reason,
                   limit=LimitOut(type=lim.type, current=lim.current, limit=lim.limit,
                                  reset_at=lim.reset_at) if lim else None)


class UsageOut(BaseModel):
    monthly_used_seconds: float
    pending_seconds: float
    monthly_remaining_seconds: float | None
    storage_bytes_used: int
    running_jobs: int


class PlanLimits(BaseModel):
    monthly_audio_seconds: int | None
    max_file_bytes: int
    max_recording_seconds: int | None
    max_concurrent_jobs: int
    retention_days_source_audio: int | None
    retention_days_transcripts: int | None
    export_formats: list[str]
    episodes_enabled: bool
    max_storage_bytes: int | None


def usage_out(plan: Plan | None, snap: UsageSnapshot) -> UsageOut:
    cap = plan.monthly_audio_seconds if plan else None
    return UsageOut(
        monthly_used_seconds=round(snap.used_seconds, 3),
        pending_seconds=round(snap.pending_seconds, 3),
        monthly_remaining_seconds=None if cap is None
        else round(max(0.0, cap - snap.committed_seconds), 3),
        storage_bytes_used=snap.storage_bytes, running_jobs=snap.running_jobs)


class PlanOut(BaseModel):
    plan: str
    limits: PlanLimits
    usage: UsageOut
    period_start: datetime
    reset_at: datetime

    @classmethod
    def of(cls, plan: Plan, snap: UsageSnapshot) -> PlanOut:
        return cls(plan=plan.name, limits=PlanLimits(**plan.limits()), usage=usage_out(plan, snap),
                   period_start=snap.period_start, reset_at=snap.reset_at)


class CataloguePlan(BaseModel):
    name: str
    limits: PlanLimits


class AdminUserOut(BaseModel):
    id: str
    email: str
    name: str
    role: str
    plan: str
    plan_defined: bool
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, u: User, plans: Any) -> AdminUserOut:
        return cls(id=u.id, email=u.email, name=u.name, role=u.role, plan=u.plan,
                   plan_defined=u.plan in plans, is_active=u.is_active, created_at=u.created_at)


class AdminUserPage(BaseModel):
    items: list[AdminUserOut]
    total: int
    limit: int
    offset: int


class AdminUserPatch(StrictInput):
    plan: str | None = Field(default=None, max_length=64)
    role: Literal["user", "admin"] | None = None
    is_active: bool | None = None


class UsageAdjustmentRequest(StrictInput):
    seconds: float = Field(ge=-10 * 365 * 24 * 3600, le=10 * 365 * 24 * 3600,
                           description="audio seconds to add (negative credits time back)")
    note: Annotated[Name, Field(min_length=1, max_length=250)]


class UsageEntryOut(BaseModel):
    id: str
    kind: str
    audio_seconds: float
    session_id: str | None
    episode_id: str | None
    job_id: str | None
    note: str
    created_at: datetime

    @classmethod
    def of(cls, e: UsageEntry) -> UsageEntryOut:
        return cls(id=e.id, kind=e.kind, audio_seconds=e.audio_seconds, session_id=e.session_id,
                   episode_id=e.episode_id, job_id=e.job_id, note=e.note, created_at=e.created_at)


class AdminUsageOut(BaseModel):
    user_id: str
    plan: str
    plan_defined: bool
    usage: UsageOut
    period_start: datetime
    reset_at: datetime
    entries: list[UsageEntryOut]
    total_entries: int
