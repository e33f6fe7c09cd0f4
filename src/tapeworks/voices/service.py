"""Voice profiles: the rules. A voice is enrolled from a transcribed session's speaker
(its embedding, stored at transcription in `session_speakers`, is copied: the voice
survives the session and its audio), strengthened by more samples, and recognised in the
owner's new sessions: the speaker whose embedding is closest to a voice, above
`MATCH_THRESHOLD`, gets the voice's name, role and id. Never across users.

The threshold was set by measurement (bench/bench_voices.py, and
tests/integration/voices/test_voices.py): one voice in two different recordings meets at
0.875-0.93 for real speech (the callers of sample.wav, JFK) and 0.976-0.984 for espeak-ng
voices; different voices stay at or below 0.842 for real speech and 0.845 for the
closest espeak-ng pair (median 0.58). 0.86 sits in that gap; the margin is thin on
telephone speech, so a match is shown with its score and the user can correct it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import Conflict, NotFound, ValidationFailed
from tapeworks.http.inputs import clean_text
from tapeworks.logging import get_logger
from tapeworks.sessions import service as sessions
from tapeworks.sessions.models import RecordingSession, SessionSpeaker
from tapeworks.transcripts.model import SPEAKER_ROLES, Speaker, Transcript
from tapeworks.users import service as users
from tapeworks.voices.models import Voice, VoiceSample

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.voices")

MATCH_THRESHOLD = 0.86  # cosine similarity of a speaker's and a voice's embeddings
MIN_MATCH_SECONDS = 1.5  # a speaker heard less than this is not recognised (too little to tell)
COMPLEMENT = {"coach": "client", "host": "guest"}  # the other speaker of a two-person talk
MAX_VOICES = 200


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _check_role(role: str | None) -> str | None:
    if role in (None, ""):
        return None
    if role not in SPEAKER_ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(SPEAKER_ROLES)} (or empty)",
                               details={"field": "role", "allowed": list(SPEAKER_ROLES)})
    return role


def _check_name(name: str | None) -> str:
    clean = clean_text(name, 100)
    if not clean:
        raise ValidationFailed("a voice needs a name; the name was empty", details={"field": "name"})
    return clean


def get_voice(db: DbSession, user_id: str, voice_id: str) -> Voice:
    voice = db.get(Voice, voice_id)
    if voice is None or voice.user_id != user_id:  # another user's voice is a 404
        raise NotFound(f"voice {voice_id} not found")
    return voice


def list_voices(db: DbSession, user_id: str) -> list[Voice]:
    return list(db.scalars(select(Voice).where(Voice.user_id == user_id)
                           .order_by(Voice.is_me.desc(), Voice.name, Voice.id)))


def samples_of(db: DbSession, voice_id: str) -> list[VoiceSample]:
    return list(db.scalars(select(VoiceSample).where(VoiceSample.voice_id == voice_id)
                           .order_by(VoiceSample.created_at, VoiceSample.id)))


def _speaker_sample(db: DbSession, user_id: str, session_id: str,
                    speaker_id: str) -> tuple[RecordingSession, SessionSpeaker]:
    session = sessions.get_session(db, user_id, session_id, for_update=True)  # 404 if foreign
    if session.transcript_version <= 0:
        raise Conflict("this recording has no transcript yet; a voice can be taken from it "
                       "once it is transcribed")
    row = db.get(SessionSpeaker, (session.id, speaker_id))
    if row is None:
        raise Conflict(f"no voice was recorded for speaker {speaker_id!r} of this recording "
                       "(it is not one of its speakers, speakers could not be told apart, or "
                       "it was transcribed before voices were kept)",
                       details={"field": "speaker_id"})
    if row.speech_seconds < MIN_MATCH_SECONDS:
        raise Conflict(f"speaker {speaker_id!r} speaks for only {row.speech_seconds:.1f} s in "
                       f"this recording; a voice needs at least {MIN_MATCH_SECONDS:.1f} s",
                       details={"field": "speaker_id"})
    return session, row


def _recompute(db: DbSession, voice: Voice) -> None:
    """The voice's embedding: the unit mean of its samples, weighted by their seconds."""
    rows = samples_of(db, voice.id)
    vectors = np.stack([sessions.decode_embedding(s.embedding) for s in rows])
    weights = np.array([max(s.speech_seconds, 0.1) for s in rows])
    voice.embedding = sessions.encode_embedding(_unit((vectors * weights[:, None]).sum(axis=0)))
    voice.sample_count = len(rows)
    voice.speech_seconds = round(float(sum(s.speech_seconds for s in rows)), 3)
    db.flush()


