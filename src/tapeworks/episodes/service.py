"""Episodes, templates and assets: the rules. Services flush; the edge commits."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import new_id, utcnow
from tapeworks.db.uow import after_commit
from tapeworks.episodes.models import (
    ASSET_KINDS,
    RETRYABLE_EPISODE_STATUSES,
    SPEECH_ASSET_KINDS,
    UNFINISHED_EPISODE_STATUSES,
    Asset,
    Episode,
    EpisodeTemplate,
    EpisodeVersion,
)
from tapeworks.episodes.schemas import CleaningIn, EpisodeSettingsIn
from tapeworks.errors import ArtifactMissing, Conflict, Gone, NotFound, ValidationFailed
from tapeworks.http.inputs import clean_text
from tapeworks.http.intake import NewRecording
from tapeworks.logging import get_logger
from tapeworks.narrators import NarratorInfo, check_text
from tapeworks.plans import enforcement
from tapeworks.production.editlist import EditList
from tapeworks.production.pipeline import ChapterBase
from tapeworks.production.settings import (
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    Template,
    UserCut,
)
from tapeworks.queue import jobs
from tapeworks.queue.mirror import load_owner, mirror_job
from tapeworks.queue.models import Job
from tapeworks.sessions import service as sessions
from tapeworks.storage import keys
from tapeworks.storage.base import Store
from tapeworks.transcripts.exporters import ExportResult, export
from tapeworks.transcripts.model import Transcript
from tapeworks.users import service as users

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime
    from tapeworks.users.service import Principal

log = get_logger("tapeworks.episodes")

BLEEP_REASON = "bleep"  # how a bleeped word is listed beside the cuts
TEMPLATE_MIX_FIELDS = ("music_gain_db", "duck_depth_db", "duck_attack_seconds",
                       "duck_release_seconds", "music_fade_in_seconds", "music_fade_out_seconds",
                       "overlap_seconds")


# --- assets ---------------------------------------------------------------------------------
def get_asset(db: DbSession, user_id: str, asset_id: str) -> Asset:
    asset = db.scalar(select(Asset).where(Asset.id == asset_id, Asset.user_id == user_id))
    if asset is None:
        raise NotFound(f"asset {asset_id} not found")
    return asset


def list_assets(db: DbSession, user_id: str) -> list[Asset]:
    return list(db.scalars(select(Asset).where(Asset.user_id == user_id)
                           .order_by(Asset.created_at.desc())))


def asset_storage_bytes(db: DbSession, user_id: str) -> int:
    """Bytes of this user's assets in the store (a usage meter: they count towards storage)."""
    total = db.scalar(select(func.coalesce(func.sum(Asset.size_bytes), 0))
                      .where(Asset.user_id == user_id, Asset.key.is_not(None)))
    return int(total or 0)


def episode_storage_bytes(db: DbSession, user_id: str) -> int:
    """Bytes of this user's rendered episodes in the store: every completed version keeps
    its audio, re-timed transcript and edit list (a usage meter: they count towards storage)."""
    total = db.scalar(
        select(func.coalesce(func.sum(func.coalesce(EpisodeVersion.stored_bytes,
                                                    EpisodeVersion.size_bytes, 0)), 0))
        .join(Episode, Episode.id == EpisodeVersion.episode_id)
        .where(Episode.user_id == user_id, EpisodeVersion.completed.is_(True)))
    return int(total or 0)


def asset_upload_limit(rt: Runtime, principal: Principal) -> int:
    """Bytes an asset upload may have (assets need a plan with episodes)."""
    with rt.database.transaction(write=False) as db:
        enforcement.check_episode(db, rt, principal)
    return enforcement.upload_byte_limit(rt, principal)


