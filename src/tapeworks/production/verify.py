"""Check cuts against the source audio before they are applied (DESIGN rule 12, issue 11).

Word timings drive the edit, but the audio has the last word. Automatic cuts (pauses,
fillers) are planned from the words (production/cleaning.py) and then checked here
against the voice activity and the short-time energy of the SOURCE audio:

1. The audio around every planned cut (plus `context_seconds`) is decoded in one
   sequential pass (frames elsewhere are decoded but never converted) to 16 kHz mono
   and analysed: a 10 ms frame is speech when its energy is above the speech threshold
   (audio/energy.py), or when Silero finds voice activity there and the energy is above
   the quiet threshold. Parts of the source not analysed count as speech (fail closed).
2. Filler cuts: speech that crosses a cut's edge belongs to a kept neighbour, so the
   edge is moved back into the silence before it; speech inside the cut away from the
   fillers' own timings (a mis-timed word between two fillers) is left in place, the cut
   split around it. A filler cut with none of the fillers' sound left in it no longer
   removes a filler: it is not applied and is listed as "kept: speech found".
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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from tapeworks.audio.decode import decode_excerpts, excerpts_seekable, prefetched
from tapeworks.audio.energy import (
    FRAME_SECONDS,
    QUIET_ABOVE_FLOOR,
    QUIET_ABSOLUTE,
    SAMPLE_RATE,
    Span,
    frame_rms,
    levels,
    merge_spans,
    quiet_threshold,
    speech_threshold,
    subtract_spans,
)
from tapeworks.production.cleaning import JOIN_GAP_SECONDS, plan_cuts
from tapeworks.production.editlist import Cut, EditList
from tapeworks.production.settings import CleaningSettings
from tapeworks.transcripts.model import Transcript, Word

KEPT_SPEECH = "kept: speech found"
FRAME = round(SAMPLE_RATE * FRAME_SECONDS)
AUTOMATIC = ("pause", "filler")


@dataclass(frozen=True)
class VerifySettings:
    enabled: bool = True
    guard_seconds: float = 0.03  # audio kept between an automatic cut and speech
    min_cut_seconds: float = 0.1  # a trimmed pause cut shorter than this is not worth it
    context_seconds: float = 0.3  # audio analysed beyond each cut (VAD context, noise)
    vad: bool = True  # Silero voice activity besides energy
    bridge_seconds: float = 0.02  # speech this close together is one span
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


_ZONE_GROUP = 16  # zones analysed per task when the file can be read at any position
_WORKERS = 2
MAX_EXCERPT_SECONDS = 30.0  # longer zones are analysed in pieces (memory, rule 11)


def _zones(cuts: Sequence[Cut], duration: float, context: float) -> list[Span]:
    spans = [(max(0.0, c.start - context), min(duration, c.end + context)) for c in cuts]
    pieces: list[Span] = []
    for a, b in merge_spans(spans, gap=2 * context):
        n = max(1, math.ceil((b - a) / MAX_EXCERPT_SECONDS))
        pieces += [(a + (b - a) * k / n, a + (b - a) * (k + 1) / n) for k in range(n)]
    return pieces


def _vad_spans(samples: np.ndarray, start: float, settings: VerifySettings) -> list[Span]:
    """Silero voice activity, run only where the excerpt is above its own floor (plus
    context): over deep silence it could only find what the energy rules out anyway."""
    from tapeworks.audio.vad import SileroVad

    rms = frame_rms(samples, FRAME)
    floor, _ = levels(rms)
    live = rms > max(QUIET_ABSOLUTE, floor * QUIET_ABOVE_FLOOR)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], live.astype(np.int8), [0]))))
    ctx = settings.context_seconds
    wanted = merge_spans(
        [
            (max(0.0, s * FRAME_SECONDS - ctx), e * FRAME_SECONDS + ctx)
            for s, e in zip(edges[::2], edges[1::2], strict=True)
        ]
    )
    vad = SileroVad(min_silence_ms=settings.vad_min_silence_ms)
    out: list[Span] = []
    for a, b in wanted:
        i, j = round(a * SAMPLE_RATE), round(b * SAMPLE_RATE)
        out += [(r.start, r.end) for r in vad.detect(samples[i:j], start + i / SAMPLE_RATE)]
    return out


def analyse_source(
    path: Path, cuts: Sequence[Cut], duration: float, settings: VerifySettings | None = None
) -> SourceSpeech:
    """Speech in the source around `cuts`: frames louder than the speech threshold, and
    frames inside voice activity that are louder than the quiet threshold."""
    settings = settings or VerifySettings()
    zones = _zones(cuts, duration, settings.context_seconds)

    def analysed(group: list[Span]) -> list[tuple[float, np.ndarray, list[Span]]]:
        out = []
        for start, samples in prefetched(decode_excerpts(path, group)):  # beside the VAD
            vad = _vad_spans(samples, start, settings) if settings.vad and len(samples) else []
            out.append((start, frame_rms(samples, FRAME), vad))
        return out

    # A file read at exact positions is analysed in groups of zones on both cores (the
    # reading, resampling and Silero run without the interpreter lock); any other is
    # decoded in one pass from its start.
    size = _ZONE_GROUP if excerpts_seekable(path) else max(1, len(zones))
    groups = [zones[i : i + size] for i in range(0, len(zones), size)]
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="tapeworks-verify") as pool:
        excerpts = [e for part in pool.map(analysed, groups) for e in part]
    all_rms = np.concatenate([e[1] for e in excerpts]) if excerpts else np.zeros(0, np.float32)
    loud_level, quiet_level = speech_threshold(all_rms), quiet_threshold(all_rms)
    found: list[Span] = []
    step = FRAME_SECONDS
    for start, rms, vad in excerpts:
        voiced = rms > loud_level
        if vad:
            active = np.zeros(len(rms), bool)
            for a, b in vad:
                active[
                    max(0, int((a - start) / step)) : max(0, int(np.ceil((b - start) / step)))
                ] = True
            voiced |= active & (rms > quiet_level)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], voiced.astype(np.int8), [0]))))
        found += [
            (start + s * step, start + e * step)
            for s, e in zip(edges[::2], edges[1::2], strict=True)
        ]
    speech = merge_spans(found, settings.bridge_seconds)
    return SourceSpeech(tuple(zones), tuple(speech), loud_level)


# ---------------------------------------------------------------- the checks


def _check_filler(cut: Cut, speech: SourceSpeech, guard: float, words: Sequence[Word]) -> list[Cut]:
    """The filler cut shrunk to leave kept speech alone: out of speech that crosses its
    edges, around speech inside it that is not where the fillers are (a mis-timed word
    between two fillers); refused when none of the fillers' own sound is left in it."""
    a, b = cut.start, cut.end
    for s, e in speech.overlapping(a - guard, b + guard):
        if s < cut.start:  # kept audio before the cut: stay `guard` clear of it
            a = max(a, e + guard)
        if e > cut.end:  # kept audio after the cut
            b = min(b, s - guard)
    own = [
        (words[i].start - guard, words[i].end + guard) for i in cut.word_indices if i < len(words)
    ]

    def is_filler(span: Span) -> bool:  # mostly where a filler was timed
        inside = sum(max(0.0, min(span[1], w1) - max(span[0], w0)) for w0, w1 in own)
        return inside >= 0.5 * (span[1] - span[0])

    tol = FRAME_SECONDS  # spans are whole 10 ms frames: a filler may end in the last one
    inside = [sp for sp in speech.overlapping(a, b) if sp[0] >= a - tol and sp[1] <= b + tol]
    foreign = [(s - guard, e + guard) for s, e in inside if not is_filler((s, e))]
    pieces = [p for p in subtract_spans((a, b), foreign) if p[1] > p[0]] if b > a else []
    pieces = [
        p
        for p in pieces
        if any(p[0] - tol <= s and e <= p[1] + tol and is_filler((s, e)) for s, e in inside)
    ]
    if not pieces:
        return [replace(cut, applied=False, reason=f"{KEPT_SPEECH} ({cut.reason})")]
    if pieces == [(cut.start, cut.end)]:
        return [cut]
    return [
        replace(
            cut,
            start=p0,
            end=p1,
            planned=(cut.start, cut.end),
            id=cut.id if len(pieces) == 1 else f"{cut.id}.{n + 1}",
        )
        for n, (p0, p1) in enumerate(pieces)
    ]


