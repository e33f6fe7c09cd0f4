from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from tapeworks.episodes.models import Asset, Episode, EpisodeTemplate
from tapeworks.http.inputs import InputModel, Name, StrictInput, Title
from tapeworks.production.markers import DEFAULT_EDIT_MARKER, DEFAULT_PAUSE_SECONDS
from tapeworks.production.settings import DEFAULT_FILLER_WORDS, DEFAULT_MULTIWORD_FILLERS

# --- episode settings: typed and bounded, so a wrong value is a 422 naming the field before
# any job exists (the production dataclasses are built from these; a test keeps the fields
# of both the same) ---------------------------------------------------------------------------
FillerWord = Annotated[str, Field(min_length=1, max_length=60)]
Seconds = Annotated[float, Field(ge=0, le=24 * 3600)]
# LAME's constant bit rates (kbit/s) for 44.1 and 48 kHz
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


class UserCutIn(StrictInput):
    """A cut the user asks for: a source time range, or an inclusive range of word indices."""

    start: Seconds | None = None
    end: Seconds | None = None
    first_word: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    last_word: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    reason: Annotated[Name, Field(max_length=100)] = "user cut"

    @model_validator(mode="after")
    def _one_range(self) -> UserCutIn:
        by_time = self.start is not None and self.end is not None
        by_words = self.first_word is not None and self.last_word is not None
        if by_time == by_words:
            raise ValueError("a user cut needs either start and end, or first_word and last_word")
        if by_time and not (self.end or 0.0) > (self.start or 0.0):
            raise ValueError("a user cut must end after it starts")
        if by_words and (self.last_word or 0) < (self.first_word or 0):
            raise ValueError("a user cut's last_word must not come before its first_word")
        return self


class CleaningIn(StrictInput):
    remove_fillers: bool = True
    filler_words: list[FillerWord] = Field(default=list(DEFAULT_FILLER_WORDS), max_length=200)
    multiword_fillers: bool = False
    multiword_filler_phrases: list[FillerWord] = Field(default=list(DEFAULT_MULTIWORD_FILLERS),
                                                       max_length=200)
    shorten_pauses: bool = True
    max_pause_seconds: Annotated[float, Field(ge=0, le=600)] = 1.5
    target_pause_seconds: Annotated[float, Field(ge=0, le=600)] = 0.5
    margin_seconds: Annotated[float, Field(ge=0, le=2)] = 0.03
    filler_pad_seconds: Annotated[float, Field(ge=0, le=2)] = 0.05
    user_cuts: list[UserCutIn] = Field(default_factory=list, max_length=2000)
    # spoken edit markers and bleeps (the studio settings give the defaults)
    edit_marker: Annotated[str, Field(max_length=40)] | None = DEFAULT_EDIT_MARKER
    edit_marker_pause_seconds: Annotated[float, Field(ge=0.05, le=5.0)] = DEFAULT_PAUSE_SECONDS
    bleep_words: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=500)
    bleep_default_list: bool = False
    bleep_mode: Literal["beep", "mute"] = "beep"
    protected_words: list[Annotated[int, Field(ge=0, le=10_000_000)]] = Field(
        default_factory=list, max_length=100_000)
    restored_cuts: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _pauses(self) -> CleaningIn:
        if self.max_pause_seconds < self.target_pause_seconds:
            raise ValueError("max_pause_seconds must not be less than target_pause_seconds")
        return self


class LoudnessIn(StrictInput):
    enabled: bool = True
    target_lufs: Annotated[float, Field(ge=-40, le=-5)] | None = None  # None: -16 / -19 LUFS
    true_peak_dbtp: Annotated[float, Field(ge=-10, le=0)] = -1.0


class ChapterIn(StrictInput):
    start: Seconds
    title: Annotated[Title, Field(min_length=1)]
    url: str | None = Field(default=None, max_length=2000)  # set by PUT /episodes/{id}/chapters