def accept_asset(rt: Runtime, principal: Principal, rec: NewRecording, *, name: str,
                 kind: str) -> Asset:
    """Store a probed asset file, then its row (rule 4); a refusal removes the object.

    An asset obeys the per-recording length and the file size of the plan (refused before
    it is stored; the probe was given the length limit) and counts towards storage."""
    enforcement.precheck_upload(rt, principal, size_bytes=rec.size_bytes,
                                seconds=rec.info.duration_seconds,
                                at_least=rec.length_is_lower_bound)
    sessions.refuse_over_limit(rec)
    asset_id = new_id()
    key = keys.asset_key(principal.user_id, asset_id, rec.ext)
    rt.store.put_file(key, rec.path)
    name = clean_text(name, 200) or clean_text(rec.filename.rsplit(".", 1)[0], 200) or "Asset"

    def _create(db: DbSession) -> Asset:
        enforcement.check_asset(db, rt, principal, size_bytes=rec.size_bytes,
                                seconds=rec.info.duration_seconds)
        return create_asset(db, user_id=principal.user_id, asset_id=asset_id, key=key, name=name,
                            kind=kind.strip() or "other", rec=rec)

    try:
        return rt.database.run(_create)
    except BaseException:
        rt.store.delete(key)
        raise


def create_asset(db: DbSession, *, user_id: str, asset_id: str, key: str, name: str, kind: str,
                 rec: NewRecording) -> Asset:
    if kind not in ASSET_KINDS:
        raise ValidationFailed(f"asset kind must be one of {', '.join(ASSET_KINDS)}")
    info = rec.info
    asset = Asset(id=asset_id, user_id=user_id, name=name, kind=kind, key=key, filename=rec.filename,
                  format=rec.ext, codec=info.codec, channels=info.channels,
                  sample_rate=info.sample_rate, size_bytes=rec.size_bytes,
                  duration_seconds=info.duration_seconds, completed_at=utcnow())
    db.add(asset)
    db.flush()
    return asset


# --- assets spoken from text -------------------------------------------------------------------
ASSET_OWNER_KIND = "asset"  # the job that speaks a generated asset carries owner_kind="asset"
SPEECH_EXTS = ("wav", "mp3")  # what the narrators write (the key's extension is sniffed)


@dataclass(frozen=True)
class SpeechRequest:
    """A checked request for a generated asset: the text, the narrator that will say it."""

    text: str
    narrator: NarratorInfo
    name: str
    kind: str


def check_speech_request(rt: Runtime, principal: Principal, *, text: str, narrator: str | None,
                         name: str | None, kind: str | None) -> SpeechRequest:
    """Refuse before anything exists: a plan without episodes, empty text or over 5,000
    characters, a kind generated assets cannot have, an unknown narrator (422), no
    narrator installed or the cloud service unreachable (502). Runs outside a transaction
    (listing a cloud service's narrators is an HTTP call)."""
    with rt.database.transaction(write=False) as db:
        enforcement.check_episode(db, rt, principal)
    cleaned = check_text(text)
    kind = (kind or "intro").strip()
    if kind not in SPEECH_ASSET_KINDS:
        raise ValidationFailed(f"a generated asset is an {', '.join(SPEECH_ASSET_KINDS[:-1])} or "
                               f"{SPEECH_ASSET_KINDS[-1]}, not {kind!r}", details={"field": "kind"})
    _engine, info = rt.narrators.resolve(narrator)
    label = " ".join((name or "").split())[:200] or " ".join(cleaned.split()[:6])[:200]
    return SpeechRequest(cleaned, info, label, kind)


