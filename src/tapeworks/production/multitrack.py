"""Multitrack recordings: one track per speaker, aligned, levelled and mixed, streaming.

Remote recordings come as one file per speaker (Riverside, Zencastr, SquadCast, Zoom).
The tracks may differ in rate, channels and length; they are aligned at their starts,
each optionally delayed by an offset in seconds, on one *timeline* (the session's time).

- `place_tracks`: probe each track and place it on the timeline (samples at the
  render rate); a track that is not audio refuses the whole set, naming the track.
- `track_loudness` / `levelling_gains_db`: each track's speech loudness (BS.1770
  integrated loudness; its gates leave out the silence while others talk) and the
  gain that brings every track to a common speech loudness.
- `mixdown_blocks` / `write_mixdown`: the levelled tracks summed on the timeline, with
  each track's *mute spans* (a filler said while someone else talks is muted on its own
  track, not cut from the timeline) and bleeps applied per track. The result is the
  source every later stage works on: pause cuts where the mix is silent are cuts where
  every track is silent, and the audio check of cuts runs on the same mix.
- `split_fillers`: which filler words are cut from the timeline and which are muted.
- `common_silence` / `union_intervals`: where every track is silent.
- `word_levels` / `dedupe_words`: the same word heard on two tracks within 0.3 s (the
  other microphone picked it up) is kept on the louder track only.
- `merge_track_transcripts`: one transcript from the tracks' own, each word carrying
  its track's speaker, ordered by time; crosstalk keeps both speakers' words.

Memory is a few blocks per track whatever the length (DESIGN rule 11).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tapeworks.audio.decode import Block, BlockReader, decode_blocks, prefetched
from tapeworks.audio.probe import AudioInfo, read_info
from tapeworks.errors import InvalidAudio, ValidationFailed
from tapeworks.production.bleep import BleepMode, BleepSpan, bleep_blocks
from tapeworks.production.loudness import LoudnessMeter, db_to_gain
from tapeworks.production.mixing import Envelope, Track, mix_tracks
from tapeworks.transcripts.model import Diarization, Segment, Speaker, Transcript, Word

Interval = tuple[float, float]
DEDUPE_SECONDS = 0.3
MAX_BOOST_DB = 20.0
MAX_CUT_DB = 30.0
MUTE_FADE_SECONDS = 0.005
_LEVEL_RATE = 16000


@dataclass(frozen=True)
class TrackSpec:
    path: Path
    name: str
    offset_seconds: float = 0.0


@dataclass(frozen=True)
class PlacedTrack:
    spec: TrackSpec
    info: AudioInfo
    start: int  # first timeline sample (render rate)
    length: int  # samples at the render rate

    @property
    def end(self) -> int:
        return self.start + self.length


def place_tracks(specs: Sequence[TrackSpec], rate: int) -> list[PlacedTrack]:
    """Probe every track (all of them, before anything is kept) and place it on the timeline."""
    if not specs:
        raise ValidationFailed("a multitrack recording needs at least one track")
    placed: list[PlacedTrack] = []
    for k, spec in enumerate(specs):
        if not math.isfinite(spec.offset_seconds) or spec.offset_seconds < 0:
            raise ValidationFailed(
                f"track {k + 1} ({spec.name}): the offset must be 0 or more seconds"
            )
        try:
            info = read_info(spec.path)
        except InvalidAudio as exc:
            raise InvalidAudio(f"track {k + 1} ({spec.name}) is not audio we can read") from exc
        placed.append(
            PlacedTrack(
                spec,
                info,
                round(spec.offset_seconds * rate),
                max(0, round(info.duration_seconds * rate)),
            )
        )
    return placed


def timeline_samples(placed: Sequence[PlacedTrack]) -> int:
    return max((p.end for p in placed), default=0)


def mix_channels(placed: Sequence[PlacedTrack], wanted: int | None = None) -> int:
    """The mix's channels: as asked, else stereo if any track is, else mono."""
    if wanted is not None:
        return wanted
    return 2 if any(p.info.channels >= 2 for p in placed) else 1


