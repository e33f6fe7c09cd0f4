from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from tapeworks.episodes.models import Asset, Episode, EpisodeTemplate
from tapeworks.http.inputs import InputModel, Name, StrictInput, Title


class EpisodeCreate(InputModel):
    """Empty body = the defaults: fillers removed, long pauses shortened, loudness levelled."""

    title: Title | None = None
    template_id: str | None = None
    cleaning: dict[str, Any] | None = None
    loudness: dict[str, Any] | None = None
    render: dict[str, Any] | None = None


class EpisodePatch(BaseModel):
    title: str = Field(min_length=1, max_length=300,
                       description="the episode's title; written into the audio's tags at the next render")


class EpisodeOut(BaseModel):
    id: str
    session_id: str
    template_id: str | None
    title: str
    status: str
    progress_percentage: float
    stage: str
    message: str
    eta_seconds: float | None
    attempt: int
    error: str | None
    error_stage: str | None
    format: str
    duration_seconds: float | None
    size_bytes: int | None
    loudness: dict[str, Any] | None
    cuts: dict[str, Any] | None
    settings: dict[str, Any]
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, e: Episode) -> EpisodeOut:
        return cls(id=e.id, session_id=e.session_id, template_id=e.template_id, title=e.title,
                   status=e.status, progress_percentage=round(e.progress_percentage, 1), stage=e.stage,
                   message=e.message, eta_seconds=e.eta_seconds, attempt=e.attempt, error=e.error,
                   error_stage=e.error_stage, format=e.format, duration_seconds=e.duration_seconds,
                   size_bytes=e.size_bytes, loudness=e.loudness, cuts=e.cuts_summary,
                   settings=e.settings or {}, created_at=e.created_at, completed_at=e.completed_at)


class CutOut(BaseModel):
    kind: str
    reason: str
    source_start: float
    source_end: float
    seconds: float
    episode_time: float  # where the join is in the episode
    words: list[str]


class BleepOut(BaseModel):
    """A bleeped word: it keeps its time, its audio is a tone (or silence)."""

    reason: str
    source_start: float
    source_end: float
    episode_start: float
    words: list[str]


class EditListOut(BaseModel):
    source_duration: float
    episode_duration: float
    programme_offset_seconds: float
    cuts: list[CutOut]
    bleeps: list[BleepOut] = Field(default_factory=list)


class AssetOut(BaseModel):
    """An asset: `status` is `completed` once its audio exists (at once for an upload);
    a generated one (`origin` "speech") is `processing` while its narrator speaks, and
    `failed` with `error` saying why when the narrator could not."""

    id: str
    name: str
    kind: str
    origin: str
    status: str
    progress_percentage: float
    message: str
    error: str | None
    text: str | None
    narrator: str | None
    filename: str
    format: str
    channels: int
    sample_rate: int
    size_bytes: int
    duration_seconds: float
    created_at: datetime

    @classmethod
    def of(cls, a: Asset) -> AssetOut:
        return cls.model_validate(a, from_attributes=True)


class SpeechAssetIn(StrictInput):
    """Text for a narrator to speak into an asset (`GET /narrators` lists them; none: the
    default narrator)."""

    text: str = Field(max_length=50_000)  # the 5,000-character limit is checked with a clear message
    narrator: str | None = Field(default=None, max_length=100)
    name: Name | None = None
    kind: Literal["intro", "outro", "music"] = "intro"


class NarratorOut(BaseModel):
    id: str
    name: str
    engine: str  # "piper" (neural, offline), "espeak" (fallback), "cloud"
    language: str | None
    description: str
    default: bool


class TemplateIn(InputModel):
    name: Annotated[Name, Field(min_length=1)]
    intro_asset_id: str | None = None
    outro_asset_id: str | None = None
    music_asset_id: str | None = None
    settings: dict[str, float] = Field(default_factory=dict)


class TemplateAssetOut(BaseModel):
    """An asset a template holds, and in which role."""

    role: str  # intro, outro, music
    id: str
    name: str
    kind: str
    duration_seconds: float


class TemplateOut(TemplateIn):
    id: str
    created_at: datetime
    assets: list[TemplateAssetOut] = Field(default_factory=list)

    @classmethod
    def of(cls, t: EpisodeTemplate, assets: dict[str, Asset] | None = None) -> TemplateOut:
        held = []
        for role, aid in (("intro", t.intro_asset_id), ("outro", t.outro_asset_id),
                          ("music", t.music_asset_id)):
            a = (assets or {}).get(aid or "")
            if a is not None:
                held.append(TemplateAssetOut(role=role, id=a.id, name=a.name, kind=a.kind,
                                             duration_seconds=a.duration_seconds))
        return cls(id=t.id, name=t.name, intro_asset_id=t.intro_asset_id,
                   outro_asset_id=t.outro_asset_id, music_asset_id=t.music_asset_id,
                   settings=dict(t.settings or {}), created_at=t.created_at, assets=held)