def create_speech_asset(db: DbSession, rt: Runtime, principal: Principal,
                        request: SpeechRequest) -> Asset:
    """The asset row (`processing`, no audio yet) and its job in the short pool; the
    job's handler stores the audio, then the row names it (rule 4)."""
    enforcement.check_episode(db, rt, principal)
    asset = Asset(id=new_id(), user_id=principal.user_id, name=request.name, kind=request.kind,
                  key=None, origin="speech", text=request.text, narrator=request.narrator.id,
                  status="processing", progress_percentage=0.0, stage="queued",
                  message="waiting for a worker", filename="", format="")
    db.add(asset)
    db.flush()
    job = jobs.create_job(db, rt, kind="speak_asset", user_id=principal.user_id,
                          owner_kind=ASSET_OWNER_KIND, owner_id=asset.id)
    asset.current_job_id = job.id
    log.info("asset.speech_queued", asset_id=asset.id, narrator=request.narrator.id,
             chars=len(request.text), job_id=job.id)
    return asset


def asset_keys_of(asset: Asset) -> list[str]:
    """Every object the asset may have in the store (a generated one whose job stored its
    audio but never saved has it under one of the narrators' extensions)."""
    if asset.key:
        return [asset.key]
    if asset.origin == "speech":
        return [keys.asset_key(asset.user_id, asset.id, ext) for ext in SPEECH_EXTS]
    return []


def templates_using(db: DbSession, user_id: str, asset_id: str) -> list[EpisodeTemplate]:
    return list(db.scalars(
        select(EpisodeTemplate).where(
            EpisodeTemplate.user_id == user_id,
            (EpisodeTemplate.intro_asset_id == asset_id)
            | (EpisodeTemplate.outro_asset_id == asset_id)
            | (EpisodeTemplate.music_asset_id == asset_id))
        .order_by(EpisodeTemplate.name)))


def delete_asset(db: DbSession, rt: Runtime, user_id: str, asset_id: str, *,
                 force: bool = False) -> None:
    """Delete an asset. One that templates use is refused (409 naming them) unless
    `force`, which first takes it out of those templates."""
    asset = get_asset(db, user_id, asset_id)
    users = templates_using(db, user_id, asset.id)
    if users and not force:
        names = ", ".join(f"“{t.name}”" for t in users)
        raise Conflict(
            f"“{asset.name}” is used by the template{'s' if len(users) > 1 else ''} {names}; "
            "delete it anyway to take it out of them",
            details={"templates": [{"id": t.id, "name": t.name} for t in users]})
    busy = db.scalar(select(func.count()).select_from(Episode)
                     .where(Episode.status.in_(UNFINISHED_EPISODE_STATUSES),
                            Episode.template_id.in_([t.id for t in users] or [""])))
    if busy:
        raise Conflict(f"“{asset.name}” is in an episode being produced right now; "
                       "try again when it is done")
    for tpl in users:
        for role in ("intro_asset_id", "outro_asset_id", "music_asset_id"):
            if getattr(tpl, role) == asset.id:
                setattr(tpl, role, None)
    stored = asset_keys_of(asset)
    jobs.delete_jobs_of(db, rt.registry, ASSET_OWNER_KIND, asset.id)
    db.delete(asset)
    store = rt.store

    def _delete_objects() -> None:
        for key in stored:
            store.delete(key)

    after_commit(db, _delete_objects)
    log.info("asset.deleted", asset_id=asset_id, templates=[t.id for t in users])


def assets_of_templates(db: DbSession, user_id: str, tpls: list[EpisodeTemplate]) -> dict[str, Asset]:
    """The assets these templates hold, by id (for `TemplateOut.assets`)."""
    ids = {a for t in tpls for a in (t.intro_asset_id, t.outro_asset_id, t.music_asset_id) if a}
    if not ids:
        return {}
    return {a.id: a for a in db.scalars(select(Asset).where(Asset.user_id == user_id,
                                                            Asset.id.in_(ids)))}


def rename_episode(db: DbSession, user_id: str, episode_id: str, title: str) -> Episode:
    """The episode's one title: shown in the pages and written into the audio's tags at the
    next render (the audio already made keeps the tags it was made with)."""
    clean = " ".join(title.split())[:300]
    if not clean:
        raise ValidationFailed("an episode needs a title; the title was empty",
                               details={"field": "title"})
    ep = get_episode(db, user_id, episode_id, for_update=True)
    ep.title = clean
    db.flush()
    return ep


