"""Settings of the production pipeline (plain dataclasses, JSON-friendly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tapeworks.errors import ValidationFailed

DEFAULT_FILLER_WORDS: tuple[str, ...] = (
    "um", "umm", "uhm", "uh", "uhh", "erm", "er", "err", "ah", "ahh", "eh",
    "hmm", "hm", "mm", "mmm", "mhm",
)
DEFAULT_MULTIWORD_FILLERS: tuple[str, ...] = ("you know", "i mean", "sort of", "kind of")

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
    # Word indices never removed as fillers (a multitrack render mutes them on their own
    # track instead, when another track speaks over them).
    protected_words: tuple[int, ...] = ()

    def validate(self) -> None:
        if self.target_pause_seconds < 0 or self.max_pause_seconds < self.target_pause_seconds:
            raise ValidationFailed("need 0 <= target_pause_seconds <= max_pause_seconds")
        if self.margin_seconds < 0 or self.filler_pad_seconds < 0:
            raise ValidationFailed("margins must not be negative")


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
