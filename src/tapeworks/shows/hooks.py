"""What other parts do when an episode is published or unpublished (the `episode.published`
event of webhooks and notifications).

Shows does not know who listens: the composition root (`background.publication_hooks`)
hands the publishing service these hooks through `Runtime.publication_hooks`. Each runs
inside the transaction that publishes, so what it writes (an outbox row, rule 13) commits
or rolls back with the publication: no event for a publish that rolled back, none lost for
one that committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session as DbSession

EPISODE_PUBLISHED = "episode.published"
EPISODE_UNPUBLISHED = "episode.unpublished"


@dataclass(frozen=True)
class PublicationEvent:
    """One change of an item's state: `kind` is `episode.published` (the item entered its
    feed, now or at `publish_at`) or `episode.unpublished`. Editing a published item's
    metadata is no event."""

    kind: str
    user_id: str
    episode_id: str
    show_id: str
    guid: str
    title: str
    published_at: datetime | None  # the item's pubDate
    publish_at: datetime | None  # set when scheduled

    def payload(self) -> dict[str, Any]:
        out = asdict(self)
        for k in ("published_at", "publish_at"):
            out[k] = out[k].isoformat() if out[k] else None
        return out


@dataclass(frozen=True)
class PublicationHooks:
    changed: tuple[Callable[[DbSession, PublicationEvent], None], ...] = ()

    def emit(self, db: DbSession, event: PublicationEvent) -> None:
        for hook in self.changed:
            hook(db, event)


NO_PUBLICATION_HOOKS = PublicationHooks()
