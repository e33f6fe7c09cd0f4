"""Settings of the production pipeline (plain dataclasses, JSON-friendly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tapeworks.errors import ValidationFailed
from tapeworks.production.bleep import BLEEP_MODES, BleepMode
from tapeworks.production.markers import DEFAULT_EDIT_MARKER, DEFAULT_PAUSE_SECONDS

DEFAULT_FILLER_WORDS: tuple[str, ...] = (
    "um", "umm", "uhm", "uh", "uhh", "erm", "er", "err", "ah", "ahh", "eh",
    "hmm", "hm", "mm", "mmm", "mhm",
)
DEFAULT_MULTIWORD_FILLERS: tuple[str, ...] = ("you know", "i mean", "sort of", "kind of")

MAX_MARKER_CHARS = 40
MAX_BLEEP_WORDS = 500
MAX_BLEEP_WORD_CHARS = 100

OutputFormat = Literal["mp3", "m4a", "wav"]
OUTPUT_FORMATS: tuple[str, ...] = ("mp3", "m4a", "wav")


@dataclass(frozen=True)
class UserCut:
    """A cut the user asked for: a source time range, or an inclusive word index range
    (indices into `Transcript.words()`)."""

    start: float | None = None
    end: float | None = None
    first_word: int | None = None
    last_word: int | None = None
    reason: str = "user cut"

    def __post_init__(self) -> None:
        by_time = self.start is not None and self.end is not None
        by_words = self.first_word is not None and self.last_word is not None
        if by_time == by_words:
            raise ValidationFailed("a user cut needs either start/end or first_word/last_word")
        if by_time and not (self.end or 0.0) > (self.start or 0.0):
            raise ValidationFailed("a user cut must end after it starts")
        if by_words and (self.last_word or 0) < (self.first_word or 0):
            raise ValidationFailed("a user cut's last word must not precede its first word")


@dataclass
class CleaningSettings:
    remove_fillers: bool = True
    filler_words: tuple[str, ...] = DEFAULT_FILLER_WORDS
    multiword_fillers: bool = False
    multiword_filler_phrases: tuple[str, ...] = DEFAULT_MULTIWORD_FILLERS
    shorten_pauses: bool = True
    max_pause_seconds: float = 1.5
    target_pause_seconds: float = 0.5
    # Kept audio left between a cut and the nearest kept word, so no word is clipped.
    margin_seconds: float = 0.03
    # How far a filler cut may reach past the filler's word timing into the silence
    # around it (word timings of fillers are loose); never closer than the margin.
    filler_pad_seconds: float = 0.05
    user_cuts: list[UserCut] = field(default_factory=list)
    # Spoken edit markers (production/markers.py): where the marker word is said, it and
    # the phrase before it (back to a pause of `edit_marker_pause_seconds` or the sentence
    # start) are cut. None (or "") turns it off.
    edit_marker: str | None = DEFAULT_EDIT_MARKER
    edit_marker_pause_seconds: float = DEFAULT_PAUSE_SECONDS
    # Bleeps (production/bleep.py): matched words keep their time, their audio becomes a
    # 1 kHz tone at -20 dBFS ("beep") or silence ("mute"); they read [bleep] in the
    # episode's transcript. `bleep_default_list` adds a built-in English list.
    bleep_words: tuple[str, ...] = ()
    bleep_default_list: bool = False
    bleep_mode: BleepMode = "beep"
    # Word indices never removed as fillers or by a marker (a multitrack render mutes them
    # on their own track instead, when another track speaks over them).
    protected_words: tuple[int, ...] = ()
    # Ids of automatic cuts the user restored (`filler-12`, `pause-5230`, `marker-40`, as
    # listed in the edit list): the audio they would remove is kept.
    restored_cuts: tuple[str, ...] = ()

    @property
    def marker(self) -> str | None:
        """The marker to look for, or None when markers are off."""
        return self.edit_marker.strip() if self.edit_marker and self.edit_marker.strip() else None

    @property
    def bleeps_enabled(self) -> bool:
        return bool(self.bleep_words) or self.bleep_default_list

    def validate(self) -> None:
        if self.target_pause_seconds < 0 or self.max_pause_seconds < self.target_pause_seconds:
            raise ValidationFailed("need 0 <= target_pause_seconds <= max_pause_seconds")
        if self.margin_seconds < 0 or self.filler_pad_seconds < 0:
            raise ValidationFailed("margins must not be negative")
        validate_marker(self.edit_marker, self.edit_marker_pause_seconds)
        validate_bleeps(self.bleep_words, self.bleep_mode)


def validate_marker(marker: str | None, pause_seconds: float) -> None:
    """The edit marker: a word or two of letters (None or "" turns markers off)."""
    if marker is not None and not isinstance(marker, str):
        raise ValidationFailed("edit_marker must be a word such as \"flubber\", or null to turn it off")
    if marker and marker.strip():
        text = marker.strip()
        if len(text) > MAX_MARKER_CHARS:
            raise ValidationFailed(f"edit_marker is {len(text)} characters long; the limit is "
                                   f"{MAX_MARKER_CHARS}")
        if not any(ch.isalpha() for ch in text) or len(text.split()) > 3:
            raise ValidationFailed("edit_marker must be a spoken word (letters, at most three words), "
                                   "such as \"flubber\"")
    if not 0.05 <= pause_seconds <= 5.0:
        raise ValidationFailed("edit_marker_pause_seconds must be between 0.05 and 5 seconds")


def validate_bleeps(words: tuple[str, ...] | list[str], mode: str) -> None:
    if mode not in BLEEP_MODES:
        raise ValidationFailed(f"bleep_mode must be one of {', '.join(BLEEP_MODES)}")
    if len(words) > MAX_BLEEP_WORDS:
        raise ValidationFailed(f"bleep_words has {len(words)} entries; the limit is {MAX_BLEEP_WORDS}")
    for w in words:
        if not isinstance(w, str) or len(w) > MAX_BLEEP_WORD_CHARS:
            raise ValidationFailed(f"each of bleep_words must be text of at most "
                                   f"{MAX_BLEEP_WORD_CHARS} characters")


@dataclass
class LoudnessSettings:
    enabled: bool = True
    target_lufs: float | None = None  # None: -16 LUFS stereo, -19 LUFS mono
    true_peak_dbtp: float = -1.0

    def target_for(self, channels: int) -> float:
        if self.target_lufs is not None:
            return self.target_lufs
        return -16.0 if channels >= 2 else -19.0


@dataclass
class Template:
    intro: Path | None = None
    outro: Path | None = None
    music: Path | None = None
    music_gain_db: float = -18.0  # music bed loudness relative to the programme target
    duck_depth_db: float = 12.0
    duck_attack_seconds: float = 0.05
    duck_release_seconds: float = 0.4
    music_fade_in_seconds: float = 2.0
    music_fade_out_seconds: float = 3.0
    overlap_seconds: float = 0.0  # intro/main and main/outro overlap, crossfaded


@dataclass
class RenderSettings:
    format: OutputFormat = "mp3"
    bitrate: int = 128000
    sample_rate: int = 44100
    channels: int | None = None  # None: keep the source's (1 or 2)
    title: str | None = None
    show: str | None = None
    artist: str | None = None
    chapters: list[tuple[float, str]] | None = None  # (episode-time start seconds, title)
    # the episode version whose time the chapters are in (None: the first render's); a
    # render of another version moves them (`pipeline.produce(chapters_from=...)`)
    chapters_version: int | None = None
    # LAME algorithm quality 0 (best, slow) .. 9 (fast). 7 keeps 128 kbit/s speech clean and
    # renders a 60-minute stereo episode at ~45x real time on 2 cores (5: ~25x).
    mp3_quality: int = 7
    block_seconds: float = 2.0
    crossfade_seconds: float = 0.010
    snap_seconds: float = 0.002  # how far a cut boundary may move to reach a zero crossing

    def validate(self) -> None:
        if self.format not in OUTPUT_FORMATS:
            raise ValidationFailed(f"format must be one of {', '.join(OUTPUT_FORMATS)}")
        if self.sample_rate not in (44100, 48000):
            raise ValidationFailed("sample_rate must be 44100 or 48000")
        if self.channels not in (None, 1, 2):
            raise ValidationFailed("channels must be 1, 2 or unset")
        if not 0.1 <= self.block_seconds <= 10:
            raise ValidationFailed("block_seconds must be within 0.1..10")