def _add_sample(db: DbSession, voice: Voice, session: RecordingSession, row: SessionSpeaker) -> None:
    for s in samples_of(db, voice.id):
        if s.session_id == session.id and s.speaker_id == row.speaker_id:
            return  # the same speaker added twice counts once
    db.add(VoiceSample(voice_id=voice.id, user_id=voice.user_id, session_id=session.id,
                       speaker_id=row.speaker_id, embedding=row.embedding,
                       speech_seconds=row.speech_seconds))
    db.flush()
    _recompute(db, voice)


def create_voice(db: DbSession, rt: Runtime, user_id: str, *, session_id: str, speaker_id: str,
                 name: str | None, role: str | None, is_me: bool = False) -> Voice:
    """Enroll a speaker of one of the user's transcribed sessions as a known voice; that
    speaker of that session is labelled with it at once (a new transcript version)."""
    role = _check_role(role)
    if is_me and not clean_text(name, 100):
        name = users.get_user(db, user_id).name or "Me"
    clean = _check_name(name)
    session, row = _speaker_sample(db, user_id, session_id, speaker_id)
    count = len(list_voices(db, user_id))
    if count >= MAX_VOICES:
        raise Conflict(f"an account keeps at most {MAX_VOICES} voices; delete one first")
    if is_me:
        for other in list_voices(db, user_id):
            if other.is_me:
                raise Conflict(f"your own voice is already enrolled as {other.name!r}; add "
                               f"this recording to it instead",
                               details={"voice_id": other.id})
    voice = Voice(user_id=user_id, name=clean, role=role, is_me=is_me, embedding=row.embedding,
                  sample_count=0)
    db.add(voice)
    db.flush()
    _add_sample(db, voice, session, row)
    _label_enrolled(db, rt, session, voice, speaker_id)
    log.info("voice.created", voice_id=voice.id, user_id=user_id, session_id=session.id)
    return voice


def add_sample(db: DbSession, rt: Runtime, user_id: str, voice_id: str, *, session_id: str,
               speaker_id: str) -> Voice:
    """Another recording's speaker strengthens the voice (and is labelled with it)."""
    voice = get_voice(db, user_id, voice_id)
    session, row = _speaker_sample(db, user_id, session_id, speaker_id)
    _add_sample(db, voice, session, row)
    _label_enrolled(db, rt, session, voice, speaker_id)
    log.info("voice.sample_added", voice_id=voice.id, session_id=session.id)
    return voice


def update_voice(db: DbSession, user_id: str, voice_id: str, values: dict[str, Any]) -> Voice:
    voice = get_voice(db, user_id, voice_id)
    if "name" in values and values["name"] is not None:
        voice.name = _check_name(values["name"])
    if "role" in values:
        voice.role = _check_role(values["role"])
    db.flush()
    return voice


def delete_voice(db: DbSession, user_id: str, voice_id: str) -> None:
    """The voice and every sample embedding of it are deleted (nothing matches it after)."""
    voice = get_voice(db, user_id, voice_id)
    db.execute(delete(VoiceSample).where(VoiceSample.voice_id == voice.id))
    db.delete(voice)
    db.flush()
    log.info("voice.deleted", voice_id=voice_id, user_id=user_id)


def export_voices(db: DbSession, user_id: str) -> list[dict[str, Any]]:
    """Everything kept about the user's voices, embeddings included (biometric data)."""
    out = []
    for v in list_voices(db, user_id):
        out.append({
            "id": v.id, "name": v.name, "role": v.role, "is_me": v.is_me,
            "created_at": v.created_at.isoformat(), "speech_seconds": v.speech_seconds,
            "embedding": [round(float(x), 6) for x in sessions.decode_embedding(v.embedding)],
            "samples": [{"session_id": s.session_id, "speaker_id": s.speaker_id,
                         "speech_seconds": s.speech_seconds, "created_at": s.created_at.isoformat(),
                         "embedding": [round(float(x), 6)
                                       for x in sessions.decode_embedding(s.embedding)]}
                        for s in samples_of(db, v.id)],
        })
    return out