# --- levelling ------------------------------------------------------------------------------
def track_loudness(placed: Sequence[PlacedTrack], rate: int, block: int) -> list[float]:
    """Integrated loudness (LUFS) of each track on its own, mono-summed; -inf when silent.
    Measured at the track's own rate (the K-weighting is made for it; no resampling) and
    the tracks at once, each on a thread (decoding and filtering run without the lock)."""

    def one(p: PlacedTrack) -> float:
        own = p.info.sample_rate or rate
        meter = LoudnessMeter(own, 1)
        for b in decode_blocks(p.spec.path, own, 1, round(block * own / rate)):
            meter.add(b)
        return meter.integrated()

    if len(placed) < 2:
        return [one(p) for p in placed]
    with ThreadPoolExecutor(
        max_workers=min(len(placed), 2), thread_name_prefix="tapeworks-level"
    ) as pool:
        return list(pool.map(one, placed))


def levelling_gains_db(loudness: Sequence[float], reference: float | None = None) -> list[float]:
    """Gains (dB) that bring each track's speech loudness to `reference` (default: the
    mean of the tracks that have any). A silent track keeps 0 dB; boosts are capped at
    +20 dB and cuts at -30 dB so a track of room tone is not pumped up to speech level."""
    finite = [v for v in loudness if math.isfinite(v)]
    if not finite:
        return [0.0 for _ in loudness]
    ref = reference if reference is not None else sum(finite) / len(finite)
    return [
        min(MAX_BOOST_DB, max(-MAX_CUT_DB, ref - v)) if math.isfinite(v) else 0.0 for v in loudness
    ]


