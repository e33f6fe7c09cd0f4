"""Key helpers and key validation."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tapeworks.storage import keys as K
from tapeworks.storage.keys import InvalidKey, validate_key, validate_prefix


def test_layout() -> None:
    assert K.session_prefix(1, 2) == "users/1/sessions/2/"
    assert K.session_source(1, 2, "flac") == "users/1/sessions/2/source.flac"
    assert K.session_transcript(1, 2) == "users/1/sessions/2/transcript.json"
    assert K.session_transcript(1, 2, version=3) == "users/1/sessions/2/transcript.v3.json"
    assert K.episode_prefix(1, 2, "e9") == "users/1/sessions/2/episodes/e9/"
    assert K.episode_audio(1, 2, "e9", "mp3") == "users/1/sessions/2/episodes/e9/audio.mp3"
    assert K.episode_transcript(1, 2, "e9") == "users/1/sessions/2/episodes/e9/transcript.json"
    assert K.episode_edit_list(1, 2, "e9") == "users/1/sessions/2/episodes/e9/editlist.json"
    # everything made from a session is under its prefix (deleted with it)
    assert K.episode_audio(1, 2, "e9", "mp3").startswith(K.session_prefix(1, 2))
    assert K.asset_key(5, "a1b2", "wav") == "users/5/assets/a1b2.wav"
    assert K.user_prefix(5) == "users/5/"
    uid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert K.session_source(uid, uid, "m4a") == f"users/{uid}/sessions/{uid}/source.m4a"


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "a/b", "../x", "a..b", "a\\b", "a\x00", True, None, 1.5]
)
def test_ids_are_validated(bad: object) -> None:
    with pytest.raises(InvalidKey):
        K.session_prefix(bad, 1)  # type: ignore[arg-type]
    with pytest.raises(InvalidKey):
        K.episode_audio(1, 2, bad, "mp3")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", ".mp3", "MP3", "mpeg4a", "mp 3", "mp3/", "../x", "é"])
def test_extensions_are_validated(bad: str) -> None:
    with pytest.raises(InvalidKey, match="extension"):
        K.session_source(1, 2, bad)


@pytest.mark.parametrize("bad", [-1, True, "1", 1.0])
def test_versions_are_validated(bad: object) -> None:
    with pytest.raises(InvalidKey):
        K.session_transcript(1, 2, bad)  # type: ignore[arg-type]


def test_invalid_key_is_a_bad_request_and_a_value_error() -> None:
    with pytest.raises(ValueError):
        validate_key("../x")
    try:
        validate_key("/x")
    except InvalidKey as exc:
        assert exc.status_code == 400


def test_prefixes() -> None:
    assert validate_prefix("") == ""
    assert validate_prefix("users/1/") == "users/1/"
    assert validate_prefix("users/1/sess") == "users/1/sess"
    for bad in ["/", "/users/", "users//", "../", "users/../"]:
        with pytest.raises(InvalidKey):
            validate_prefix(bad)
    with pytest.raises(InvalidKey):
        validate_prefix("", allow_empty=False)


def test_key_length_limit() -> None:
    validate_key("a" * 1024)
    with pytest.raises(InvalidKey, match="longer"):
        validate_key("a" * 1025)
    with pytest.raises(InvalidKey):
        validate_key("é" * 513)  # 1026 UTF-8 bytes


@given(st.text(max_size=60))
def test_any_accepted_key_stays_inside_the_store(key: str) -> None:
    try:
        validate_key(key)
    except InvalidKey:
        return
    # Accepted keys are relative, normalised and cannot climb out of the root.
    assert not key.startswith("/")
    assert posixpath.normpath(key) == key
    assert ".." not in key.split("/")
    assert "\\" not in key and "\x00" not in key
    assert posixpath.normpath(posixpath.join("/store", key)).startswith("/store/")


@given(
    st.one_of(st.integers(min_value=0), st.uuids().map(str)),
    st.one_of(st.integers(min_value=0), st.uuids().map(str)),
    st.sampled_from(["wav", "mp3", "flac", "m4a", "ogg", "opus", "webm"]),
)
def test_helpers_always_build_valid_keys(user: int | str, session: int | str, ext: str) -> None:
    for key in (
        K.session_source(user, session, ext),
        K.session_transcript(user, session),
        K.session_transcript(user, session, 7),
        K.episode_audio(user, session, session, ext),
        K.asset_key(user, session, ext),
    ):
        assert validate_key(key) == key
        assert key.startswith(f"users/{user}/")
