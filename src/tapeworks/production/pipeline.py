"""`produce`: recording + transcript -> publish-ready episode audio and re-timed transcript.

Two streaming passes over the source, memory bounded by the block size:

1. measuring: decode -> cut (snapping cut boundaries to zero crossings; the snapped
   edit list is the one kept) -> K-weighted loudness meter. Intro, outro and music
   are measured the same way.
2. rendering: decode -> cut -> gain to target -> mix (intro, outro, ducked music bed)
   -> true-peak limiter -> output meters -> encoder thread -> temp file -> rename.

Bleeps (`cleaning.bleep_words`, production/bleep.py) replace the matched words' audio in
the decoded source, before the cuts, in both passes; the words read `[bleep]` in the
re-timed transcript and the spans are listed in `ProduceResult.bleeps`.

The same edit list re-times the words (DESIGN rule 12). `progress(stage, fraction)`
receives the fraction of the whole run (0..1, never decreasing) and the current
stage: "analysing", "measuring", "rendering", "encoding".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tapeworks.audio.decode import Block, decode_blocks, prefetched
from tapeworks.audio.probe import read_info
from tapeworks.production.bleep import (
    BleepMode,
    BleepSpan,
    bleep_blocks,
    bleep_list,
    bleep_spans,
    bleep_transcript,
    match_bleeps,
)
from tapeworks.production.editlist import EditList
from tapeworks.production.encode import EncodeResult, Tags, encode
from tapeworks.production.loudness import (
    LoudnessMeter,
    TruePeakLimiter,
    TruePeakMeter,
    apply_gain,
    db_to_gain,
)
from tapeworks.production.mixing import (
    Track,
    combine,
    ducking_envelope,
    fade_envelope,
    looped_blocks,
    mix_tracks,
    shifted,
)
from tapeworks.production.render import EditRenderer
from tapeworks.production.retime import retime_points, retime_transcript, speech_intervals
from tapeworks.production.settings import (
    CleaningSettings,
    LoudnessSettings,
    RenderSettings,
    Template,
    UserCut,
)
from tapeworks.production.verify import VerifySettings, verified_edit_list
from tapeworks.transcripts.model import Transcript

__all__ = [
    "CleaningSettings",
    "LoudnessSettings",
    "ProduceResult",
    "RenderSettings",
    "Template",
    "UserCut",
    "VerifySettings",
    "produce",
]

ProgressCallback = Callable[[str, float], None]
_STAGES = {
    "analysing": (0.0, 0.05),
    "measuring": (0.05, 0.35),
    "rendering": (0.35, 0.97),
    "encoding": (0.97, 1.0),
}
_ASSET_FADE_GUARD = 0.010  # seconds of fade on an asset edge that does not overlap


@dataclass
class ProduceResult:
    output_path: Path
    format: str
    edit_list: EditList
    transcript: Transcript  # in episode time
    duration_seconds: float
    loudness: dict[str, float | None]
    cuts: dict[str, dict[str, float]]  # per kind: count, seconds
    programme_offset_seconds: float = 0.0  # where the main programme starts (after the intro)
    layout: dict[str, float] = field(default_factory=dict)
    bleeps: list[BleepSpan] = field(default_factory=list)  # source time
    chapters: list[tuple[float, str]] = field(default_factory=list)  # in the file, this time


@dataclass(frozen=True)
class ChapterBase:
    """The version chapters were set on: its edit list and where its programme starts."""

    edit_list: EditList
    programme_offset_seconds: float = 0.0


def _chapters(
    render: RenderSettings,
    base: ChapterBase | None,
    edit_list: EditList,
    offset: float,
    duration: float,
) -> tuple[tuple[float, str], ...]:
    chapters = list(render.chapters or ())
    if base is None or not chapters:
        return tuple(chapters)
    return tuple(
        retime_points(
            chapters,
            old_edit=base.edit_list,
            old_offset=base.programme_offset_seconds,
            new_edit=edit_list,
            new_offset=offset,
            new_duration=duration,
        )
    )


@dataclass(frozen=True)
class _Source:
    """The programme's source as the passes read it: decoded, with its bleeps applied."""

    path: Path
    bleeps: tuple[BleepSpan, ...] = ()
    bleep_mode: BleepMode = "beep"

    def blocks(self, rate: int, channels: int, block: int) -> Iterator[Block]:
        blocks = prefetched(
            decode_blocks(self.path, rate, channels, block)
        )  # decoding on its own thread
        if not self.bleeps:
            return blocks
        return bleep_blocks(blocks, self.bleeps, rate, self.bleep_mode)