def asset_audio(rt: Runtime, asset: Asset) -> tuple[str, int]:
    """(key, size) of an asset's audio in the store."""
    if not asset.key:
        raise Conflict(_not_ready(asset))
    head = rt.store.head(asset.key)
    if head is None:
        raise ArtifactMissing(f"the audio of asset {asset.name!r} is missing from storage")
    return asset.key, head.size


def _not_ready(asset: Asset) -> str:
    if asset.status == "failed":
        return f"“{asset.name}” could not be made: {asset.error or 'the narrator failed'}"
    return f"“{asset.name}” is still being spoken; try again in a moment"


# --- templates ------------------------------------------------------------------------------
def get_template(db: DbSession, user_id: str, template_id: str) -> EpisodeTemplate:
    tpl = db.scalar(select(EpisodeTemplate).where(EpisodeTemplate.id == template_id,
                                                  EpisodeTemplate.user_id == user_id))
    if tpl is None:
        raise NotFound(f"template {template_id} not found")
    return tpl


def list_templates(db: DbSession, user_id: str) -> list[EpisodeTemplate]:
    return list(db.scalars(select(EpisodeTemplate).where(EpisodeTemplate.user_id == user_id)
                           .order_by(EpisodeTemplate.name)))


def _check_mix(settings: dict[str, Any]) -> dict[str, Any]:
    bad = sorted(set(settings) - set(TEMPLATE_MIX_FIELDS))
    if bad:
        raise ValidationFailed(f"unknown template settings {bad}; allowed: {list(TEMPLATE_MIX_FIELDS)}")
    out: dict[str, Any] = {}
    for k, v in settings.items():
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise ValidationFailed(f"template setting {k} must be a number")
        if k != "music_gain_db" and v < 0:
            raise ValidationFailed(f"template setting {k} must not be negative")
        out[k] = float(v)
    return out


def save_template(db: DbSession, user_id: str, *, template_id: str | None, name: str,
                  intro_asset_id: str | None, outro_asset_id: str | None,
                  music_asset_id: str | None, settings: dict[str, Any]) -> EpisodeTemplate:
    for aid in (intro_asset_id, outro_asset_id, music_asset_id):
        if aid:
            asset = get_asset(db, user_id, aid)  # must be this user's
            if not asset.key or asset.status != "completed":
                raise Conflict(_not_ready(asset), details={"asset_id": aid})
    tpl = get_template(db, user_id, template_id) if template_id else EpisodeTemplate(user_id=user_id)
    tpl.name = clean_text(name, 200) or "Template"
    tpl.intro_asset_id, tpl.outro_asset_id, tpl.music_asset_id = (
        intro_asset_id or None, outro_asset_id or None, music_asset_id or None)
    tpl.settings = _check_mix(settings)
    db.add(tpl)
    db.flush()
    return tpl


def delete_template(db: DbSession, user_id: str, template_id: str) -> None:
    db.delete(get_template(db, user_id, template_id))


# --- episode settings -------------------------------------------------------------------------
def settings_dataclasses(settings: EpisodeSettingsIn
                         ) -> tuple[CleaningSettings, LoudnessSettings, RenderSettings]:
    """The production pipeline's settings from the validated request (or stored) settings."""
    c = settings.cleaning
    plain: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                             for k, v in c.model_dump(exclude={"user_cuts"}).items()}
    cleaning = CleaningSettings(**plain,
                                user_cuts=[UserCut(**cut.model_dump()) for cut in c.user_cuts])
    loudness = LoudnessSettings(**settings.loudness.model_dump())
    r = settings.render
    render = RenderSettings(**r.model_dump(exclude={"chapters"}),
                            chapters=None if r.chapters is None
                            else [(ch.start, ch.title) for ch in r.chapters])
    cleaning.validate()
    render.validate()
    return cleaning, loudness, render


