"""Episodes from multitrack recordings: level each track, mix, then produce as usual.

`produce_multitrack` runs the multitrack primitives (multitrack.py) in front of the
single-source pipeline (pipeline.py):

1. analysing: place the tracks on the timeline; measure each track's speech loudness
   and take the gains that bring them to a common level.
2. deciding: which fillers are cut from the timeline (nobody else talking) and which
   are muted on their own track (someone else talks over them); the same for the
   phrases spoken edit markers remove (`cleaning.edit_marker`): cut when nobody else
   speaks in them, muted on the speaker's track when someone does; which words are
   bleeped (`cleaning.bleep_words`), with spans widened to the speech energy on the
   speaker's own track.
3. mixing: the levelled, muted, bleeped tracks summed into one scratch WAV (32-bit
   float, so mixing adds no rounding), streaming.
4. producing: the usual two passes on the mix. Pauses are the silences between the
   words of every track and every track's speech, so a pause is shortened only where
   every track is silent; the programme loudness, the limiter and the template are as
   for one track. The muted fillers and marker phrases are protected from the cuts and
   left out of the episode's transcript (their audio is gone).

The merged transcript's speakers are `S1..Sn` in track order (`merge_track_transcripts`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tapeworks.audio.decode import Block
from tapeworks.production.bleep import (
    BleepSpan,
    bleep_list,
    bleep_spans,
    bleep_transcript,
    match_bleeps,
)
from tapeworks.production.cleaning import filler_indices, marker_edit_list
from tapeworks.production.encode import encode
from tapeworks.production.loudness import TruePeakLimiter
from tapeworks.production.multitrack import (
    Interval,
    TrackEdits,
    TrackSpec,
    dedupe_words,
    levelling_gains_db,
    merge_track_transcripts,
    mix_channels,
    mixdown_blocks,
    place_tracks,
    split_fillers,
    track_loudness,
    union_intervals,
    word_levels,
    write_mixdown,
)
from tapeworks.production.pipeline import ChapterBase, ProduceResult, produce
from tapeworks.production.settings import (
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    Template,
)
from tapeworks.transcripts.model import Transcript

ProgressCallback = Callable[[str, float], None]
_MIX_SHARE = 0.15  # of the run's progress, for analysing and mixing


@dataclass
class MultitrackResult:
    result: ProduceResult
    track_loudness_lufs: list[float | None]
    track_gains_db: list[float]
    mutes: list[list[Interval]]  # per track, timeline seconds
    bleeped_words: list[int] = field(default_factory=list)
    muted_markers: list[tuple[int, ...]] = field(default_factory=list)  # word indices per phrase


def produce_multitrack(
    tracks: Sequence[TrackSpec],
    transcript: Transcript,
    out_path: Path,
    *,
    cleaning: CleaningSettings | None = None,
    loudness: LoudnessSettings | None = None,
    template: Template | None = None,
    render: RenderSettings | None = None,
    speech_by_track: Sequence[Sequence[Interval]] | None = None,
    scratch_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    chapters_from: ChapterBase | None = None,
) -> MultitrackResult:
    cleaning = cleaning or CleaningSettings()
    render = render or RenderSettings()
    render.validate()
    cleaning.validate()

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, fraction)

    rate = render.sample_rate
    block = round(render.block_seconds * rate)
    report("analysing", 0.0)
    placed = place_tracks(tracks, rate)
    channels = mix_channels(placed, render.channels)
    lufs = track_loudness(placed, rate, block)
    gains = levelling_gains_db(lufs)
    report("analysing", _MIX_SHARE * 0.3)

    words = transcript.words()
    speakers = [f"S{k + 1}" for k in range(len(placed))]
    own_words = [[(w.start, w.end) for w in words if w.speaker == s] for s in speakers]
    speech = [
        union_intervals(own_words[k], (speech_by_track or [[]] * len(placed))[k])
        for k in range(len(placed))
    ]
    fillers = filler_indices(words, cleaning)
    cut, mutes = split_fillers(words, fillers, speakers, speech)
    hidden = set(fillers) - set(cut)
    regions = union_intervals(*speech)
    duration = max((p.end for p in placed), default=0) / rate
    muted_markers: list[tuple[int, ...]] = []
    for edit in marker_edit_list(words, cleaning, regions, duration):
        if not edit.crosstalk_indices:
            continue  # nobody else speaks in it: cut from the timeline like on one track
        speaker = words[edit.word_indices[0]].speaker
        if speaker not in speakers:
            continue
        own = speakers.index(speaker)
        mutes[own] = union_intervals(mutes[own], [(edit.start, edit.end)])
        muted_markers.append(tuple(edit.word_indices))
        hidden.update(edit.word_indices)
    protected = tuple(sorted(hidden))

    edits = [TrackEdits(gain_db=g, mutes=m) for g, m in zip(gains, mutes, strict=True)]
    bleeped: list[int] = []
    spans: list[BleepSpan] = []
    if cleaning.bleeps_enabled:
        bleeped = match_bleeps(words, bleep_list(cleaning.bleep_words, cleaning.bleep_default_list))
        for k, p in enumerate(placed):
            mine = [i for i in bleeped if words[i].speaker == speakers[k]]
            edits[k].bleeps = bleep_spans(p.spec.path, words, mine, offset=p.spec.offset_seconds)
            spans += edits[k].bleeps
        transcript = bleep_transcript(transcript, bleeped)
    report("mixing", _MIX_SHARE * 0.4)

    with contextlib.ExitStack() as stack:
        scratch = scratch_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="tapeworks-mix-"))
        )
        mix_path = scratch / "mixdown.wav"
        stack.callback(mix_path.unlink, missing_ok=True)
        # mono tracks mix into a mono scratch file (half the work and the bytes); the
        # render reads it as the episode's channels (the same samples in both)
        scratch_channels = min(channels, mix_channels(placed))
        write_mixdown(
            mixdown_blocks(
                placed, rate, scratch_channels, block, edits, bleep_mode=cleaning.bleep_mode
            ),
            mix_path,
            rate,
            scratch_channels,
        )
        report("mixing", _MIX_SHARE)

        def inner(stage: str, fraction: float) -> None:
            report(stage, _MIX_SHARE + (1 - _MIX_SHARE) * fraction)

        result = produce(
            mix_path,
            transcript,
            out_path,
            cleaning=replace(cleaning, protected_words=protected),
            loudness=loudness,
            template=template,
            render=replace(render, channels=channels),
            speech_regions=regions,
            progress=inner,
            hidden_words=protected,
            bleeps=sorted(spans, key=lambda b: b.start),
            chapters_from=chapters_from,
        )
    return MultitrackResult(
        result=result,
        track_loudness_lufs=[round(v, 3) if v > -1e9 else None for v in lufs],
        track_gains_db=[round(g, 3) for g in gains],
        mutes=mutes,
        bleeped_words=bleeped,
        muted_markers=muted_markers,
    )


# --- the player's audio of a multitrack session ----------------------------------------------
MIXDOWN_FORMAT = "mp3"
MIXDOWN_RATE = 44100


@dataclass(frozen=True)
class Mixdown:
    path: Path
    format: str
    rate: int
    channels: int
    duration_seconds: float
    track_gains_db: list[float]


def render_mixdown(
    tracks: Sequence[TrackSpec],
    out_path: Path,
    *,
    block_seconds: float = 2.0,
    progress: Callable[[float], None] | None = None,
) -> Mixdown:
    """The tracks levelled to a common speech loudness, mixed on the timeline, kept under
    -1 dBTP and encoded as MP3 128 kbit/s: the audio a multitrack session's player plays
    (and its waveform is drawn from). Streaming, a few blocks per track."""
    rate = MIXDOWN_RATE
    block = round(block_seconds * rate)
    placed = place_tracks(tracks, rate)
    channels = mix_channels(placed)
    gains = levelling_gains_db(track_loudness(placed, rate, block))
    total = max(1, max((p.end for p in placed), default=1))
    limiter = TruePeakLimiter(rate, channels, -1.0)

    def reported(blocks: Iterable[Block]) -> Iterator[Block]:
        done = 0
        for b in blocks:
            done += b.shape[1]
            if progress is not None:
                progress(min(1.0, done / total))
            yield b

    stream = mixdown_blocks(placed, rate, channels, block, [TrackEdits(gain_db=g) for g in gains])
    result = encode(
        reported(limiter.process(stream)),
        out_path,
        fmt=MIXDOWN_FORMAT,
        rate=rate,
        channels=channels,
        bitrate=128000,
        mp3_quality=7,
    )
    return Mixdown(
        out_path,
        MIXDOWN_FORMAT,
        rate,
        channels,
        result.duration_seconds,
        [round(g, 3) for g in gains],
    )


def merge_tracks(
    transcripts: Sequence[Transcript],
    tracks: Sequence[TrackSpec],
    duration: float | None = None,
) -> Transcript:
    """One transcript from each track's own (transcribed alone: every word is the track's
    speaker, `S{k+1}` named after the track), in timeline time; a word heard on two tracks
    within 0.3 s (microphone bleed) stays on the track where it is louder."""
    words_by_track = []
    levels_by_track = []
    for t, spec in zip(transcripts, tracks, strict=True):
        words = [
            w.model_copy(
                update={
                    "start": round(w.start + spec.offset_seconds, 6),
                    "end": round(w.end + spec.offset_seconds, 6),
                }
            )
            for w in t.words()
        ]
        words_by_track.append(words)
        levels_by_track.append(word_levels(spec.path, words, offset=spec.offset_seconds))
    kept = dedupe_words(words_by_track, levels_by_track)
    return merge_track_transcripts(
        transcripts,
        [s.name for s in tracks],
        [s.offset_seconds for s in tracks],
        words_by_track=kept,
        duration=duration,
    )
