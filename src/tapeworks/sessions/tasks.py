"""The transcription job: claim (copy ids and options), work (download, decode, transcribe,
upload the transcript; no database session), save (mark completed)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import Gone, NotFound
from tapeworks.logging import get_logger
from tapeworks.plans import usage
from tapeworks.queue.jobs import JobContext
from tapeworks.queue.models import Job
from tapeworks.queue.registry import Pool
from tapeworks.sessions import service
from tapeworks.sessions.hooks import NO_HOOKS, SessionHooks
from tapeworks.sessions.models import RecordingSession
from tapeworks.speech.pipeline import TranscribeOptions, transcribe_file
from tapeworks.transcripts.model import Transcript
from tapeworks.users import service as users

log = get_logger("tapeworks.sessions.tasks")

# Share of the progress bar per stage: download, speech (by audio seconds), upload.
DOWNLOAD_SHARE = 3.0
SPEECH_SHARE = 94.0
# What each stage of a transcription says while it runs (the stage field is the code).
STAGE_MESSAGES = {
    "downloading": "fetching the recording",
    "loading_model": "loading the speech model",
    "transcribing": "transcribing",
    "finding_speakers": "finding who speaks when",
    "saving": "saving the transcript",
}


@dataclass(frozen=True)
class TranscribePayload:
    session_id: str
    user_id: str
    source_key: str
    duration_seconds: float
    language: str | None
    num_speakers: int | None
    hotwords: str | None = None  # the user's spoken edit marker, so the engine writes it right


@dataclass(frozen=True)
class TranscribeResult:
    transcript_key: str
    version: int
    text: str
    language: str | None
    model_name: str | None
    audio_seconds: float
    transcript: Transcript | None = None  # for the search index (same transaction as save)


class TranscribeHandler:
    kind = "transcribe"
    pool: Pool = "long"
    max_attempts: int | None = None  # the TAPEWORKS_JOB_MAX_ATTEMPTS setting

    def __init__(self, hooks: SessionHooks = NO_HOOKS) -> None:
        self.hooks = hooks

    def prepare(self, db: DbSession, job: Job) -> TranscribePayload:
        session = db.get(RecordingSession, job.owner_id) if job.owner_id else None
        if session is None:
            raise NotFound("the recording no longer exists")
        if session.source_purged_at is not None or not session.source_key:
            raise Gone("the source audio was deleted by the retention policy")
        return TranscribePayload(session.id, session.user_id, session.source_key,
                                 session.duration_seconds, session.language, session.num_speakers,
                                 users.studio_settings(db, session.user_id).hotwords)

    def work(self, ctx: JobContext, p: TranscribePayload) -> TranscribeResult:
        rt = ctx.rt
        s = rt.settings
        scratch = s.scratch_dir / f"job-{ctx.ref.id}-{ctx.ref.attempt}"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            ctx.progress(0.5, "downloading", "fetching the recording")
            ext = Path(p.source_key).suffix
            local = scratch / f"source{ext}"
            rt.store.download_to(p.source_key, local)
            transcript = self._transcribe(ctx, p, local)
            ctx.check()
            ctx.progress(DOWNLOAD_SHARE + SPEECH_SHARE, "saving", "saving the transcript")
            transcript = transcript.model_copy(update={"version": 1})
            key = service.write_transcript(rt, p.user_id, p.session_id, transcript)
            model = transcript.model
            return TranscribeResult(
                transcript_key=key, version=1, text=transcript.text(),
                language=transcript.language,
                model_name=f"{model.engine}:{model.name} ({model.source})" if model else None,
                audio_seconds=transcript.duration or p.duration_seconds,
                transcript=transcript,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _transcribe(self, ctx: JobContext, p: TranscribePayload, local: Path) -> Transcript:
        s = ctx.rt.settings
        options = TranscribeOptions(
            engine=s.speech_engine, model=s.speech_model, model_path=s.speech_model_path,
            model_dir=str(s.models_dir), language=p.language, num_speakers=p.num_speakers,
            cloud_url=s.speech_cloud_url, cloud_api_key=s.speech_cloud_api_key,
            fake_realtime_factor=s.fake_realtime_factor, hotwords=p.hotwords,
        )
        started = time.monotonic()
        done_share = [0.0]

        def progress(done: float, total: float) -> None:
            frac = min(1.0, done / total) if total > 0 else 0.0
            done_share[0] = frac
            message = (f"{done:.0f} of {total:.0f} seconds of audio" if ctx.stage == "transcribing"
                       else STAGE_MESSAGES.get(ctx.stage, ""))
            ctx.progress(DOWNLOAD_SHARE + SPEECH_SHARE * frac, None, message)

        def stage(name: str) -> None:  # stages as they happen
            ctx.progress(DOWNLOAD_SHARE + SPEECH_SHARE * done_share[0], name,
                         STAGE_MESSAGES.get(name, ""))

        transcript = transcribe_file(local, options, progress, stage)
        log.info("session.transcribed", session_id=p.session_id,
                 seconds=round(time.monotonic() - started, 2),
                 model=transcript.model.model_dump() if transcript.model else None)
        return transcript

    def save(self, db: DbSession, job: Job, p: TranscribePayload, r: TranscribeResult) -> None:
        session = db.get(RecordingSession, p.session_id)
        if session is None:  # deleted while we worked (its jobs went with it)
            raise NotFound("the recording no longer exists")
        session.transcript_key = r.transcript_key
        session.transcript_version = max(session.transcript_version, r.version)
        session.transcript_text = r.text
        session.detected_language = r.language
        session.model_name = r.model_name
        if r.transcript is not None:
            self.hooks.on_transcript(db, session, r.transcript)
        job.audio_seconds = r.audio_seconds
        usage.charge_for_job(db, job, kind="transcription", seconds=r.audio_seconds,
                             session_id=p.session_id)