def normalise_settings(settings: EpisodeSettingsIn) -> dict[str, Any]:
    """The cleaning/loudness/render settings as plain JSON, every default filled in (the
    episode row keeps what it was rendered with)."""
    cleaning, loudness, render = settings_dataclasses(settings)
    return json.loads(json.dumps({"cleaning": asdict(cleaning), "loudness": asdict(loudness),
                                  "render": asdict(render)}, default=str))


def settings_objects(stored: dict[str, Any]
                     ) -> tuple[CleaningSettings, LoudnessSettings, RenderSettings]:
    """The settings an episode row keeps, checked by the same types as a request."""
    try:
        model = EpisodeSettingsIn.model_validate(stored)
    except PydanticValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0].get("loc", ())) or "settings"
        raise ValidationFailed(f"the episode's stored settings are not valid ({where}); "
                               "create the episode again") from None
    return settings_dataclasses(model)


# --- episodes --------------------------------------------------------------------------------
OWNER_KIND = "episode"  # jobs run for an episode carry owner_kind="episode"


def get_episode(db: DbSession, user_id: str, episode_id: str, *, for_update: bool = False) -> Episode:
    stmt = select(Episode).where(Episode.id == episode_id, Episode.user_id == user_id)
    return load_owner(db, stmt, owner_kind=OWNER_KIND, owner_id=episode_id, what="episode",
                      for_update=for_update)


def list_episodes(db: DbSession, user_id: str, session_id: str | None = None) -> list[Episode]:
    stmt = select(Episode).where(Episode.user_id == user_id)
    if session_id:
        stmt = stmt.where(Episode.session_id == session_id)
    return list(db.scalars(stmt.order_by(Episode.created_at.desc())))


def episode_owners_of_session(db: DbSession, session_id: str) -> list[tuple[str, str]]:
    """The job owners deleted with a session: its episodes (for the job registry)."""
    ids = db.scalars(select(Episode.id).where(Episode.session_id == session_id))
    return [(OWNER_KIND, i) for i in ids]


def create_episode(db: DbSession, rt: Runtime, principal: Principal, *, session_id: str,
                   title: str | None, template_id: str | None, settings_in: EpisodeSettingsIn
                   ) -> Episode:
    user_id = principal.user_id
    enforcement.check_episode(db, rt, principal)
    session = sessions.get_session(db, user_id, session_id, for_update=True)
    if session.status != "completed" or session.transcript_version < 1:
        raise Conflict(f"session {session_id} is {session.status}; an episode needs a finished transcript")
    if session.source_purged_at is not None:
        raise Gone(f"the source audio of session {session_id} was deleted by the retention policy, "
                   "so no episode can be produced from it")
    if template_id:
        get_template(db, user_id, template_id)
    studio = users.studio_settings(db, user_id)  # the marker and bleeps, unless the episode says
    cleaning = CleaningIn.model_validate({**studio.cleaning_defaults(),
                                          **settings_in.cleaning.model_dump(exclude_unset=True)})
    settings = normalise_settings(settings_in.model_copy(update={"cleaning": cleaning}))
    ep = Episode(id=new_id(), user_id=user_id, session_id=session.id, template_id=template_id,
                 title=clean_text(title or session.title, 300) or "Episode", status="queued",
                 stage="queued", message="waiting for a worker", settings=settings,
                 source_transcript_version=session.transcript_version,
                 format=settings["render"]["format"])
    db.add(ep)
    db.flush()
    job = start_version(db, rt, ep)
    log.info("episode.created", episode_id=ep.id, session_id=session.id, job_id=job.id)
    return ep