# --- recognising known voices in a transcript -------------------------------------------------
def _matches(embeddings: dict[str, tuple[np.ndarray, float]], voices: list[Voice],
             taken: set[str] = frozenset()) -> dict[str, tuple[Voice, float]]:  # type: ignore[assignment]
    """speaker id -> (voice, score): best pairs first, each voice and speaker used once."""
    pairs = []
    for sid, (vec, seconds) in embeddings.items():
        if seconds < MIN_MATCH_SECONDS or sid in taken:
            continue
        u = _unit(vec)
        for voice in voices:
            score = float(u @ _unit(sessions.decode_embedding(voice.embedding)))
            if score >= MATCH_THRESHOLD:
                pairs.append((score, sid, voice))
    out: dict[str, tuple[Voice, float]] = {}
    used: set[str] = set()
    for score, sid, voice in sorted(pairs, key=lambda p: -p[0]):
        if sid not in out and voice.id not in used:
            out[sid] = (voice, score)
            used.add(voice.id)
    return out


def _apply_matches(t: Transcript, found: dict[str, tuple[Voice, float]]) -> Transcript:
    speakers = []
    for sp in t.speakers:
        if sp.id in found:
            voice, score = found[sp.id]
            sp = sp.model_copy(update={"name": voice.name, "role": voice.role,
                                       "voice_id": voice.id, "match_score": round(score, 3),
                                       "role_inferred": False})
        speakers.append(sp)
    return t.model_copy(update={"speakers": _infer_roles(speakers)})


def _infer_roles(speakers: list[Speaker]) -> list[Speaker]:
    """Two speakers, one a known coach (or host): the other is the client (or guest)."""
    if len(speakers) != 2:
        return speakers
    for known, other in ((0, 1), (1, 0)):
        a, b = speakers[known], speakers[other]
        if a.voice_id and a.role in COMPLEMENT and b.role is None and not b.voice_id:
            out = list(speakers)
            out[other] = b.model_copy(update={"role": COMPLEMENT[a.role], "role_inferred": True})
            return out
    return speakers


def recognise(db: DbSession, session: RecordingSession, t: Transcript) -> Transcript:
    """The session hook run on a new transcription: known voices of the session's owner
    name their speakers; the others stay as they are ("Speaker N", no role)."""
    voices = list_voices(db, session.user_id)
    if not voices:
        return t
    embeddings = sessions.speaker_embeddings(db, session.id)
    found = _matches(embeddings, voices)
    if not found:
        return t
    log.info("voices.recognised", session_id=session.id, speakers=sorted(found))
    return _apply_matches(t, found)


def _label_enrolled(db: DbSession, rt: Runtime, session: RecordingSession, voice: Voice,
                    speaker_id: str) -> None:
    embeddings = sessions.speaker_embeddings(db, session.id)
    vec, _ = embeddings[speaker_id]
    score = float(_unit(vec) @ _unit(sessions.decode_embedding(voice.embedding)))

    def change(t: Transcript) -> Transcript | None:
        if t.speaker(speaker_id) is None:
            return None
        return _apply_matches(t, {speaker_id: (voice, score)})

    sessions.relabel_speakers(db, rt, session, change)


def apply_voice(db: DbSession, rt: Runtime, user_id: str, voice_id: str) -> list[str]:
    """Label the owner's earlier sessions with this voice wherever one of their speakers
    matches it (a speaker already labelled with another voice keeps it). The ids of the
    sessions that got a new transcript version."""
    voice = get_voice(db, user_id, voice_id)
    ids = db.scalars(select(SessionSpeaker.session_id).distinct()
                     .join(RecordingSession, RecordingSession.id == SessionSpeaker.session_id)
                     .where(RecordingSession.user_id == user_id,
                            RecordingSession.transcript_version > 0))
    changed = []
    for sid in sorted(ids):
        session = sessions.get_session(db, user_id, sid, for_update=True)
        embeddings = sessions.speaker_embeddings(db, sid)

        def change(t: Transcript, emb: dict[str, tuple[np.ndarray, float]] = embeddings
                   ) -> Transcript | None:
            if any(sp.voice_id == voice.id for sp in t.speakers):
                return None
            taken = {sp.id for sp in t.speakers if sp.voice_id}
            found = _matches({k: v for k, v in emb.items() if t.speaker(k)}, [voice], taken)
            return _apply_matches(t, found) if found else None

        if sessions.relabel_speakers(db, rt, session, change) is not None:
            changed.append(sid)
    log.info("voice.applied", voice_id=voice.id, sessions=len(changed))
    return changed
