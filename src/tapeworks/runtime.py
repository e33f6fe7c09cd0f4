"""One `Runtime` per process: settings plus the database, the store and the queue.

Built explicitly from `Settings` (by `create_app`, `tapeworks worker`, the CLI), never at
import time. Tasks running in a worker reach it through `current_runtime()`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from tapeworks.config import Settings
from tapeworks.db.uow import Database

if TYPE_CHECKING:
    from tapeworks.plans.catalogue import Catalogue
    from tapeworks.queue.core import Queue
    from tapeworks.storage.base import Store

_current: Runtime | None = None


class Runtime:
    def __init__(self, settings: Settings) -> None:
        import tapeworks.db.models  # noqa: F401  (every mapper, whichever entry point started us)

        self.settings = settings
        settings.ensure_dirs()
        from tapeworks.plans.catalogue import load_catalogue

        # validated at start-up: a bad plan override stops the process with its reason
        self.plans: Catalogue = load_catalogue(settings)
        self.database = Database(settings.effective_database_url)
        from tapeworks.plans.catalogue import register_engine

        register_engine(self.database.engine, self.plans)  # checks given only a `db` find it
        self.extras: dict[str, Any] = {}

    @cached_property
    def store(self) -> Store:
        from tapeworks.storage import open_store

        return open_store(self.settings.storage_url, self.settings.data_dir)

    @cached_property
    def queue(self) -> Queue:
        from tapeworks.queue.core import Queue

        return Queue(self)

    def close(self) -> None:
        if "queue" in self.__dict__:
            self.queue.close()
        self.database.dispose()


def set_current_runtime(rt: Runtime | None) -> None:
    global _current
    _current = rt


def current_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError("no tapeworks runtime is active in this process")
    return _current