class _Progress:
    """Maps per-stage fractions onto one monotonic fraction of the run."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._last = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        lo, hi = _STAGES[stage]
        value = max(self._last, lo + (hi - lo) * min(max(fraction, 0.0), 1.0))
        self._last = value
        if self._callback is not None:
            self._callback(stage, value)


@dataclass(frozen=True)
class _Asset:
    path: Path
    samples: int
    lufs: float


def produce(
    source: Path,
    transcript: Transcript,
    out_path: Path,
    *,
    cleaning: CleaningSettings | None = None,
    loudness: LoudnessSettings | None = None,
    template: Template | None = None,
    render: RenderSettings | None = None,
    speech_regions: Sequence[tuple[float, float]] | None = None,
    progress: ProgressCallback | None = None,
    verify: VerifySettings | None = None,
    hidden_words: Sequence[int] = (),
    bleeps: Sequence[BleepSpan] | None = None,
    chapters_from: ChapterBase | None = None,
) -> ProduceResult:
    """`chapters_from`: the edit list and programme offset of the version whose episode
    time `render.chapters` are in, when that is another version: the file's chapters are
    moved into this render's time (`retime.retime_points`) and listed in the result.
    `hidden_words` (indices into `transcript.words()`) are left out of the re-timed
    transcript although no cut removes them (a multitrack render muted them on their own
    track). `bleeps`: spans already applied to `source` (a multitrack mixdown), listed in
    the result; without it the cleaning settings' bleeps are found and applied here."""
    cleaning = cleaning or CleaningSettings()
    loudness = loudness or LoudnessSettings()
    template = template or Template()
    render = render or RenderSettings()
    render.validate()
    report = _Progress(progress)

    report("analysing", 0.0)
    info = read_info(source)
    rate = render.sample_rate
    channels = render.channels or min(info.channels, 2)
    block = round(render.block_seconds * rate)
    # planned from the words, then checked against the source audio (rule 12)
    edit_list = verified_edit_list(
        source, transcript, info.duration_seconds, speech_regions, cleaning, verify
    ).edit_list
    src, transcript, spans = _bleeped_source(
        source, transcript, cleaning, info.duration_seconds, bleeps
    )
    assets = {
        name: _measure_asset(path, rate, channels, block)
        for name, path in (
            ("intro", template.intro),
            ("outro", template.outro),
            ("music", template.music),
        )
        if path is not None
    }
    report("analysing", 1.0)

    if not loudness.enabled and not assets:
        single = _produce_single_pass(
            src,
            transcript,
            out_path,
            edit_list,
            render,
            loudness,
            rate,
            channels,
            block,
            report,
            hidden_words,
            chapters_from,
        )
        single.bleeps = spans
        return single
    edit_list, main_samples, input_lufs = _measure_programme(
        src, edit_list, rate, channels, block, render, report
    )
    target = loudness.target_for(channels)
    main_gain_db = target - input_lufs if loudness.enabled and math.isfinite(input_lufs) else 0.0

    layout = _layout(assets, main_samples, round(template.overlap_seconds * rate))
    offset = layout["main_start"] / rate
    retimed = retime_transcript(transcript, edit_list, offset=offset, hidden=hidden_words)
    retimed = retimed.model_copy(update={"duration": layout["total"] / rate})
    speech = _speech_map(retimed, edit_list, speech_regions, offset)

    tracks = _tracks(
        src,
        edit_list,
        assets,
        layout,
        template,
        render,
        rate,
        channels,
        block,
        main_gain_db,
        target,
        speech,
    )
    stream: Iterable[Block] = mix_tracks(tracks, layout["total"], channels, block)
    limiter: TruePeakLimiter | None = None
    if loudness.enabled:
        limiter = TruePeakLimiter(rate, channels, loudness.true_peak_dbtp)
        stream = limiter.process(stream)
    out_meter, peak_meter = LoudnessMeter(rate, channels), TruePeakMeter(channels)
    stream = _metered(stream, out_meter, peak_meter, layout["total"], report)
    chapters = _chapters(render, chapters_from, edit_list, offset, layout["total"] / rate)
    result = _encode(stream, out_path, render, rate, channels, chapters, report)

    return ProduceResult(
        chapters=list(chapters),
        output_path=out_path,
        format=render.format,
        edit_list=edit_list,
        transcript=retimed,
        duration_seconds=result.duration_seconds,
        loudness={
            "enabled": 1.0 if loudness.enabled else 0.0,
            "target_lufs": target,
            "input_lufs": _finite(input_lufs),
            "gain_db": round(main_gain_db, 3),
            "output_lufs": _finite(out_meter.integrated()),
            "true_peak_dbtp": _finite(peak_meter.dbtp),
            "limiter_max_reduction_db": round(limiter.max_reduction_db, 3) if limiter else 0.0,
        },
        cuts=edit_list.summary(),
        programme_offset_seconds=offset,
        layout={k: v / rate for k, v in layout.items()},
        bleeps=spans,
    )