def start_version(db: DbSession, rt: Runtime, ep: Episode) -> Job:
    """A render job for the episode's next version (the previous completed version stays
    served until this one completes). Refused when the plan's storage is used up: every
    version keeps its files."""
    enforcement.check_storage_room(db, rt, ep.user_id)
    job = jobs.create_job(db, rt, kind="render_episode", user_id=ep.user_id,
                          owner_kind=OWNER_KIND, owner_id=ep.id)
    ep.current_job_id = job.id
    db.add(EpisodeVersion(episode_id=ep.id, version=_next_version(db, ep.id), job_id=job.id,
                          format=ep.format))
    db.flush()
    return job


def _next_version(db: DbSession, episode_id: str) -> int:
    top = db.scalar(select(func.max(EpisodeVersion.version))
                    .where(EpisodeVersion.episode_id == episode_id))
    return int(top or 0) + 1


def version_for_job(db: DbSession, ep: Episode, job_id: str) -> EpisodeVersion:
    """The version a render job makes (made here for a job started without one)."""
    v = db.scalar(select(EpisodeVersion).where(EpisodeVersion.episode_id == ep.id,
                                               EpisodeVersion.job_id == job_id))
    if v is None:
        v = EpisodeVersion(episode_id=ep.id, version=_next_version(db, ep.id), job_id=job_id,
                           format=ep.format)
        db.add(v)
        db.flush()
    return v


def list_versions(db: DbSession, ep: Episode) -> list[tuple[EpisodeVersion, str]]:
    """Every version, newest first, with its status (completed, or its job's)."""
    rows = list(db.scalars(select(EpisodeVersion).where(EpisodeVersion.episode_id == ep.id)
                           .order_by(EpisodeVersion.version.desc())))
    job_ids = [v.job_id for v in rows if not v.completed and v.job_id]
    statuses = dict(db.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids))).all()) \
        if job_ids else {}
    return [(v, "completed" if v.completed else str(statuses.get(v.job_id or "", "failed")))
            for v in rows]


def get_version(db: DbSession, ep: Episode, version: int) -> EpisodeVersion:
    v = db.scalar(select(EpisodeVersion).where(EpisodeVersion.episode_id == ep.id,
                                               EpisodeVersion.version == version))
    if v is None:
        raise NotFound(f"this episode has no version {version}")
    if not v.completed or not v.audio_key:
        raise Conflict(f"version {version} of this episode is not finished; its audio exists "
                       "once it is")
    return v


def set_cuts(db: DbSession, rt: Runtime, user_id: str, episode_id: str, *,
             restore: list[str], add: list[dict[str, Any]]) -> Episode:
    """The desired set of cuts: automatic cuts to restore (their ids in the edit list) and
    the user's own cuts (source times or word indices); starts a new version."""
    ep = get_episode(db, user_id, episode_id, for_update=True)
    if ep.status in UNFINISHED_EPISODE_STATUSES:
        raise Conflict("a version of this episode is being made; change the cuts when it is "
                       "ready (or cancel it)")
    session = sessions.get_session(db, user_id, ep.session_id)
    if session.source_purged_at is not None:
        raise Gone("the original recording of this episode was deleted by the retention "
                   "policy, so it cannot be made again")
    words = 0
    if ep.source_transcript_version >= 1:
        words = len(sessions.load_transcript(rt, session, ep.source_transcript_version).words())
    user_cuts: list[dict[str, Any]] = []
    for a in add:
        if a.get("word_start") is not None:
            first, last = int(a["word_start"]), int(a["word_end"])
            if last >= words:
                raise ValidationFailed(f"the cut's words {first} to {last} are not in the "
                                       f"transcript, which has {words} words")
            user_cuts.append({"first_word": first, "last_word": last, "reason": "user cut"})
        else:
            user_cuts.append({"start": float(a["start"]), "end": float(a["end"]),
                              "reason": "user cut"})
    settings = dict(ep.settings or {})
    cleaning = dict(settings.get("cleaning") or {})
    cleaning["user_cuts"] = user_cuts
    cleaning["restored_cuts"] = sorted({i for r in restore for i in r.split("+") if i})
    settings["cleaning"] = cleaning
    settings_objects(settings)  # the same checks as at creation
    ep.settings = settings
    job = start_version(db, rt, ep)
    ep.error = ep.error_stage = None
    mirror_job(ep, job)
    log.info("episode.cuts_changed", episode_id=ep.id, restored=len(cleaning["restored_cuts"]),
             user_cuts=len(user_cuts), job_id=job.id)
    return ep