# --- mute spans -----------------------------------------------------------------------------------
def mute_envelope(spans: Sequence[tuple[int, int]], fade: int) -> Envelope:
    """Gain 0 inside each span (in the track's own samples), with `fade`-sample ramps
    inside the span's edges; 1 elsewhere."""
    ordered = sorted((a, b) for a, b in spans if b > a)
    starts = [a for a, _ in ordered]

    def env(first: int, count: int) -> np.ndarray:
        last = first + count
        g = np.ones(count, np.float32)
        i = max(0, bisect.bisect_right(starts, first) - 1)
        while i < len(ordered) and ordered[i][0] < last:
            a, b = ordered[i]
            i += 1
            lo, hi = max(a, first), min(b, last)
            if hi <= lo:
                continue
            pos = np.arange(lo, hi, dtype=np.float64)
            r = max(1, min(fade, (b - a) // 2))
            ramp = np.clip(np.minimum(pos - a + 0.5, b - pos - 0.5) / r, 0.0, 1.0)
            seg = g[lo - first : hi - first]
            np.minimum(seg, (1.0 - ramp).astype(np.float32), out=seg)
        return g

    return env


@dataclass
class TrackEdits:
    """What happens to one track before the mix (times in timeline seconds)."""

    gain_db: float = 0.0
    mutes: list[Interval] = field(default_factory=list)
    bleeps: list[BleepSpan] = field(default_factory=list)


def mixdown_blocks(
    placed: Sequence[PlacedTrack],
    rate: int,
    channels: int,
    block: int,
    edits: Sequence[TrackEdits] | None = None,
    *,
    bleep_mode: BleepMode = "beep",
) -> Iterator[Block]:
    """The timeline's mix, block by block: each track decoded at `rate`/`channels`,
    bleeped, muted where asked, gained, and summed at its offset."""
    edits = list(edits) if edits is not None else [TrackEdits() for _ in placed]
    if len(edits) != len(placed):
        raise ValidationFailed("one set of track edits per track is needed")
    fade = max(1, round(MUTE_FADE_SECONDS * rate))
    tracks: list[Track] = []
    for p, e in zip(placed, edits, strict=True):
        # each track decoded (and resampled) on its own thread, beside the mixing
        blocks: Iterable[Block] = prefetched(decode_blocks(p.spec.path, rate, channels, block))
        offset = p.spec.offset_seconds
        if e.bleeps:
            local = [
                BleepSpan(s.start - offset, s.end - offset, s.word_index, s.text) for s in e.bleeps
            ]
            blocks = bleep_blocks(blocks, local, rate, bleep_mode)
        mutes = [(round((a - offset) * rate), round((b - offset) * rate)) for a, b in e.mutes]
        tracks.append(
            Track(
                blocks,
                p.start,
                p.length,
                gain=db_to_gain(e.gain_db),
                envelope=mute_envelope(mutes, fade) if mutes else None,
            )
        )
    return mix_tracks(tracks, timeline_samples(placed), channels, block)


def write_mixdown(blocks: Iterable[Block], path: Path, rate: int, channels: int) -> int:
    """Write a block stream as 32-bit float WAV (exact, scratch space); returns samples."""
    layout = "stereo" if channels == 2 else "mono"
    samples = 0
    with av.open(str(path), "w", format="wav") as out:
        stream = out.add_stream("pcm_f32le", rate=rate, layout=layout)
        for chunk in blocks:
            interleaved = np.ascontiguousarray(chunk.T.reshape(1, -1), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(interleaved, format="flt", layout=layout)
            frame.sample_rate = rate
            frame.pts = samples
            frame.time_base = Fraction(1, rate)
            samples += chunk.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return samples


# --- where every track is silent ---------------------------------------------------------------
def union_intervals(*lists: Iterable[Interval]) -> list[Interval]:
    spans = sorted((a, b) for items in lists for a, b in items if b > a)
    merged: list[Interval] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def common_silence(
    speech_by_track: Sequence[Iterable[Interval]], duration: float
) -> list[Interval]:
    """The stretches of [0, duration] where no track has speech."""
    out: list[Interval] = []
    t = 0.0
    for a, b in union_intervals(*speech_by_track):
        if a > t:
            out.append((t, min(a, duration)))
        t = max(t, b)
    if duration > t:
        out.append((t, duration))
    return [(a, b) for a, b in out if b > a]


def _overlaps(spans: Sequence[Interval], starts: Sequence[float], a: float, b: float) -> bool:
    """Whether [a, b) meets any of `spans` (sorted, merged; `starts` their starts)."""
    i = bisect.bisect_left(starts, b) - 1  # the last span starting before b
    return i >= 0 and spans[i][1] > a


def split_fillers(
    words: Sequence[Word],
    filler_indices: Iterable[int],
    speakers: Sequence[str],
    speech_by_track: Sequence[Sequence[Interval]],
    *,
    pad: float = 0.05,
) -> tuple[list[int], list[list[Interval]]]:
    """Fillers to cut from the timeline, and mute spans per track for the others.

    `speakers[k]` is track k's speaker id; `speech_by_track[k]` where track k has speech
    (its kept words and its detector's regions). A filler is muted on its own track when
    another track has speech within `pad` of it, and cut from every track when not.
    """
    index = {s: k for k, s in enumerate(speakers)}
    merged = [union_intervals(s) for s in speech_by_track]
    starts = [[a for a, _ in m] for m in merged]
    cut: list[int] = []
    mutes: list[list[Interval]] = [[] for _ in speakers]
    for i in sorted(set(filler_indices)):
        w = words[i]
        own = index.get(w.speaker or "")
        if own is None:
            cut.append(i)
            continue
        a, b = w.start - pad, w.end + pad
        busy = any(_overlaps(merged[k], starts[k], a, b) for k in range(len(speakers)) if k != own)
        if busy:
            mutes[own].append((max(0.0, a), b))
        else:
            cut.append(i)
    return cut, [union_intervals(m) for m in mutes]


# --- microphone bleed -----------------------------------------------------------------------------
def word_levels(path: Path, words: Sequence[Word], offset: float = 0.0) -> list[float]:
    """RMS level (dBFS) of each word's span on this track (track time = word time - offset);
    one streaming decode, words in any order."""
    order = sorted(range(len(words)), key=lambda i: words[i].start)
    reader = BlockReader(decode_blocks(path, _LEVEL_RATE, 1, _LEVEL_RATE), 1)
    levels = [-math.inf] * len(words)
    for i in order:
        w = words[i]
        a = max(0, round((w.start - offset) * _LEVEL_RATE))
        b = max(a + 1, round((w.end - offset) * _LEVEL_RATE))
        if a > reader.position:
            reader.skip(a - reader.position)
        lo = max(a, reader.position)
        if b <= lo:
            continue
        data = reader.peek(b - reader.position)[0, lo - reader.position :]
        if data.size:
            rms = float(np.sqrt(np.mean(data.astype(np.float64) ** 2)))
            levels[i] = 20 * math.log10(rms) if rms > 0 else -math.inf
    return levels


def _key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def dedupe_words(
    words_by_track: Sequence[Sequence[Word]],
    levels_by_track: Sequence[Sequence[float]],
    window: float = DEDUPE_SECONDS,
) -> list[list[Word]]:
    """Each track's words without the ones another track heard louder (same word,
    starts within `window` seconds). Words are in timeline time."""
    kept = [[True] * len(ws) for ws in words_by_track]
    starts = [[w.start for w in ws] for ws in words_by_track]
    for a, words in enumerate(words_by_track):
        for i, w in enumerate(words):
            if not kept[a][i]:
                continue
            key = _key(w.text)
            if not key:
                continue
            for b, others in enumerate(words_by_track):
                if b == a:
                    continue
                lo = bisect.bisect_left(starts[b], w.start - window)
                hi = bisect.bisect_right(starts[b], w.start + window)
                for j in range(lo, hi):
                    if not kept[b][j] or _key(others[j].text) != key:
                        continue
                    if levels_by_track[b][j] > levels_by_track[a][i]:
                        kept[a][i] = False
                    else:
                        kept[b][j] = False
                    break
                if not kept[a][i]:
                    break
    return [
        [w for w, k in zip(ws, ks, strict=True) if k]
        for ws, ks in zip(words_by_track, kept, strict=True)
    ]


def merge_track_transcripts(
    transcripts: Sequence[Transcript],
    names: Sequence[str],
    offsets: Sequence[float] | None = None,
    words_by_track: Sequence[Sequence[Word]] | None = None,
    duration: float | None = None,
) -> Transcript:
    """One transcript for the session: track k's speaker is `S{k+1}` named `names[k]`;
    times moved by the track's offset; segments ordered by time (crosstalk keeps both).

    `words_by_track` (timeline time, e.g. after `dedupe_words`) decides which words
    stay: a word not in it is dropped from its segment; emptied segments go.
    """
    if len(transcripts) != len(names):
        raise ValidationFailed("one name per track is needed")
    offsets = list(offsets) if offsets is not None else [0.0] * len(transcripts)
    keep: list[set[tuple[float, float, str]]] | None = None
    if words_by_track is not None:
        keep = [{(round(w.start, 6), round(w.end, 6), w.text) for w in ws} for ws in words_by_track]
    segments: list[tuple[float, int, Segment]] = []
    for k, (t, off) in enumerate(zip(transcripts, offsets, strict=True)):
        speaker = f"S{k + 1}"
        for seg in t.segments:
            words = [
                w.model_copy(
                    update={
                        "start": round(w.start + off, 6),
                        "end": round(w.end + off, 6),
                        "speaker": speaker,
                    }
                )
                for w in seg.words
            ]
            if keep is not None:
                words = [w for w in words if (w.start, w.end, w.text) in keep[k]]
                if not words:
                    continue
            text = " ".join(w.text for w in words) if keep is not None else seg.text
            start = words[0].start if words else round(seg.start + off, 6)
            end = words[-1].end if words else round(seg.end + off, 6)
            segments.append(
                (
                    start,
                    k,
                    Segment(
                        id=f"t{k + 1}-{seg.id}",
                        speaker=speaker,
                        start=start,
                        end=end,
                        text=text,
                        words=words,
                    ),
                )
            )
    segments.sort(key=lambda item: (item[0], item[1]))
    first = next((t for t in transcripts if t.model is not None), None)
    ends = [seg.end for _, _, seg in segments]
    return Transcript(
        language=next((t.language for t in transcripts if t.language), None),
        duration=duration if duration is not None else (max(ends) if ends else 0.0),
        model=first.model if first is not None else None,
        diarization=Diarization(
            status="disabled", reason="one track per speaker", num_speakers=len(names)
        ),
        speakers=[Speaker(id=f"S{k + 1}", name=name, role=None) for k, name in enumerate(names)],
        segments=[seg for _, _, seg in segments],
    )
