"""Voice profiles API: `/api/v1/voices` (enroll, list, rename, delete, add samples,
label earlier sessions, export)."""

from __future__ import annotations

from fastapi import APIRouter, status

from tapeworks.http.deps import DbDep, RuntimeDep
from tapeworks.users.deps import CurrentUser
from tapeworks.voices import service
from tapeworks.voices.models import Voice
from tapeworks.voices.schemas import (
    ApplyOut,
    SampleIn,
    SampleOut,
    VoiceIn,
    VoiceOut,
    VoicePatch,
    VoicesExport,
)

router = APIRouter(prefix="/voices", tags=["voices"])


def _out(db: DbDep, v: Voice) -> VoiceOut:
    return VoiceOut(id=v.id, name=v.name, role=v.role, is_me=v.is_me, sample_count=v.sample_count,
                    speech_seconds=v.speech_seconds, created_at=v.created_at, updated_at=v.updated_at,
                    samples=[SampleOut(session_id=s.session_id, speaker_id=s.speaker_id,
                                       speech_seconds=s.speech_seconds, created_at=s.created_at)
                             for s in service.samples_of(db, v.id)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=VoiceOut)
def create_voice(body: VoiceIn, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> VoiceOut:
    """Enroll a speaker of a transcribed session as a known voice (its embedding is kept,
    not the audio). Your new sessions' speakers with this voice get its name and role."""
    voice = service.create_voice(db, rt, principal.user_id, session_id=body.session_id,
                                 speaker_id=body.speaker_id, name=body.name, role=body.role,
                                 is_me=body.is_me)
    return _out(db, voice)


@router.get("", response_model=list[VoiceOut])
def list_voices(principal: CurrentUser, db: DbDep) -> list[VoiceOut]:
    return [_out(db, v) for v in service.list_voices(db, principal.user_id)]


@router.get("/export", response_model=VoicesExport)
def export_voices(principal: CurrentUser, db: DbDep) -> VoicesExport:
    """Everything kept about your voices, their embeddings included."""
    return VoicesExport(voices=service.export_voices(db, principal.user_id))


@router.get("/{voice_id}", response_model=VoiceOut)
def get_voice(voice_id: str, principal: CurrentUser, db: DbDep) -> VoiceOut:
    return _out(db, service.get_voice(db, principal.user_id, voice_id))


@router.patch("/{voice_id}", response_model=VoiceOut)
def patch_voice(voice_id: str, body: VoicePatch, principal: CurrentUser, db: DbDep) -> VoiceOut:
    """Rename a voice or change its role (`role: null` clears it); transcripts already
    labelled keep their names until the voice is applied again."""
    return _out(db, service.update_voice(db, principal.user_id, voice_id,
                                         body.model_dump(exclude_unset=True)))


@router.delete("/{voice_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_voice(voice_id: str, principal: CurrentUser, db: DbDep) -> None:
    """Delete the voice and every embedding kept for it."""
    service.delete_voice(db, principal.user_id, voice_id)


@router.post("/{voice_id}/samples", response_model=VoiceOut)
def add_sample(voice_id: str, body: SampleIn, principal: CurrentUser, db: DbDep,
               rt: RuntimeDep) -> VoiceOut:
    """Add another recording's speaker to the voice (it recognises the voice better)."""
    return _out(db, service.add_sample(db, rt, principal.user_id, voice_id,
                                       session_id=body.session_id, speaker_id=body.speaker_id))


@router.post("/{voice_id}/apply", response_model=ApplyOut)
def apply_voice(voice_id: str, principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> ApplyOut:
    """Label your earlier sessions' speakers that match this voice (new transcript versions)."""
    return ApplyOut(voice_id=voice_id, sessions=service.apply_voice(db, rt, principal.user_id,
                                                                    voice_id))