class RenderIn(StrictInput):
    format: Literal["mp3", "m4a", "wav"] = "mp3"
    bitrate: Annotated[int, Field(ge=32_000, le=320_000)] = 128_000
    sample_rate: Literal[44100, 48000] = 44100
    channels: Literal[1, 2] | None = None  # None: keep the source's
    title: Title | None = None
    show: Title | None = None
    artist: Name | None = None
    # chapters as [start_seconds, "title"] pairs or {"start": .., "title": ..} objects
    chapters: list[ChapterIn] | None = Field(default=None, max_length=500)
    # the version whose episode time the chapters are in (set by PUT /episodes/{id}/chapters)
    chapters_version: Annotated[int, Field(ge=1)] | None = None
    mp3_quality: Annotated[int, Field(ge=0, le=9)] = 7
    block_seconds: Annotated[float, Field(ge=0.1, le=10)] = 2.0
    crossfade_seconds: Annotated[float, Field(ge=0, le=0.2)] = 0.010
    snap_seconds: Annotated[float, Field(ge=0, le=0.05)] = 0.002

    @field_validator("chapters", mode="before")
    @classmethod
    def _pairs(cls, v: object) -> object:
        if isinstance(v, list):
            return [{"start": c[0], "title": c[1]} if isinstance(c, list | tuple) and len(c) == 2
                    else c for c in v]
        return v

    @model_validator(mode="after")
    def _mp3_bitrate(self) -> RenderIn:
        if (self.format == "mp3" and self.bitrate // 1000 not in MP3_BITRATES) \
                or (self.format == "mp3" and self.bitrate % 1000):
            allowed = ", ".join(str(b * 1000) for b in MP3_BITRATES)
            raise ValueError(f"an mp3 bitrate must be one of {allowed}")
        return self


class EpisodeSettingsIn(StrictInput):
    cleaning: CleaningIn = Field(default_factory=CleaningIn)
    loudness: LoudnessIn = Field(default_factory=LoudnessIn)
    render: RenderIn = Field(default_factory=RenderIn)


class EpisodeCreate(StrictInput):
    """Empty body = the defaults: fillers removed, long pauses shortened, loudness levelled."""

    title: Title | None = None
    template_id: str | None = Field(default=None, max_length=64)
    cleaning: CleaningIn | None = None
    loudness: LoudnessIn | None = None
    render: RenderIn | None = None


class EpisodePatch(InputModel):
    title: Annotated[Title, Field(description="the episode's title; written into the audio's "
                                              "tags at the next render")]


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
    version: int = Field(0, description="the newest completed version (0 before the first)")
    cuts_settings: dict[str, Any] = Field(default_factory=dict, description=(
        "the cuts asked for: `restore` (ids of automatic cuts kept) and `add` (the user's cuts)"))
    created_at: datetime
    completed_at: datetime | None

    @classmethod
    def of(cls, e: Episode) -> EpisodeOut:
        cleaning = (e.settings or {}).get("cleaning") or {}
        cuts = {"restore": list(cleaning.get("restored_cuts") or []),
                "add": [{"word_start": u["first_word"], "word_end": u["last_word"]}
                        if u.get("first_word") is not None else
                        {"start": u.get("start"), "end": u.get("end")}
                        for u in cleaning.get("user_cuts") or []]}
        return cls(id=e.id, session_id=e.session_id, template_id=e.template_id, title=e.title,
                   status=e.status, progress_percentage=round(e.progress_percentage, 1), stage=e.stage,
                   message=e.message, eta_seconds=e.eta_seconds, attempt=e.attempt, error=e.error,
                   error_stage=e.error_stage, format=e.format, duration_seconds=e.duration_seconds,
                   size_bytes=e.size_bytes, loudness=e.loudness, cuts=e.cuts_summary,
                   settings=e.settings or {}, version=e.version or 0, cuts_settings=cuts,
                   created_at=e.created_at, completed_at=e.completed_at)


class CutOut(BaseModel):
    id: str = Field(description="stable id (`filler-12`, `pause-5230`, `user-...`; merged "
                                "cuts joined with `+`): send it in `restore` to keep that audio")
    kind: str
    reason: str
    applied: bool = Field(True, description="false: the audio check found speech and kept "
                                            "the span (reason `kept: speech found`)")
    source_start: float
    source_end: float
    seconds: float
    episode_time: float  # where the join is in the episode
    words: list[str]
    word_indices: list[int] = Field(default_factory=list)


class CutAddIn(StrictInput):
    """A cut to add: source seconds (`start`, `end`) or an inclusive range of word indices
    of the episode's source transcript (`word_start`, `word_end`)."""

    start: Seconds | None = None
    end: Seconds | None = None
    word_start: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    word_end: Annotated[int, Field(ge=0, le=10_000_000)] | None = None

    @model_validator(mode="after")
    def _one_range(self) -> CutAddIn:
        by_time = self.start is not None and self.end is not None
        by_words = self.word_start is not None and self.word_end is not None
        if by_time == by_words:
            raise ValueError("a cut needs either start and end (seconds), or word_start and "
                             "word_end")
        if by_time and not (self.end or 0.0) > (self.start or 0.0):
            raise ValueError("a cut must end after it starts")
        if by_words and (self.word_end or 0) < (self.word_start or 0):
            raise ValueError("a cut's word_end must not come before its word_start")
        return self


class CutsIn(StrictInput):
    """The desired set of cuts (replaces the previous one) for the next version."""

    restore: list[Annotated[str, Field(min_length=1, max_length=2000)]] = Field(
        default_factory=list, max_length=10_000)
    add: list[CutAddIn] = Field(default_factory=list, max_length=2000)


class EpisodeVersionOut(BaseModel):
    version: int
    status: str
    current: bool
    format: str
    duration_seconds: float | None
    size_bytes: int | None
    created_at: datetime
    completed_at: datetime | None


class EpisodeVersionsOut(BaseModel):
    current_version: int  # the newest completed version (served by the plain audio URL)
    versions: list[EpisodeVersionOut]


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
