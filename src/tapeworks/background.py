"""The composition root for background work: every job handler, job owner, admission
check and periodic job, in one list (the queue itself knows no domain, rule 15).

`serve`, `tapeworks worker` and the CLI build their `Runtime` with `registry()`, so every
process runs the same kinds. A new job kind is a handler class in its own domain's
`tasks.py` plus one line here; a new periodic job is one `PeriodicJob` line.
"""

from __future__ import annotations

from tapeworks.episodes import service as episodes_service
from tapeworks.episodes.models import Asset, Episode
from tapeworks.episodes.tasks import RenderEpisodeHandler, SpeakAssetHandler
from tapeworks.plans.enforcement import may_start_job, queue_priorities
from tapeworks.queue.registry import OwnerKind, PeriodicJob, Registry
from tapeworks.retention.service import purge
from tapeworks.search import service as search
from tapeworks.sessions.hooks import SessionHooks
from tapeworks.sessions.models import RecordingSession
from tapeworks.sessions.tasks import TranscribeHandler
from tapeworks.shows.hooks import PublicationHooks
from tapeworks.voices import service as voices


def session_hooks() -> SessionHooks:
    """What follows a change to a session's content: the search index; known voices
    recognised in a new transcription."""
    return SessionHooks(
        speakers_found=(voices.recognise,),
        transcript_saved=(search.index_transcript,),
        title_changed=(search.index_title,),
        note_saved=(search.index_note,),
        note_deleted=(search.unindex_note,),
    )


def publication_hooks() -> PublicationHooks:
    """What follows an episode entering or leaving its feed (`episode.published`,
    `episode.unpublished`): the webhooks/notifications outbox writes its row here, in the
    publishing transaction. None yet."""
    return PublicationHooks()


def registry() -> Registry:
    r = Registry(admission=may_start_job, priority=queue_priorities)
    # job kinds
    r.add_handler(TranscribeHandler(session_hooks()))
    r.add_handler(RenderEpisodeHandler())
    r.add_handler(SpeakAssetHandler())
    # what jobs run for (their status is mirrored onto these rows)
    r.add_owner(OwnerKind("session", RecordingSession,
                          children=episodes_service.episode_owners_of_session))
    r.add_owner(OwnerKind("episode", Episode))
    r.add_owner(OwnerKind("asset", Asset))
    # periodic jobs (the reconciler always runs next to them)
    r.periodic.append(PeriodicJob("retention.purge", lambda s: s.purge_interval_seconds,
                                  lambda rt: purge(rt)))
    return r
