"""One `Runtime` per process: settings, the database, the store, the queue, the plan
catalogue, the usage meters and the job registry.

Built explicitly from `Settings` (by `create_app`, `tapeworks worker`, the CLI), never at
import time, and passed to whatever needs it: there is no process-global runtime. It is a
composition root: it knows every domain; no domain imports it at run time (they name it
for type checking only).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property

from tapeworks import background
from tapeworks import models as _models  # noqa: F401  (every mapper, whichever entry point started us)
from tapeworks.config import Settings
from tapeworks.db.base import utcnow
from tapeworks.db.uow import Database
from tapeworks.episodes import service as episodes
from tapeworks.events.service import EventSinks
from tapeworks.narrators import Narrators, build_narrators
from tapeworks.plans.catalogue import Catalogue, load_catalogue
from tapeworks.plans.enforcement import UsageMeters
from tapeworks.queue.huey_adapter import Queue
from tapeworks.queue.registry import Registry
from tapeworks.sessions import service as sessions
from tapeworks.sessions.hooks import SessionHooks
from tapeworks.shows.hooks import PublicationHooks
from tapeworks.storage import ENDPOINT_ENV, REGION_ENV, open_store
from tapeworks.storage.base import Store


def usage_meters() -> UsageMeters:
    """What counts against a user's plan, measured by the domains that hold it."""
    return UsageMeters(pending_seconds=(sessions.pending_seconds,),
                       storage_bytes=(sessions.storage_bytes, episodes.asset_storage_bytes,
                                      episodes.episode_storage_bytes))


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.ensure_dirs()
        # validated at start-up: a bad plan override stops the process with its reason
        self.plans: Catalogue = load_catalogue(settings)
        self.meters = usage_meters()
        self.registry: Registry = background.registry()
        self.session_hooks: SessionHooks = background.session_hooks(self)
        # what follows a publish/unpublish (the episode.published event), in its transaction
        # who hears of an event (webhook deliveries, mail), in the recording transaction
        self.event_sinks: EventSinks = background.event_sinks()
        self.publication_hooks: PublicationHooks = background.publication_hooks(self)
        self.database = Database(settings.effective_database_url)
        # "now" for rules that count time windows (sign-in throttling); tests replace it
        self.clock: Callable[[], datetime] = utcnow

    @cached_property
    def store(self) -> Store:
        s = self.settings
        env = {k: v for k, v in ((ENDPOINT_ENV, s.s3_endpoint_url), (REGION_ENV, s.s3_region)) if v}
        return open_store(s.storage_url, s.data_dir, env=env)

    @cached_property
    def narrators(self) -> Narrators:
        """The text-to-speech engines of this deployment (generated assets)."""
        s = self.settings
        return build_narrators(cloud_url=s.narrator_cloud_url or None,
                               cloud_api_key=s.narrator_cloud_api_key or None,
                               piper_voice_dir=s.narrator_voice_dir)

    @cached_property
    def queue(self) -> Queue:
        return Queue(self)

    def close(self) -> None:
        if "queue" in self.__dict__:
            self.queue.close()
        self.database.dispose()