def _bleeped_source(
    source: Path,
    transcript: Transcript,
    cleaning: CleaningSettings,
    duration: float,
    given: Sequence[BleepSpan] | None,
) -> tuple[_Source, Transcript, list[BleepSpan]]:
    """The source with the cleaning settings' bleeps (spans widened to the speech energy)
    and the transcript with those words reading [bleep]; `given` spans are already in the
    source (a mixdown), so they are only listed."""
    if given is not None:
        return _Source(source), transcript, list(given)
    if not cleaning.bleeps_enabled:
        return _Source(source), transcript, []
    words = transcript.words()
    indices = match_bleeps(words, bleep_list(cleaning.bleep_words, cleaning.bleep_default_list))
    if not indices:
        return _Source(source), transcript, []
    spans = bleep_spans(source, words, indices, duration=duration)
    return (
        _Source(source, tuple(spans), cleaning.bleep_mode),
        bleep_transcript(transcript, indices),
        spans,
    )


def _produce_single_pass(
    source: _Source,
    transcript: Transcript,
    out_path: Path,
    edit_list: EditList,
    render: RenderSettings,
    loudness: LoudnessSettings,
    rate: int,
    channels: int,
    block: int,
    report: _Progress,
    hidden_words: Sequence[int],
    chapters_from: ChapterBase | None = None,
) -> ProduceResult:
    """No loudness pass and nothing to mix: cut (snapping) straight into the encoder.
    Loudness is off, so nothing is measured either (the silence cutter's whole job is
    the cut; the result reports the loudness as not measured)."""
    renderer = EditRenderer(
        edit_list,
        rate,
        channels,
        block_samples=block,
        crossfade_seconds=render.crossfade_seconds,
        snap_seconds=render.snap_seconds,
    )
    expected = round(edit_list.episode_duration * rate)
    stream = _reported(renderer.render(source.blocks(rate, channels, block)), expected, report)
    chapters = _chapters(render, chapters_from, edit_list, 0.0, edit_list.episode_duration)
    result = _encode(stream, out_path, render, rate, channels, chapters, report)
    final = renderer.snapped_edit_list()
    retimed = retime_transcript(transcript, final, hidden=hidden_words).model_copy(
        update={"duration": result.duration_seconds}
    )
    return ProduceResult(
        chapters=list(chapters),
        output_path=out_path,
        format=render.format,
        edit_list=final,
        transcript=retimed,
        duration_seconds=result.duration_seconds,
        loudness={
            "enabled": 0.0,
            "target_lufs": loudness.target_for(channels),
            "input_lufs": None,
            "gain_db": 0.0,
            "output_lufs": None,
            "true_peak_dbtp": None,
            "limiter_max_reduction_db": 0.0,
        },
        cuts=final.summary(),
        layout={
            "intro": 0.0,
            "main_start": 0.0,
            "main": result.duration_seconds,
            "outro_start": result.duration_seconds,
            "outro": 0.0,
            "total": result.duration_seconds,
        },
    )


def _encode(
    stream: Iterable[Block],
    out_path: Path,
    render: RenderSettings,
    rate: int,
    channels: int,
    chapters: tuple[tuple[float, str], ...],
    report: _Progress,
) -> EncodeResult:
    """The rendered stream into the output file, tagged with the render's title, show,
    artist and the chapters (file time)."""
    tags = Tags(title=render.title, show=render.show, artist=render.artist, chapters=chapters)
    result = encode(
        stream,
        out_path,
        fmt=render.format,
        rate=rate,
        channels=channels,
        bitrate=render.bitrate,
        mp3_quality=render.mp3_quality,
        tags=tags,
    )
    report("encoding", 1.0)
    return result