def retry_episode(db: DbSession, rt: Runtime, user_id: str, episode_id: str) -> Episode:
    ep = get_episode(db, user_id, episode_id, for_update=True)
    if ep.status not in RETRYABLE_EPISODE_STATUSES:
        raise Conflict("a version of this episode is being made; try again when it is ready")
    job = start_version(db, rt, ep)
    ep.error = ep.error_stage = None
    mirror_job(ep, job)
    return ep


def cancel_episode(db: DbSession, user_id: str, episode_id: str) -> Episode:
    ep = get_episode(db, user_id, episode_id, for_update=True)
    job = db.get(Job, ep.current_job_id) if ep.current_job_id else None
    if job is None or not jobs.cancel_job(db, job):
        raise Conflict(f"episode {episode_id} is {ep.status}; only queued or processing episodes can be cancelled")
    mirror_job(ep, job)
    return ep


def delete_episode(db: DbSession, rt: Runtime, user_id: str, episode_id: str) -> None:
    ep = get_episode(db, user_id, episode_id, for_update=True)
    jobs.delete_jobs_of(db, rt.registry, OWNER_KIND, ep.id)
    prefix = keys.episode_prefix(user_id, ep.session_id, episode_id)
    db.delete(ep)
    store = rt.store
    after_commit(db, lambda: store.delete_prefix(prefix))


def require_completed(ep: Episode) -> None:
    """The episode has a completed version (while a new one is made, the previous one is
    served)."""
    if not ep.audio_key:
        raise Conflict(f"episode {ep.id} is {ep.status}; its audio exists once it is completed")


# --- what a completed episode has -------------------------------------------------------------
def episode_audio(rt: Runtime, ep: Episode, version: EpisodeVersion | None = None
                  ) -> tuple[str, int]:
    """(key, size) of the audio of a completed episode (its newest completed version, or
    `version`) in the store."""
    if version is None:
        require_completed(ep)
    key = version.audio_key if version is not None else ep.audio_key
    assert key is not None
    head = rt.store.head(key)
    if head is None:
        log.error("episode.audio_missing", episode_id=ep.id, key=key)
        raise ArtifactMissing(f"the audio of episode {ep.title!r} is missing from storage")
    return key, head.size


def episode_transcript(rt: Runtime, ep: Episode) -> Transcript:
    """The transcript re-timed to the episode audio (words in cuts removed)."""
    require_completed(ep)
    assert ep.transcript_key is not None
    return Transcript.model_validate_json(rt.store.get_bytes(ep.transcript_key))


def export_episode_transcript(db: DbSession, rt: Runtime, principal: Principal, ep: Episode,
                              fmt: str) -> ExportResult:
    enforcement.check_export(db, rt, principal, fmt)
    return export(episode_transcript(rt, ep), fmt, title=ep.title)


@dataclass(frozen=True)
class CutView:
    kind: str
    reason: str
    source_start: float
    source_end: float
    episode_time: float  # where the join is in the episode
    words: list[str]
    id: str = ""
    applied: bool = True  # False: the audio check kept it ("kept: speech found")
    word_indices: tuple[int, ...] = ()


@dataclass(frozen=True)
class BleepView:
    reason: str
    source_start: float
    source_end: float
    episode_start: float  # the bleep keeps its time: where it plays in the episode
    words: list[str]


@dataclass(frozen=True)
class EditListView:
    source_duration: float
    episode_duration: float
    programme_offset_seconds: float
    cuts: list[CutView]
    bleeps: list[BleepView]