def _check_pause(cut: Cut, speech: SourceSpeech, s: VerifySettings) -> list[Cut]:
    holes = [
        (a - s.guard_seconds, b + s.guard_seconds)
        for a, b in speech.overlapping(cut.start, cut.end)
    ]
    if not holes:
        return [cut]
    pieces = [
        p for p in subtract_spans((cut.start, cut.end), holes) if p[1] - p[0] >= s.min_cut_seconds
    ]
    if not pieces:
        return [replace(cut, applied=False, reason=f"{KEPT_SPEECH} ({cut.reason})")]
    return [
        replace(
            cut,
            start=a,
            end=b,
            planned=(cut.start, cut.end),
            id=cut.id if len(pieces) == 1 else f"{cut.id}.{n + 1}",
        )
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
    return replace(
        cut,
        start=a,
        end=b,
        word_indices=tuple(sorted(set(cut.word_indices) | set(removed))),
        planned=(cut.start, cut.end) if (a, b) != (cut.start, cut.end) else None,
    )


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
        return Verified(
            EditList.build(duration, planned, join_gap=JOIN_GAP_SECONDS), None, tuple(planned)
        )
    speech = analyse_source(source, planned, duration, verify)
    words = transcript.words()
    g = verify.guard_seconds

    fillers = [p for c in planned if c.kind == "filler" for p in _check_filler(c, speech, g, words)]
    refused = {i for c in fillers if not c.applied for i in c.word_indices}
    found = list(speech.speech)
    regions = [*(speech_regions or ()), *found]
    replanned = plan_cuts(transcript, duration, regions, settings, keep_words=refused)

    cuts: list[Cut] = []
    kept: list[Cut] = [c for c in fillers if not c.applied]
    for c in replanned:
        if c.kind == "filler":
            for checked in _check_filler(c, speech, g, words):
                (cuts if checked.applied else kept).append(checked)
        elif c.kind == "pause":
            for piece in _check_pause(c, speech, verify):
                (cuts if piece.applied else kept).append(piece)
        else:
            piece = _word_safe(c, words) if not c.word_indices else c
            if piece.end > piece.start:
                cuts.append(piece)
    kept += _dropped_pauses(planned, cuts, kept)
    return Verified(
        EditList.build(duration, cuts, join_gap=JOIN_GAP_SECONDS, kept=_unique(kept)),
        speech,
        tuple(planned),
    )


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