def _finite(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def _measure_asset(path: Path, rate: int, channels: int, block: int) -> _Asset:
    meter = LoudnessMeter(rate, channels)
    for b in decode_blocks(path, rate, channels, block):
        meter.add(b)
    return _Asset(path, meter.samples, meter.integrated())


def _measure_programme(
    source: _Source,
    edit_list: EditList,
    rate: int,
    channels: int,
    block: int,
    render: RenderSettings,
    report: _Progress,
) -> tuple[EditList, int, float]:
    """Pass 1: cut (snapping boundaries) and meter; returns the snapped edit list."""
    renderer = EditRenderer(
        edit_list,
        rate,
        channels,
        block_samples=block,
        crossfade_seconds=render.crossfade_seconds,
        snap_seconds=render.snap_seconds,
    )
    meter = LoudnessMeter(rate, channels)
    expected = max(1.0, edit_list.episode_duration * rate)
    report("measuring", 0.0)
    for b in renderer.render(source.blocks(rate, channels, block)):
        meter.add(b)
        report("measuring", renderer.samples_out / expected)
    return renderer.snapped_edit_list(), renderer.samples_out, meter.integrated()


def _layout(assets: dict[str, _Asset], main: int, overlap: int) -> dict[str, int]:
    intro = assets["intro"].samples if "intro" in assets else 0
    outro = assets["outro"].samples if "outro" in assets else 0
    main_start = max(0, intro - overlap) if intro else 0
    main_end = main_start + main
    outro_start = max(main_start, main_end - overlap) if outro else main_end
    total = max(main_end, outro_start + outro)
    return {
        "intro": intro,
        "main_start": main_start,
        "main": main,
        "outro_start": outro_start,
        "outro": outro,
        "total": total,
    }


def _speech_map(
    retimed: Transcript,
    edit_list: EditList,
    speech_regions: Sequence[tuple[float, float]] | None,
    offset: float,
) -> list[tuple[float, float]]:
    """Where speech is in the episode: re-timed words, plus mapped VAD regions if given."""
    spans = speech_intervals(retimed)
    for a, b in speech_regions or ():
        ea, eb = edit_list.source_to_episode(a) + offset, edit_list.source_to_episode(b) + offset
        if eb > ea:
            spans.append((ea, eb))
    spans.sort()
    merged: list[tuple[float, float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _tracks(
    source: _Source,
    edit_list: EditList,
    assets: dict[str, _Asset],
    layout: dict[str, int],
    template: Template,
    render: RenderSettings,
    rate: int,
    channels: int,
    block: int,
    main_gain_db: float,
    target: float,
    speech: list[tuple[float, float]],
) -> list[Track]:
    renderer = EditRenderer(
        edit_list,
        rate,
        channels,
        block_samples=block,
        crossfade_seconds=render.crossfade_seconds,
        snap_seconds=0.0,
    )
    main_blocks = renderer.render(source.blocks(rate, channels, block))
    if main_gain_db != 0.0:
        main_blocks = apply_gain(main_blocks, main_gain_db)
    tracks = [Track(main_blocks, layout["main_start"], layout["main"])]
    overlap = round(template.overlap_seconds * rate)
    guard = round(_ASSET_FADE_GUARD * rate)
    for name, start_key, fades in (
        ("intro", None, (0, max(overlap, guard))),
        ("outro", "outro_start", (max(overlap, guard), guard)),
    ):
        if name not in assets:
            continue
        asset = assets[name]
        start = layout[start_key] if start_key else 0
        tracks.append(
            Track(
                decode_blocks(asset.path, rate, channels, block),
                start,
                asset.samples,
                gain=_gain_to(asset.lufs, target),
                envelope=fade_envelope(asset.samples, fades[0], fades[1]),
            )
        )
    if "music" in assets:
        tracks.append(
            _music_track(assets["music"], layout, template, rate, channels, block, target, speech)
        )
    return tracks


def _music_track(
    music: _Asset,
    layout: dict[str, int],
    template: Template,
    rate: int,
    channels: int,
    block: int,
    target: float,
    speech: list[tuple[float, float]],
) -> Track:
    length, start = layout["main"], layout["main_start"]
    duck = ducking_envelope(
        [(round(a * rate), round(b * rate)) for a, b in speech],
        template.duck_depth_db,
        round(template.duck_attack_seconds * rate),
        round(template.duck_release_seconds * rate),
    )
    fades = fade_envelope(
        length,
        round(template.music_fade_in_seconds * rate),
        round(template.music_fade_out_seconds * rate),
    )
    return Track(
        looped_blocks(music.path, rate, channels, block),
        start,
        length,
        gain=_gain_to(music.lufs, target + template.music_gain_db),
        envelope=combine(fades, shifted(duck, start)),
    )


def _gain_to(measured: float, target: float) -> float:
    return db_to_gain(target - measured) if math.isfinite(measured) else 1.0


def _reported(blocks: Iterable[Block], total: int, report: _Progress) -> Iterator[Block]:
    """The stream as it is, its progress reported as the rendering stage."""
    done = 0
    report("rendering", 0.0)
    for b in blocks:
        done += b.shape[1]
        report("rendering", done / max(total, 1))
        yield b
    report("encoding", 0.0)


def _metered(
    blocks: Iterable[Block],
    loud: LoudnessMeter,
    peak: TruePeakMeter,
    total: int,
    report: _Progress,
) -> Iterator[Block]:
    """The stream as it is, measured on the way by the output meters."""
    for b in _reported(blocks, total, report):
        loud.add(b)
        peak.add(b)
        yield b
    peak.finish()
