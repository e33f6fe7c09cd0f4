"""Deterministic object keys, and the rules every key must satisfy.

Every artifact lives under a key built here (DESIGN.md rule 4), so that any process on
any machine finds it again from the ids alone::

    users/{user_id}/sessions/{session_id}/source.{ext}
    users/{user_id}/sessions/{session_id}/transcript.json          (current)
    users/{user_id}/sessions/{session_id}/transcript.v{N}.json     (version N)
    users/{user_id}/sessions/{session_id}/waveform.json            (peaks of the source)
    users/{user_id}/sessions/{session_id}/tracks/{track_id}.{ext}  (a multitrack session's tracks)
    users/{user_id}/sessions/{session_id}/mixdowns/{job}-{attempt}.{ext}  (their mix: the player's audio)
    users/{user_id}/sessions/{session_id}/episodes/{episode_id}/audio.{ext}
    users/{user_id}/sessions/{session_id}/episodes/{episode_id}/transcript.json  (re-timed)
    users/{user_id}/sessions/{session_id}/episodes/{episode_id}/editlist.json
    users/{user_id}/assets/{asset_id}.{ext}

Everything made from a session lives under its prefix, so deleting the prefix deletes it all.

User-supplied file names never become part of a key: the extension comes from
`tapeworks.audio.probe.sniff_extension` (the real container), ids from the database.
"""

from __future__ import annotations

import re

from tapeworks.errors import BadRequest

MAX_KEY_BYTES = 1024  # S3's limit on a key, in UTF-8 bytes
_EXT_RE = re.compile(r"^[a-z0-9]{1,5}$")
#  Prefix of the temp files LocalStore writes next to their destination. Keys may not use it.
TEMP_MARKER = ".tw-tmp-"


class InvalidKey(BadRequest, ValueError):
    """A key, prefix, id or extension that could escape its place or is malformed.

    Keys are built by this module from database ids, so this is normally a programming
    error; it is also a `ValueError` for callers that treat it as one.
    """


def _check_text(value: str, what: str) -> None:
    if not isinstance(value, str):
        raise InvalidKey(f"{what} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidKey(f"{what} {value!r} contains a NUL byte")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise InvalidKey(f"{what} {value!r} contains a control character")
    if "\\" in value:
        raise InvalidKey(f"{what} {value!r} contains a backslash")


def validate_key(key: str) -> str:
    """Return `key` unchanged if it is a safe, relative, normalised object key.

    Rules: non-empty; at most 1024 UTF-8 bytes; no leading or trailing ``/``; no empty,
    ``.`` or ``..`` segments; no backslash, NUL or control characters; no segment starting
    with the temp-file marker. Any other Unicode is fine.
    """
    _check_text(key, "key")
    if not key:
        raise InvalidKey("key must not be empty")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidKey(f"key is longer than {MAX_KEY_BYTES} bytes: {key[:80]!r}...")
    if key.startswith("/"):
        raise InvalidKey(f"key {key!r} is absolute; keys are relative to the store")
    if key.endswith("/"):
        raise InvalidKey(f"key {key!r} ends with '/'; that is a prefix, not a key")
    if len(key) >= 2 and key[1] == ":" and key[0].isalpha():
        raise InvalidKey(f"key {key!r} looks like a drive path")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"key {key!r} has an empty, '.' or '..' segment")
        if segment.startswith(TEMP_MARKER):
            raise InvalidKey(f"key {key!r} uses the reserved temp-file marker {TEMP_MARKER!r}")
    return key


def validate_prefix(prefix: str, *, allow_empty: bool = True) -> str:
    """Validate a listing prefix: like a key, but may be empty and may end with ``/``."""
    _check_text(prefix, "prefix")
    if not prefix:
        if not allow_empty:
            raise InvalidKey("prefix must not be empty")
        return prefix
    body = prefix[:-1] if prefix.endswith("/") else prefix
    if not body:
        raise InvalidKey("prefix '/' is not allowed; use '' for everything")
    validate_key(body)
    return prefix


