"""Check cuts against the source audio before they are applied (DESIGN rule 12, issue 11).

Word timings drive the edit, but the audio has the last word. Automatic cuts (pauses,
fillers) are planned from the words (production/cleaning.py) and then checked here
against the voice activity and the short-time energy of the SOURCE audio:

1. The audio around every planned cut (plus `context_seconds`) is decoded in one
   sequential pass (frames elsewhere are decoded but never converted) and analysed:
   energy above the speech threshold (speech/energy.py) or Silero voice activity is
   speech. Parts of the source that were not analysed count as speech (fail closed).
2. Filler cuts: speech that crosses a cut's edge belongs to a kept neighbour, so the
   edge is moved back into the silence before it. A filler cut with no speech left
   wholly inside it no longer removes the filler: it is not applied and is listed as
   "kept: speech found".
3. Pauses are planned again with the speech found as anchors, so a pause next to
   speech the transcript missed (a mis-timed or untranscribed word) still keeps its
   natural length around it; a pause cut that would still touch speech is trimmed back
   to its silent part, and dropped (listed as kept) when too little remains.
4. User cuts are applied as asked, but never split a word: a time cut whose edge falls
   inside a word grows to take the whole word when most of the word is inside, else it
   shrinks to leave the word out; it then carries the indices of the words it removes.

Every automatic cut keeps `guard_seconds` of the audio between itself and any speech it
found, enough for the crossfade and the zero-crossing snap of the renderer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import av
import numpy as np
from scipy import signal

from tapeworks.errors import InvalidAudio
from tapeworks.production.audio import frame_to_float
from tapeworks.production.cleaning import JOIN_GAP_SECONDS, plan_cuts
from tapeworks.production.editlist import Cut, EditList
from tapeworks.production.settings import CleaningSettings
from tapeworks.speech.energy import (
    FRAME_SECONDS,
    SAMPLE_RATE,
    Span,
    frame_rms,
    merge_spans,
    speech_threshold,
    subtract_spans,
)
from tapeworks.transcripts.model import Transcript, Word

KEPT_SPEECH = "kept: speech found"
AUTOMATIC = ("pause", "filler")


@dataclass(frozen=True)
class VerifySettings:
    enabled: bool = True
    guard_seconds: float = 0.03  # audio kept between an automatic cut and speech
    min_cut_seconds: float = 0.1  # a trimmed pause cut shorter than this is not worth it
    context_seconds: float = 0.3  # audio analysed beyond each cut (VAD context, noise)
    vad: bool = True  # Silero voice activity besides energy
    energy_bridge_seconds: float = 0.05
    vad_min_silence_ms: int = 100


# ---------------------------------------------------------------- analysis


@dataclass(frozen=True)
class SourceSpeech:
    """Where the source holds speech, within the zones that were analysed."""

    zones: tuple[Span, ...]  # sorted, disjoint
    speech: tuple[Span, ...]  # sorted, merged
    threshold: float = 0.0

    def covered(self, a: float, b: float) -> bool:
        return any(z0 <= a + 1e-9 and b <= z1 + 1e-9 for z0, z1 in self.zones)

    def overlapping(self, a: float, b: float) -> list[Span]:
        """Speech spans touching [a, b); an unanalysed part counts as speech."""
        found = [(s, e) for s, e in self.speech if s < b and e > a]
        for gap in subtract_spans((a, b), self.zones):
            if gap[1] - gap[0] > 1e-6:
                found.append(gap)
        return merge_spans(found)

    @property
    def analysed_seconds(self) -> float:
        return sum(b - a for a, b in self.zones)


def _zones(cuts: Sequence[Cut], duration: float, context: float) -> list[Span]:
    spans = [(max(0.0, c.start - context), min(duration, c.end + context)) for c in cuts]
    return merge_spans(spans, gap=2 * context)


def decode_excerpts(path: Path, zones: Sequence[Span]) -> Iterator[tuple[float, np.ndarray, int]]:
    """(start seconds, mono float32 samples, rate) of each zone, at the source's own rate.

    One sequential pass (so positions count samples exactly as the renderer's decoder
    does); frames outside every zone are decoded but never converted.
    """
    if not zones:
        return
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise InvalidAudio(f"{path.name} is not a readable audio file") from exc
    with container:
        if not container.streams.audio:
            raise InvalidAudio(f"{path.name} has no audio stream")
        stream = container.streams.audio[0]
        rate = int(stream.rate)
        position = 0
        k = 0
        parts: list[np.ndarray] = []
        first = 0
        try:
            for frame in container.decode(stream):
                n = frame.samples
                lo, hi = position, position + n
                position = hi
                while k < len(zones):
                    z0, z1 = round(zones[k][0] * rate), round(zones[k][1] * rate)
                    if lo >= z1:  # this zone is complete
                        yield _excerpt(zones[k][0], parts, first, z0, z1, rate)
                        parts, k = [], k + 1
                        continue
                    if hi > z0:
                        if not parts:
                            first = lo
                        parts.append(frame_to_float(frame).mean(axis=0))
                    break
                if k >= len(zones):
                    break
        except av.FFmpegError as exc:
            raise InvalidAudio(f"{path.name} could not be decoded: it is damaged") from exc
        for zone in zones[k:]:  # zones reaching the end of the audio
            z0, z1 = round(zone[0] * rate), round(zone[1] * rate)
            yield _excerpt(zone[0], parts, first, z0, z1, rate)
            parts = []


def _excerpt(start: float, parts: list[np.ndarray], first: int, z0: int, z1: int,
             rate: int) -> tuple[float, np.ndarray, int]:
    data = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    a = max(0, z0 - first)
    return start, data[a : a + (z1 - z0)].astype(np.float32, copy=False), rate


def _to_speech_rate(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return samples
    g = math.gcd(SAMPLE_RATE, rate)
    return signal.resample_poly(samples, SAMPLE_RATE // g, rate // g).astype(np.float32)


def _vad_spans(samples16: np.ndarray, start: float, settings: VerifySettings) -> list[Span]:
    from tapeworks.speech.vad import SileroVad

    vad = SileroVad(min_silence_ms=settings.vad_min_silence_ms)
    return [(r.start, r.end) for r in vad.detect(samples16, start)]


def analyse_source(
    path: Path, cuts: Sequence[Cut], duration: float, settings: VerifySettings | None = None
) -> SourceSpeech:
    """Speech in the source around `cuts` (voice activity and energy)."""
    settings = settings or VerifySettings()
    zones = _zones(cuts, duration, settings.context_seconds)
    envelopes: list[tuple[float, np.ndarray, float]] = []
    vad: list[Span] = []
    for start, samples, rate in decode_excerpts(path, zones):
        frame = max(1, round(rate * FRAME_SECONDS))
        envelopes.append((start, frame_rms(samples, frame), frame / rate))
        if settings.vad and len(samples):
            vad += _vad_spans(_to_speech_rate(samples, rate), start, settings)
    all_rms = np.concatenate([e for _, e, _ in envelopes]) if envelopes else np.zeros(0)
    threshold = speech_threshold(all_rms)
    loud: list[Span] = []
    for start, rms, step in envelopes:
        flags = np.concatenate(([0], (rms > threshold).astype(np.int8), [0]))
        edges = np.flatnonzero(np.diff(flags))
        loud += [(start + s * step, start + e * step) for s, e in zip(edges[::2], edges[1::2], strict=True)]
    speech = merge_spans(merge_spans(loud, settings.energy_bridge_seconds) + vad)
    return SourceSpeech(tuple(zones), tuple(speech), threshold)


# ---------------------------------------------------------------- the checks


def _check_filler(cut: Cut, speech: SourceSpeech, guard: float) -> Cut:
    a, b = cut.start, cut.end
    for s, e in speech.overlapping(a - guard, b + guard):
        if s < a + guard:  # continues into the cut from the kept audio before it
            a = max(a, e + guard)
        if e > b - guard:  # continues out of the cut into the kept audio after it
            b = min(b, s - guard)
    inside = [(s, e) for s, e in speech.overlapping(a, b) if s >= a and e <= b]
    if b <= a or not inside:
        return replace(cut, applied=False, reason=f"{KEPT_SPEECH} ({cut.reason})")
    if (a, b) != (cut.start, cut.end):
        return replace(cut, start=a, end=b, planned=(cut.start, cut.end))
    return cut


def _check_pause(cut: Cut, speech: SourceSpeech, s: VerifySettings) -> list[Cut]:
    holes = [(a - s.guard_seconds, b + s.guard_seconds) for a, b in speech.overlapping(cut.start, cut.end)]
    if not holes:
        return [cut]
    pieces = [p for p in subtract_spans((cut.start, cut.end), holes) if p[1] - p[0] >= s.min_cut_seconds]
    if not pieces:
        return [replace(cut, applied=False, reason=f"{KEPT_SPEECH} ({cut.reason})")]
    return [
        replace(cut, start=a, end=b, planned=(cut.start, cut.end),
                id=cut.id if len(pieces) == 1 else f"{cut.id}.{n + 1}")
        for n, (a, b) in enumerate(pieces)
    ]


def _word_safe(cut: Cut, words: Sequence[Word]) -> Cut:
    """A user time cut that never splits a word, carrying the indices it removes."""
    a, b = cut.start, cut.end
    for w in words:
        if w.end <= a or w.start >= b or w.end <= w.start:
            continue
        inside = min(w.end, b) - max(w.start, a)
        keep_out = inside < 0.5 * (w.end - w.start)
        if w.start < a:
            a = w.end if keep_out else w.start
        if w.end > b:
            b = w.start if keep_out else w.end
    if b <= a:
        return replace(cut, start=cut.start, end=cut.start)
    removed = tuple(i for i, w in enumerate(words) if w.start >= a - 1e-9 and w.end <= b + 1e-9)
    return replace(cut, start=a, end=b, word_indices=tuple(sorted(set(cut.word_indices) | set(removed))),
                   planned=(cut.start, cut.end) if (a, b) != (cut.start, cut.end) else None)


@dataclass(frozen=True)
class Verified:
    edit_list: EditList
    speech: SourceSpeech | None
    planned: tuple[Cut, ...]  # the cuts the words alone asked for


def verified_edit_list(
    source: Path,
    transcript: Transcript,
    duration: float,
    speech_regions: Sequence[tuple[float, float]] | None = None,
    settings: CleaningSettings | None = None,
    verify: VerifySettings | None = None,
) -> Verified:
    """The edit list to render: planned from the words, checked against the audio."""
    settings = settings or CleaningSettings()
    verify = verify or VerifySettings()
    planned = plan_cuts(transcript, duration, speech_regions, settings)
    if not verify.enabled:
        return Verified(EditList.build(duration, planned, join_gap=JOIN_GAP_SECONDS), None, tuple(planned))
    speech = analyse_source(source, planned, duration, verify)
    words = transcript.words()
    g = verify.guard_seconds

    fillers = [_check_filler(c, speech, g) for c in planned if c.kind == "filler"]
    refused = {i for c in fillers if not c.applied for i in c.word_indices}
    found = list(speech.speech)
    regions = [*(speech_regions or ()), *found]
    replanned = plan_cuts(transcript, duration, regions, settings, keep_words=refused)

    cuts: list[Cut] = []
    kept: list[Cut] = [c for c in fillers if not c.applied]
    for c in replanned:
        if c.kind == "filler":
            checked = _check_filler(c, speech, g)
            (cuts if checked.applied else kept).append(checked)
        elif c.kind == "pause":
            for piece in _check_pause(c, speech, verify):
                (cuts if piece.applied else kept).append(piece)
        else:
            piece = _word_safe(c, words) if not c.word_indices else c
            if piece.end > piece.start:
                cuts.append(piece)
    kept += _dropped_pauses(planned, cuts, kept)
    return Verified(EditList.build(duration, cuts, join_gap=JOIN_GAP_SECONDS,
                                   kept=_unique(kept)), speech, tuple(planned))


def _dropped_pauses(planned: Sequence[Cut], cuts: Sequence[Cut], kept: Sequence[Cut]) -> list[Cut]:
    """Planned pause cuts the speech found made vanish entirely (no applied or kept cut
    left in their span): listed as kept, so the user sees the check refused them."""
    out = []
    for p in planned:
        if p.kind != "pause":
            continue
        if any(c.start < p.end and c.end > p.start for c in [*cuts, *kept]):
            continue
        out.append(replace(p, applied=False, reason=f"{KEPT_SPEECH} ({p.reason})"))
    return out


def _unique(cuts: Sequence[Cut]) -> list[Cut]:
    seen: dict[tuple[str, float, float], Cut] = {}
    for c in cuts:
        seen.setdefault((c.id, c.start, c.end), c)
    return list(seen.values())
