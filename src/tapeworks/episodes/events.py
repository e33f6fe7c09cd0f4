"""`episode.completed` and `episode.failed`, written in the transaction that finishes the
render (the queue calls `on_job_finished` from its save or fail)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session as DbSession

from tapeworks.episodes.models import Episode
from tapeworks.events import service as events


def episode_data(rt: Any, episode: Episode) -> dict[str, Any]:
    base = events.links(rt, "episode", episode.id)
    data: dict[str, Any] = {
        "id": episode.id, "session_id": episode.session_id, "title": episode.title,
        "status": episode.status, "duration_seconds": episode.duration_seconds,
        "version": episode.version or None,  # each completed version is one event
        "links": {**base, "audio": f"{base['api']}/audio",
                  "transcript": f"{base['api']}/transcript"},
    }
    if episode.status == "failed":
        data["error"] = {"stage": episode.error_stage, "message": episode.error}
    return data


def on_job_finished(db: DbSession, rt: Any, episode: Episode, job: Any) -> None:
    if episode.status not in ("completed", "failed"):
        return
    events.record_event(db, rt, episode.user_id, f"episode.{episode.status}",
                        episode_data(rt, episode))
