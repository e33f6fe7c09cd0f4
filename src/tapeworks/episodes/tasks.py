"""The episode job: claim (copy keys and settings), work (download, cut, level, mix, encode,
upload audio + re-timed transcript + edit list; no database session), save (complete).

Rule 12: the audio, the re-timed transcript and the edit list that produced both are all in
the store before the episode is marked completed. Each attempt writes under its own keys
(`keys.episode_render_prefix(..., render="<job>-<attempt>")`) and the database points at
them only in the save phase, after the lease check: no half-written file is served, and a
stale worker whose lease expired (a cut link) never overwrites a newer attempt's files.
The files of the render an episode no longer names are deleted after the commit.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.db.uow import after_commit
from tapeworks.episodes import service
from tapeworks.episodes.models import Asset, Episode, EpisodeVersion
from tapeworks.errors import Gone, NotFound
from tapeworks.http.intake import clean_filename, probe_upload
from tapeworks.logging import get_logger
from tapeworks.plans import usage
from tapeworks.production.multitrack import TrackSpec
from tapeworks.production.pipeline import produce
from tapeworks.production.studio import produce_multitrack
from tapeworks.queue.jobs import JobContext
from tapeworks.queue.models import Job
from tapeworks.queue.registry import Pool
from tapeworks.sessions import tracks
from tapeworks.sessions.models import RecordingSession
from tapeworks.sessions.tracks import TrackRef
from tapeworks.storage import keys
from tapeworks.transcripts.model import Transcript

log = get_logger("tapeworks.episodes.tasks")

DOWNLOAD_SHARE = 4.0
PRODUCE_SHARE = 92.0


@dataclass(frozen=True)
class RenderPayload:
    episode_id: str
    session_id: str
    user_id: str
    title: str
    show: str
    source_key: str
    transcript_key: str
    settings: dict[str, Any]
    asset_keys: dict[str, str]
    mix: dict[str, float]
    tracks: tuple[TrackRef, ...] = ()  # a multitrack session: rendered from its tracks
    version: int | None = None  # the version this render makes (its files under v{n}/)
    # the edit list of the version the chapters were set on, when it is another one
    chapters_edit_key: str | None = None


@dataclass(frozen=True)
class RenderResult:
    audio_key: str
    transcript_key: str
    edit_list_key: str
    format: str
    duration_seconds: float
    size_bytes: int
    loudness: dict[str, Any]
    cuts: dict[str, Any]
    source_seconds: float
    store: Any = field(default=None, repr=False, compare=False)  # to drop superseded files
    stored_bytes: int = 0  # the three files together (counted towards storage)


class RenderEpisodeHandler:
    kind = "render_episode"
    pool: Pool = "long"
    max_attempts: int | None = None  # the TAPEWORKS_JOB_MAX_ATTEMPTS setting

    def prepare(self, db: DbSession, job: Job) -> RenderPayload:
        ep = db.get(Episode, job.owner_id) if job.owner_id else None
        if ep is None:
            raise NotFound("the episode no longer exists")
        session = db.get(RecordingSession, ep.session_id)
        if session is None:
            raise NotFound("the recording of this episode no longer exists")
        if session.source_purged_at is not None or not session.source_key:
            raise Gone("the source audio was deleted by the retention policy")
        asset_keys, mix = service.template_for_render(db, ep.user_id, ep.template_id)
        version = service.version_for_job(db, ep, job.id).version
        return RenderPayload(
            episode_id=ep.id, session_id=ep.session_id, user_id=ep.user_id, title=ep.title, show=session.title,
            source_key=session.source_key,
            transcript_key=keys.session_transcript(session.user_id, session.id,
                                                   ep.source_transcript_version),
            settings=dict(ep.settings or {}), asset_keys=asset_keys, mix=mix,
            tracks=tracks.track_refs(db, session.id) if session.track_count else (),
            version=version,
            chapters_edit_key=service.chapters_edit_key(db, ep, version))

    def work(self, ctx: JobContext, p: RenderPayload) -> RenderResult:
        rt = ctx.rt
        scratch = rt.settings.scratch_dir / f"job-{ctx.ref.id}-{ctx.ref.attempt}"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            ctx.progress(0.5, "downloading", "fetching the recording and assets")
            specs: list[TrackSpec] = []
            for t in p.tracks:  # a multitrack session renders from its tracks, not the mix
                local = scratch / f"track-{t.position}{Path(t.key).suffix}"
                rt.store.download_to(t.key, local)
                specs.append(TrackSpec(local, t.name, t.offset_seconds))
            source = scratch / f"source{Path(p.source_key).suffix}"
            if not specs:
                rt.store.download_to(p.source_key, source)
            transcript = Transcript.model_validate_json(rt.store.get_bytes(p.transcript_key))
            paths: dict[str, Path] = {}
            for role, key in p.asset_keys.items():
                paths[role] = scratch / f"{role}{Path(key).suffix}"
                rt.store.download_to(key, paths[role])
            cleaning, loudness, render = service.settings_objects(p.settings)
            render.title = render.title or p.title
            render.show = render.show or p.show
            template = service.build_template(paths, p.mix)
            chapters_from = service.chapter_base(rt.store, p.chapters_edit_key)
            ctx.progress(DOWNLOAD_SHARE, "analysing", "finding fillers and pauses")

            def progress(stage: str, fraction: float) -> None:
                ctx.progress(DOWNLOAD_SHARE + PRODUCE_SHARE * fraction, stage, f"{stage} audio")

            out = scratch / f"episode.{render.format}"
            multi: dict[str, Any] = {}
            if specs:
                made = produce_multitrack(specs, transcript, out, cleaning=cleaning, loudness=loudness,
                                          template=template, render=render, scratch_dir=scratch,
                                          progress=progress, chapters_from=chapters_from)
                result = made.result
                multi = {"track_gains_db": made.track_gains_db, "mutes": made.mutes,
                         "muted_markers": [list(m) for m in made.muted_markers]}
            else:
                result = produce(source, transcript, out, cleaning=cleaning, loudness=loudness,
                                 template=template, render=render, progress=progress,
                                 chapters_from=chapters_from)
            ctx.check()
            ctx.progress(DOWNLOAD_SHARE + PRODUCE_SHARE, "uploading", "saving the episode")
            attempt = f"{ctx.ref.id}-{ctx.ref.attempt}"  # this attempt's own keys
            v = p.version
            audio_key = keys.episode_audio(p.user_id, p.session_id, p.episode_id, render.format,
                                           attempt, v)
            transcript_key = keys.episode_transcript(p.user_id, p.session_id, p.episode_id,
                                                     attempt, v)
            edit_key = keys.episode_edit_list(p.user_id, p.session_id, p.episode_id, attempt, v)
            rt.store.put_file(audio_key, out)
            transcript_doc = result.transcript.model_dump_json().encode()
            rt.store.put_bytes(transcript_key, transcript_doc, content_type="application/json")
            edit_doc = {"edit_list": result.edit_list.to_dict(),
                        "programme_offset_seconds": result.programme_offset_seconds,
                        "layout": result.layout,
                        "bleeps": [b.to_dict() for b in result.bleeps],
                        "chapters": [list(c) for c in result.chapters],  # as in the file
                        **({"multitrack": multi} if multi else {})}
            edit_bytes = json.dumps(edit_doc).encode()
            rt.store.put_bytes(edit_key, edit_bytes, content_type="application/json")
            audio_bytes = out.stat().st_size
            return RenderResult(audio_key, transcript_key, edit_key, render.format,
                                result.duration_seconds, audio_bytes, result.loudness,
                                result.cuts, transcript.duration or 0.0, store=rt.store,
                                stored_bytes=audio_bytes + len(transcript_doc) + len(edit_bytes))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def save(self, db: DbSession, job: Job, p: RenderPayload, r: RenderResult) -> None:
        ep = db.get(Episode, p.episode_id)
        if ep is None:
            raise NotFound("the episode no longer exists")
        new = (r.audio_key, r.transcript_key, r.edit_list_key)
        version = service.version_for_job(db, ep, job.id)
        kept = {k for row in db.scalars(select(EpisodeVersion).where(
            EpisodeVersion.episode_id == ep.id, EpisodeVersion.completed.is_(True),
            EpisodeVersion.id != version.id))
            for k in (row.audio_key, row.transcript_key, row.edit_list_key) if k}
        # files no completed version names (an earlier attempt of this version's render)
        old = [k for k in (version.audio_key, version.transcript_key, version.edit_list_key,
                           ep.audio_key, ep.transcript_key, ep.edit_list_key)
               if k and k not in new and k not in kept]
        ep.audio_key, ep.transcript_key, ep.edit_list_key = new
        version.audio_key, version.transcript_key, version.edit_list_key = new
        if old and r.store is not None:
            store = r.store
            after_commit(db, lambda: [store.delete(k) for k in old])
        ep.format, ep.duration_seconds, ep.size_bytes = r.format, r.duration_seconds, r.size_bytes
        ep.loudness, ep.cuts_summary = r.loudness, r.cuts
        ep.version = version.version
        version.completed, version.completed_at = True, utcnow()
        version.format, version.duration_seconds = r.format, r.duration_seconds
        version.size_bytes, version.loudness, version.cuts_summary = r.size_bytes, r.loudness, r.cuts
        version.stored_bytes = r.stored_bytes or r.size_bytes
        job.audio_seconds = r.duration_seconds
        usage.charge_for_job(db, job, kind="episode_render", seconds=r.duration_seconds,
                             session_id=p.session_id, episode_id=p.episode_id)
        log.info("episode.rendered", episode_id=p.episode_id, seconds=r.duration_seconds,
                 loudness=r.loudness)


# --- generated assets: text spoken by a narrator -----------------------------------------------
@dataclass(frozen=True)
class SpeakPayload:
    asset_id: str
    user_id: str
    name: str
    text: str
    narrator: str


@dataclass(frozen=True)
class SpeakResult:
    key: str
    filename: str
    format: str
    codec: str
    channels: int
    sample_rate: int
    size_bytes: int
    duration_seconds: float


class SpeakAssetHandler:
    """Speak an asset's text with its narrator: claim (copy the text), work (render with
    the engine, probe the audio like an upload, store it under the asset's key), save
    (the row names the audio). An engine failure fails the job with the engine's message
    for the user, and the asset keeps no audio. Levelled at render like any asset."""

    kind = "speak_asset"
    pool: Pool = "short"
    max_attempts: int | None = 2

    def prepare(self, db: DbSession, job: Job) -> SpeakPayload:
        asset = db.get(Asset, job.owner_id) if job.owner_id else None
        if asset is None or asset.origin != "speech" or not asset.text or not asset.narrator:
            raise NotFound("the asset to speak no longer exists")
        return SpeakPayload(asset.id, asset.user_id, asset.name, asset.text, asset.narrator)

    def work(self, ctx: JobContext, p: SpeakPayload) -> SpeakResult:
        rt = ctx.rt
        scratch = rt.settings.scratch_dir / f"job-{ctx.ref.id}-{ctx.ref.attempt}"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            ctx.progress(5.0, "speaking", "the narrator is speaking the text")
            narration = rt.narrators.narrate(p.narrator, p.text, scratch)
            ctx.check()
            ctx.progress(80.0, "saving", "saving the audio")
            rec = probe_upload(narration.path, f"{p.name}.{narration.format}")
            key = keys.asset_key(p.user_id, p.asset_id, rec.ext)
            rt.store.put_file(key, rec.path)
            info = rec.info
            return SpeakResult(key, clean_filename(f"{p.name}.{rec.ext}"), rec.ext, info.codec,
                               info.channels, info.sample_rate, rec.size_bytes,
                               info.duration_seconds)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def save(self, db: DbSession, job: Job, p: SpeakPayload, r: SpeakResult) -> None:
        asset = db.get(Asset, p.asset_id)
        if asset is None:
            raise NotFound("the asset no longer exists")
        asset.key, asset.filename, asset.format, asset.codec = r.key, r.filename, r.format, r.codec
        asset.channels, asset.sample_rate = r.channels, r.sample_rate
        asset.size_bytes, asset.duration_seconds = r.size_bytes, r.duration_seconds
        log.info("asset.spoken", asset_id=p.asset_id, narrator=p.narrator,
                 seconds=round(r.duration_seconds, 2))