def validate_id(value: object, what: str = "id") -> str:
    """Ids (ints or strings such as UUIDs) become one key segment: no '/', no '..'."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidKey(f"{what} must be an int or a string, got {type(value).__name__}")
    text = str(value)
    _check_text(text, what)
    if not text or text in (".", "..") or "/" in text or ".." in text:
        raise InvalidKey(f"{what} {text!r} is not a valid id (no '/', no '..', not empty)")
    if text.startswith(TEMP_MARKER):
        raise InvalidKey(f"{what} {text!r} uses the reserved temp-file marker")
    return text


def validate_ext(ext: str) -> str:
    """An extension without the dot: 1-5 lowercase ASCII letters or digits."""
    if not isinstance(ext, str) or not _EXT_RE.match(ext):
        raise InvalidKey(f"extension {ext!r} must be 1-5 lowercase letters or digits, no dot")
    return ext


def session_prefix(user_id: int | str, session_id: int | str) -> str:
    return (
        f"users/{validate_id(user_id, 'user id')}/sessions/{validate_id(session_id, 'session id')}/"
    )


def session_source(user_id: int | str, session_id: int | str, ext: str) -> str:
    return f"{session_prefix(user_id, session_id)}source.{validate_ext(ext)}"


def _versioned(prefix: str, stem: str, version: int | None) -> str:
    if version is None:
        return f"{prefix}{stem}.json"
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise InvalidKey(f"version must be a non-negative int, got {version!r}")
    return f"{prefix}{stem}.v{version}.json"


def session_transcript(
    user_id: int | str, session_id: int | str, version: int | None = None
) -> str:
    """``transcript.json`` is the current transcript; ``transcript.v{N}.json`` keeps version N."""
    return _versioned(session_prefix(user_id, session_id), "transcript", version)


def session_transcript_history(user_id: int | str, session_id: int | str) -> str:
    """How each transcript version came to be (edit, undo, redo, restore) and where undo
    and redo lead from it (sessions/history.py)."""
    return f"{session_prefix(user_id, session_id)}transcript.history.json"


def session_waveform(user_id: int | str, session_id: int | str) -> str:
    """Peaks of the source audio for the cut editor (derived from the source, which never
    changes, so it is computed once)."""
    return f"{session_prefix(user_id, session_id)}waveform.json"


def session_tracks_prefix(user_id: int | str, session_id: int | str) -> str:
    """Where a multitrack session's tracks are (deleted with its source by retention)."""
    return f"{session_prefix(user_id, session_id)}tracks/"


def session_track(user_id: int | str, session_id: int | str, track_id: int | str, ext: str) -> str:
    """One track of a multitrack session, by the track's id (never its position, so two
    tracks added at once can never share a key)."""
    return (f"{session_tracks_prefix(user_id, session_id)}{validate_id(track_id, 'track id')}"
            f".{validate_ext(ext)}")


def session_mixdown(user_id: int | str, session_id: int | str, ext: str,
                    render: str | None = None) -> str:
    """The mix of a multitrack session's tracks: the audio its player plays. `render` is
    the job attempt that made it (``<job id>-<attempt>``): each attempt writes its own
    file and the session row names the one whose save passed the lease check, so a stale
    worker never writes over the mix a newer attempt saved."""
    prefix = session_prefix(user_id, session_id)
    if render is None:
        return f"{prefix}mixdown.{validate_ext(ext)}"
    return f"{prefix}mixdowns/{validate_id(render, 'render id')}.{validate_ext(ext)}"


def episode_prefix(user_id: int | str, session_id: int | str, episode_id: int | str) -> str:
    return f"{session_prefix(user_id, session_id)}episodes/{validate_id(episode_id, 'episode id')}/"


def episode_render_prefix(user_id: int | str, session_id: int | str, episode_id: int | str,
                          render: str | None = None, version: int | None = None) -> str:
    """Where one render of an episode is stored: under its version (``v{n}/``, issue 11),
    then `render`, the job attempt that made it (``<job id>-<attempt>``), so a stale worker
    whose lease expired writes beside the newer attempt's files, never over them; the
    episode row names the files it serves."""
    base = episode_prefix(user_id, session_id, episode_id)
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidKey(f"version must be a positive int, got {version!r}")
        base = f"{base}v{version}/"
    return base if render is None else f"{base}renders/{validate_id(render, 'render id')}/"


def episode_audio(user_id: int | str, session_id: int | str, episode_id: int | str,
                  ext: str, render: str | None = None, version: int | None = None) -> str:
    prefix = episode_render_prefix(user_id, session_id, episode_id, render, version)
    return f"{prefix}audio.{validate_ext(ext)}"


def episode_transcript(user_id: int | str, session_id: int | str, episode_id: int | str,
                       render: str | None = None, version: int | None = None) -> str:
    """The re-timed transcript, stored next to the episode audio it describes (rule 12)."""
    return f"{episode_render_prefix(user_id, session_id, episode_id, render, version)}transcript.json"


def episode_edit_list(user_id: int | str, session_id: int | str, episode_id: int | str,
                      render: str | None = None, version: int | None = None) -> str:
    """The edit list that produced the audio and the re-timed transcript beside it."""
    return f"{episode_render_prefix(user_id, session_id, episode_id, render, version)}editlist.json"


def asset_prefix(user_id: int | str) -> str:
    return f"users/{validate_id(user_id, 'user id')}/assets/"


def asset_key(user_id: int | str, asset_id: int | str, ext: str) -> str:
    return f"{asset_prefix(user_id)}{validate_id(asset_id, 'asset id')}.{validate_ext(ext)}"


def user_prefix(user_id: int | str) -> str:
    """Everything a user owns (for account deletion)."""
    return f"users/{validate_id(user_id, 'user id')}/"