def edit_list_view(db: DbSession, rt: Runtime, ep: Episode) -> EditListView:
    """What was cut: each cut's source range, kind, the words it removed, and where the join
    lands in the episode (to play before and after)."""
    require_completed(ep)
    assert ep.edit_list_key is not None
    doc = json.loads(rt.store.get_bytes(ep.edit_list_key))
    edit_list = EditList.from_dict(doc["edit_list"])
    offset = float(doc.get("programme_offset_seconds", 0.0))
    session = sessions.get_session(db, ep.user_id, ep.session_id)
    words = []
    if session.transcript_version >= ep.source_transcript_version >= 1:
        words = sessions.load_transcript(rt, session, ep.source_transcript_version).words()
    cuts = [CutView(kind=c.kind, reason=c.reason, source_start=round(c.start, 3),
                    source_end=round(c.end, 3),
                    episode_time=round(edit_list.source_to_episode(c.start) + offset, 3),
                    words=[words[i].text.strip() for i in c.word_indices if i < len(words)],
                    id=c.id, applied=c.applied, word_indices=c.word_indices)
            for c in (*edit_list.cuts, *(replace(k, applied=False) for k in edit_list.kept))]
    cuts.sort(key=lambda c: (c.source_start, c.source_end))
    bleeps = [BleepView(reason=BLEEP_REASON, source_start=round(float(b["start"]), 3),
                        source_end=round(float(b["end"]), 3),
                        episode_start=round(edit_list.source_to_episode(float(b["start"])) + offset, 3),
                        words=[str(b.get("text", "")).strip()])
              for b in doc.get("bleeps", [])]
    return EditListView(edit_list.source_duration, edit_list.episode_duration, offset, cuts, bleeps)


# --- chapters across versions -----------------------------------------------------------------
def chapters_edit_key(db: DbSession, ep: Episode, version: int) -> str | None:
    """The edit list of the version the episode's chapters were set on (their episode time)
    when that is not ``version`` and it was completed; None when they need no moving.
    Chapters given with the settings, before any render, are in the first version's time."""
    render = (ep.settings or {}).get("render") or {}
    if not render.get("chapters"):
        return None
    base = int(render.get("chapters_version") or 1)
    if base == version:
        return None
    return db.scalar(select(EpisodeVersion.edit_list_key).where(
        EpisodeVersion.episode_id == ep.id, EpisodeVersion.version == base,
        EpisodeVersion.completed.is_(True)))


def chapter_base(store: Store, edit_list_key: str | None) -> ChapterBase | None:
    """A version's edit list and programme offset, from its stored edit list document."""
    if not edit_list_key:
        return None
    doc = json.loads(store.get_bytes(edit_list_key))
    return ChapterBase(EditList.from_dict(doc["edit_list"]),
                       float(doc.get("programme_offset_seconds", 0.0)))


def template_for_render(db: DbSession, user_id: str, template_id: str | None
                        ) -> tuple[dict[str, str], dict[str, float]]:
    """Asset keys by role and mix settings of a template (copied in the claim phase)."""
    if not template_id:
        return {}, {}
    tpl = db.get(EpisodeTemplate, template_id)
    if tpl is None or tpl.user_id != user_id:
        return {}, {}
    keys_by_role: dict[str, str] = {}
    for role, aid in (("intro", tpl.intro_asset_id), ("outro", tpl.outro_asset_id),
                      ("music", tpl.music_asset_id)):
        if aid:
            asset = db.get(Asset, aid)
            if asset is not None and asset.key:
                keys_by_role[role] = asset.key
    return keys_by_role, dict(tpl.settings or {})


def build_template(paths: dict[str, Any], mix: dict[str, float]) -> Template:
    return Template(intro=paths.get("intro"), outro=paths.get("outro"), music=paths.get("music"),
                    **{k: v for k, v in mix.items() if k in TEMPLATE_MIX_FIELDS})
