"""Undo, redo and going back to a version of a session's transcript (issue 11).

Every change to a transcript is a new stored version (`transcript.v{N}.json`); nothing is
ever rewritten. Undo and redo are new versions too, *equal* to an earlier one:

* an edit made on version V gives V+1, whose undo leads back to V and which has no redo;
* undo on version V (leading to U) writes U's content as a new version whose undo leads
  where U's did and whose redo leads back to V;
* redo on version V (leading to R) writes R's content as a new version whose undo leads
  back to V and whose redo leads where R's did;
* going back to version X from the list is an edit (undo returns to where you were).

So redo stays possible until the next edit, and the version list shows every step. How
each version came to be is kept in one small document per session
(`transcript.history.json`, counted in the user's storage with the versions); a version
missing from it (written by transcription, or before this existed) is an edit of the
version before it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from tapeworks.storage import keys

Kind = str  # "transcribed" | "edit" | "undo" | "redo" | "restore"


@dataclass(frozen=True)
class Entry:
    kind: Kind
    undo_to: int | None  # the version whose content undo brings back
    redo_to: int | None  # the version whose content redo brings back
    summary: str = ""
    restored_from: int | None = None  # the version whose content this one repeats
    created_at: str | None = None

    @classmethod
    def edit(cls, previous: int, summary: str = "edited") -> Entry:
        return cls("edit", previous or None, None, summary)

    @classmethod
    def default(cls, version: int) -> Entry:
        if version <= 1:
            return cls("transcribed", None, None, "transcribed")
        return cls("edit", version - 1, None, "edited")


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def load(store: Any, user_id: str, session_id: str) -> dict[int, Entry]:
    key = keys.session_transcript_history(user_id, session_id)
    if not store.exists(key):
        return {}
    raw = json.loads(store.get_bytes(key))
    return {int(v): Entry(**e) for v, e in raw.get("versions", {}).items()}


def _size(store: Any, key: str) -> int:
    head = store.head(key)
    return head.size if head is not None else 0


def record(store: Any, user_id: str, session_id: str, version: int, entry: Entry) -> int:
    """Keep `entry` for `version`; returns the bytes the history document grew by."""
    key = keys.session_transcript_history(user_id, session_id)
    before = _size(store, key)
    entries = load(store, user_id, session_id)
    stamped = entry if entry.created_at else Entry(**{**asdict(entry), "created_at": _now()})
    entries[version] = stamped
    body = json.dumps({"versions": {str(v): asdict(e) for v, e in sorted(entries.items())}},
                      separators=(",", ":")).encode()
    store.put_bytes(key, body, content_type="application/json")
    return len(body) - before


def entry_of(entries: dict[int, Entry], version: int) -> Entry:
    return entries.get(version) or Entry.default(version)


def undo_entry(entries: dict[int, Entry], current: int) -> tuple[int, Entry] | None:
    """(the version to copy, the new version's entry) for an undo on `current`, or None
    when there is nothing to undo."""
    target = entry_of(entries, current).undo_to
    if target is None:
        return None
    after = entry_of(entries, target)
    return target, Entry("undo", after.undo_to, current, f"undo: as version {target}",
                         restored_from=target)


def redo_entry(entries: dict[int, Entry], current: int) -> tuple[int, Entry] | None:
    target = entry_of(entries, current).redo_to
    if target is None:
        return None
    after = entry_of(entries, target)
    return target, Entry("redo", current, after.redo_to, f"redo: as version {target}",
                         restored_from=target)


def restore_entry(current: int, target: int) -> Entry:
    return Entry("restore", current, None, f"back to version {target}", restored_from=target)
