"""The composition root for background work: every job handler, job owner, admission
check and periodic job, in one list (the queue itself knows no domain, rule 15).

`serve`, `tapeworks worker` and the CLI build their `Runtime` with `registry()`, so every
process runs the same kinds. A new job kind is a handler class in its own domain's
`tasks.py` plus one line here; a new periodic job is one `PeriodicJob` line.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession

from tapeworks.episodes import events as episode_events
from tapeworks.episodes import service as episodes_service
from tapeworks.episodes.models import Asset, Episode
from tapeworks.episodes.tasks import RenderEpisodeHandler, SpeakAssetHandler
from tapeworks.events import service as events
from tapeworks.events.service import EventSinks
from tapeworks.notifications import service as notifications
from tapeworks.notifications.tasks import SendMailHandler
from tapeworks.plans.enforcement import may_start_job, queue_priorities
from tapeworks.queue.registry import OwnerKind, PeriodicJob, Registry
from tapeworks.retention.service import purge
from tapeworks.search import service as search
from tapeworks.sessions import events as session_events
from tapeworks.sessions.hooks import SessionHooks
from tapeworks.sessions.models import RecordingSession
from tapeworks.sessions.tasks import TranscribeHandler
from tapeworks.shows import publishing
from tapeworks.shows.hooks import EPISODE_PUBLISHED, PublicationEvent, PublicationHooks
from tapeworks.voices import service as voices
from tapeworks.webhooks import service as webhooks
from tapeworks.webhooks.tasks import DeliverWebhookHandler


def session_hooks(rt: Any = None) -> SessionHooks:
    """What follows a change to a session's content: the search index; known voices
    recognised in a new transcription; with the runtime, the `podcast:person` of the
    session's published episodes (a speaker renamed shows in the feed at once)."""
    saved: tuple[Any, ...] = (search.index_transcript,)
    if rt is not None:
        def persons(db: DbSession, session: RecordingSession, t: Any) -> None:
            publishing.speakers_changed(db, rt.store, session, t, now=rt.clock())

        saved = (*saved, persons)
    return SessionHooks(
        speakers_found=(voices.recognise,),
        transcript_saved=saved,
        title_changed=(search.index_title,),
        note_saved=(search.index_note,),
        note_deleted=(search.unindex_note,),
    )


def event_sinks() -> EventSinks:
    """Who hears of an event (`events.record_event`), in the transaction that records it:
    a webhook delivery per endpoint that wants it, a mail when the user chose it."""
    return EventSinks(sinks=(webhooks.fan_out, notifications.fan_out))


def publication_hooks(rt: Any = None) -> PublicationHooks:
    """What follows an episode entering or leaving its feed: `episode.published` goes to
    the outbox, in the publishing transaction."""
    if rt is None:
        return PublicationHooks()

    def record(db: DbSession, ev: PublicationEvent) -> None:
        if ev.kind == EPISODE_PUBLISHED:
            events.record_event(db, rt, ev.user_id, ev.kind,
                                {**ev.payload(), "id": ev.episode_id,
                                 "links": events.links(rt, "episode", ev.episode_id)})

    return PublicationHooks(changed=(record,))


def episode_finished(db: DbSession, rt: Any, episode: Episode, job: Any) -> None:
    """A render completed or failed: its event, and a published item's feed follows the
    new version."""
    episode_events.on_job_finished(db, rt, episode, job)
    publishing.episode_rendered(db, rt.store, episode, now=rt.clock())


def registry() -> Registry:
    r = Registry(admission=may_start_job, priority=queue_priorities)
    # job kinds
    r.add_handler(TranscribeHandler(session_hooks()))
    r.add_handler(RenderEpisodeHandler())
    r.add_handler(SpeakAssetHandler())
    r.add_handler(DeliverWebhookHandler())
    r.add_handler(SendMailHandler())
    # what jobs run for (their status is mirrored onto these rows)
    r.add_owner(OwnerKind("session", RecordingSession,
                          children=episodes_service.episode_owners_of_session,
                          on_finished=session_events.on_job_finished))
    r.add_owner(OwnerKind("episode", Episode, on_finished=episode_finished))
    r.add_owner(OwnerKind("asset", Asset))
    # periodic jobs (the reconciler always runs next to them)
    r.periodic.append(PeriodicJob("retention.purge", lambda s: s.purge_interval_seconds,
                                  lambda rt: purge(rt)))
    # scheduled items announced (episode.published) once their publish_at has passed
    r.periodic.append(PeriodicJob("publishing.announce",
                                  lambda s: s.publish_check_interval_seconds,
                                  publishing.run_announcements))
    return r
