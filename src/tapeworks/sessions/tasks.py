"""The transcription job: claim (copy ids and options), work (download, decode, transcribe;
no database session), save (after the lease check: write the transcript, mark completed).

A multitrack session's job transcribes each track on its own (its words are the track's
speaker, no diarization), merges the tracks' transcripts in timeline time (a word heard on
two tracks stays on the louder one), mixes the tracks into the player's audio and stores it
under the session's prefix; the save phase then names it as the session's source."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session as DbSession

from tapeworks.db.uow import after_commit
from tapeworks.errors import Gone, NotFound
from tapeworks.http.intake import clean_filename
from tapeworks.logging import get_logger
from tapeworks.plans import usage
from tapeworks.production.multitrack import TrackSpec
from tapeworks.production.studio import MIXDOWN_FORMAT, Mixdown, merge_tracks, render_mixdown
from tapeworks.queue.jobs import JobContext
from tapeworks.queue.models import Job
from tapeworks.queue.registry import Pool
from tapeworks.sessions import service, tracks
from tapeworks.sessions.hooks import NO_HOOKS, SessionHooks
from tapeworks.sessions.models import RecordingSession
from tapeworks.sessions.tracks import TrackRef
from tapeworks.speech.pipeline import SpeakerVoice, TranscribeOptions, transcribe
from tapeworks.storage import keys
from tapeworks.transcripts.model import Transcript
from tapeworks.users import service as users

log = get_logger("tapeworks.sessions.tasks")

# Share of the progress bar per stage: download, speech (by audio seconds), upload; a
# multitrack job gives part of the speech share to mixing the tracks.
DOWNLOAD_SHARE = 3.0
SPEECH_SHARE = 94.0
MIXING_SHARE = 8.0
# What each stage of a transcription says while it runs (the stage field is the code).
STAGE_MESSAGES = {
    "downloading": "fetching the recording",
    "loading_model": "loading the speech model",
    "transcribing": "transcribing",
    "finding_speakers": "finding who speaks when",
    "mixing": "mixing the tracks for the player",
    "saving": "saving the transcript",
}


@dataclass(frozen=True)
class TranscribePayload:
    session_id: str
    user_id: str
    source_key: str | None
    duration_seconds: float
    language: str | None
    num_speakers: int | None
    hotwords: str | None = None  # the user's spoken edit marker, so the engine writes it right
    vocabulary: tuple[str, ...] = ()  # terms to expect (the session's, else the user's default)
    tracks: tuple[TrackRef, ...] = ()  # a multitrack session's tracks, in order


@dataclass(frozen=True)
class TranscribeResult:
    transcript_key: str
    version: int
    text: str
    language: str | None
    model_name: str | None
    audio_seconds: float
    transcript: Transcript | None = None  # for the search index (same transaction as save)
    mixdown: Mixdown | None = None  # a multitrack session's mix, stored under `mixdown_key`
    mixdown_key: str | None = None
    store: Any = field(default=None, repr=False, compare=False)  # the save phase writes with it
    voices: tuple[SpeakerVoice, ...] = ()  # each speaker's embedding (kept, never the audio)


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
        if not service.has_source(session):
            raise Gone("the source audio was deleted by the retention policy")
        return TranscribePayload(session.id, session.user_id, session.source_key,
                                 session.duration_seconds, session.language, session.num_speakers,
                                 users.studio_settings(db, session.user_id).hotwords,
                                 tuple(session.vocabulary or ()),
                                 tracks.track_refs(db, session.id) if session.track_count else ())

    def work(self, ctx: JobContext, p: TranscribePayload) -> TranscribeResult:
        rt = ctx.rt
        s = rt.settings
        scratch = s.scratch_dir / f"job-{ctx.ref.id}-{ctx.ref.attempt}"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            if p.tracks:
                return self._work_tracks(ctx, p, scratch)
            ctx.progress(0.5, "downloading", "fetching the recording")
            assert p.source_key is not None
            ext = Path(p.source_key).suffix
            local = scratch / f"source{ext}"
            rt.store.download_to(p.source_key, local)
            transcript, voices = self._transcribe(ctx, p, local)
            ctx.check()
            ctx.progress(DOWNLOAD_SHARE + SPEECH_SHARE, "saving", "saving the transcript")
            transcript = transcript.model_copy(update={"version": 1,
                                                       "vocabulary": list(p.vocabulary)})
            model = transcript.model
            return TranscribeResult(
                transcript_key=keys.session_transcript(p.user_id, p.session_id), version=1,
                text=transcript.text(), language=transcript.language,
                model_name=f"{model.engine}:{model.name} ({model.source})" if model else None,
                audio_seconds=transcript.duration or p.duration_seconds,
                transcript=transcript, store=rt.store, voices=voices,
            )
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _work_tracks(self, ctx: JobContext, p: TranscribePayload, scratch: Path) -> TranscribeResult:
        """Each track transcribed alone, the transcripts merged, the tracks mixed."""
        rt = ctx.rt
        ctx.progress(0.5, "downloading", f"fetching the {len(p.tracks)} tracks")
        specs = []
        for t in p.tracks:
            local = scratch / f"track-{t.position}{Path(t.key).suffix}"
            rt.store.download_to(t.key, local)
            specs.append(TrackSpec(local, t.name, t.offset_seconds))
        total = sum(t.duration_seconds for t in p.tracks) or 1.0
        speech_share = SPEECH_SHARE - MIXING_SHARE
        done = 0.0
        transcripts: list[Transcript] = []
        voices: list[SpeakerVoice] = []
        language = p.language
        for t, spec in zip(p.tracks, specs, strict=True):
            lo = DOWNLOAD_SHARE + speech_share * done / total
            span = speech_share * t.duration_seconds / total
            label = f"track {t.position} of {len(p.tracks)} ({t.name})"
            one, heard = self._transcribe(ctx, p, spec.path, num_speakers=1, language=language,
                                          share=(lo, span), label=label)
            voices.extend(SpeakerVoice(f"S{t.position}", v.embedding, v.seconds)
                          for v in heard[:1])  # the track's one speaker
            language = language or one.language  # the tracks of one talk share a language
            transcripts.append(one)
            done += t.duration_seconds
        ctx.check()
        mixing_at = DOWNLOAD_SHARE + speech_share
        ctx.progress(mixing_at, "mixing", STAGE_MESSAGES["mixing"])
        merged = merge_tracks(transcripts, specs, duration=p.duration_seconds)
        mix = render_mixdown(specs, scratch / f"mixdown.{MIXDOWN_FORMAT}", progress=lambda f: ctx.progress(
            mixing_at + MIXING_SHARE * f, None, STAGE_MESSAGES["mixing"]))
        ctx.check()
        mix_key = keys.session_mixdown(p.user_id, p.session_id, mix.format,
                                       f"{ctx.ref.id}-{ctx.ref.attempt}")  # this attempt's own
        rt.store.put_file(mix_key, mix.path)  # in the store before the row names it (rule 4)
        ctx.progress(DOWNLOAD_SHARE + SPEECH_SHARE, "saving", "saving the transcript")
        merged = merged.model_copy(update={"version": 1, "vocabulary": list(p.vocabulary)})
        model = merged.model
        log.info("session.tracks_transcribed", session_id=p.session_id, tracks=len(p.tracks),
                 words=len(merged.words()), gains_db=mix.track_gains_db)
        return TranscribeResult(
            transcript_key=keys.session_transcript(p.user_id, p.session_id), version=1,
            text=merged.text(), language=merged.language,
            model_name=f"{model.engine}:{model.name} ({model.source})" if model else None,
            audio_seconds=p.duration_seconds, transcript=merged, mixdown=mix, mixdown_key=mix_key,
            store=rt.store, voices=tuple(voices))

    def _transcribe(self, ctx: JobContext, p: TranscribePayload, local: Path, *,
                    num_speakers: int | None = None, language: str | None = None,
                    share: tuple[float, float] = (DOWNLOAD_SHARE, SPEECH_SHARE),
                    label: str = "") -> tuple[Transcript, tuple[SpeakerVoice, ...]]:
        s = ctx.rt.settings
        options = TranscribeOptions(
            engine=s.speech_engine, model=s.speech_model, model_path=s.speech_model_path,
            model_dir=str(s.models_dir), language=language or p.language,
            num_speakers=num_speakers or p.num_speakers,
            cloud_url=s.speech_cloud_url, cloud_api_key=s.speech_cloud_api_key,
            fake_realtime_factor=s.fake_realtime_factor,
            hotwords=service.engine_hotwords(p.vocabulary, p.hotwords),
        )
        started = time.monotonic()
        done_share = [0.0]
        lo, span = share
        prefix = f"{label}: " if label else ""

        def progress(done: float, total: float) -> None:
            frac = min(1.0, done / total) if total > 0 else 0.0
            done_share[0] = frac
            message = (f"{done:.0f} of {total:.0f} seconds of audio" if ctx.stage == "transcribing"
                       else STAGE_MESSAGES.get(ctx.stage, ""))
            ctx.progress(lo + span * frac, None, prefix + message)

        def stage(name: str) -> None:  # stages as they happen
            ctx.progress(lo + span * done_share[0], name, prefix + STAGE_MESSAGES.get(name, ""))

        done = transcribe(local, options, progress, stage)
        transcript = done.transcript
        log.info("session.transcribed", session_id=p.session_id,
                 seconds=round(time.monotonic() - started, 2),
                 model=transcript.model.model_dump() if transcript.model else None)
        return transcript, done.voices

    def save(self, db: DbSession, job: Job, p: TranscribePayload, r: TranscribeResult) -> None:
        session = db.get(RecordingSession, p.session_id)
        if session is None:  # deleted while we worked (its jobs went with it)
            raise NotFound("the recording no longer exists")
        # The transcript is written only now, after the queue checked this attempt still
        # holds the lease (the job row is locked): a stale worker whose lease expired while
        # it worked never overwrites the transcript a newer attempt saved, or the user's
        # edits of it. Same keys on a retry (idempotent).
        transcript = r.transcript
        if transcript is not None:
            service.store_speaker_voices(db, p.session_id, r.voices)
            transcript = self.hooks.on_speakers(db, session, transcript)  # known voices
        if transcript is not None and r.store is not None:
            _key, written = service.write_transcript_sized(r.store, p.user_id, p.session_id,
                                                           transcript)
            # the first transcript, or version 1 written again over an earlier one (counted
            # once more: storage errs on the side of counting what may be kept)
            session.transcript_bytes = written if session.transcript_version <= 0 \
                else (session.transcript_bytes or 0) + written
        session.transcript_key = r.transcript_key
        session.transcript_version = max(session.transcript_version, r.version)
        session.transcript_text = r.text
        session.detected_language = r.language
        session.model_name = r.model_name
        if r.mixdown is not None and r.mixdown_key:  # the player's audio, already in the store
            superseded = session.source_key
            if superseded and superseded != r.mixdown_key and r.store is not None \
                    and session.track_count > 0:  # an earlier attempt's mix (never a track)
                store = r.store
                after_commit(db, lambda: store.delete(superseded))
            session.source_key = r.mixdown_key
            session.source_format = session.codec = r.mixdown.format
            session.source_filename = clean_filename(f"{session.title} (mix).{r.mixdown.format}")
            session.channels, session.sample_rate = r.mixdown.channels, r.mixdown.rate
        if transcript is not None:
            self.hooks.on_transcript(db, session, transcript)
        job.audio_seconds = r.audio_seconds
        usage.charge_for_job(db, job, kind="transcription", seconds=r.audio_seconds,
                             session_id=p.session_id)
