"""Apply an edit list to a block stream: the cut stage of the streaming chain.

Episode sample `n` is source sample `n + removed-before-n`: the output is exactly the
concatenation of the kept ranges, so word timings map without drift. Each join is an
equal-power crossfade of `2h` samples centred on the join: the tail of the audio
before the cut fades out over [a-h, a+h) while the audio before the cut's end fades in
over [b-h, b+h). Source samples further than `h` from a join are copied untouched
(bit-identical). Cut boundaries can first be moved by at most `snap` samples to the
nearest zero crossing; the moved boundaries are recorded, and the edit list built
from them is the one the words are re-timed with (DESIGN rule 12).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

import numpy as np

from tapeworks.audio.decode import Block, BlockReader
from tapeworks.production.editlist import EditList


class EditRenderer:
    def __init__(
        self,
        edit_list: EditList,
        rate: int,
        channels: int,
        *,
        block_samples: int,
        crossfade_seconds: float = 0.010,
        snap_seconds: float = 0.0,
    ) -> None:
        self.edit_list = edit_list
        self.rate = rate
        self.channels = channels
        self.block_samples = block_samples
        self.half_fade = max(0, round(crossfade_seconds * rate / 2))
        self.snap = max(0, round(snap_seconds * rate))
        self._cut_index: list[int] = []
        self._cuts: list[tuple[int, int]] = []
        for i, cut in enumerate(edit_list.cuts):
            a, b = round(cut.start * rate), round(cut.end * rate)
            if b > a:
                self._cut_index.append(i)
                self._cuts.append((a, b))
        self.snapped: list[tuple[int, int]] = []
        self.max_buffered = 0
        self.samples_out = 0

    def snapped_edit_list(self) -> EditList:
        """The edit list with the boundaries actually used (valid after `render` finished)."""
        cuts = [
            replace(self.edit_list.cuts[i], start=a / self.rate, end=b / self.rate)
            for i, (a, b) in zip(self._cut_index, self.snapped, strict=True)
            if b > a
        ]
        # A cut reaching the end of a source whose duration is not a whole number of
        # samples at this rate ends up to half a sample past it: clip, never fail.
        return EditList.build(self.edit_list.source_duration, cuts, kept=self.edit_list.kept)

    def render(self, blocks: Iterable[Block]) -> Iterator[Block]:
        reader = BlockReader(blocks, self.channels)
        try:
            yield from self._render(reader)
        finally:
            self.max_buffered = reader.max_buffered

    def _copy_until(self, reader: BlockReader, target: int) -> Iterator[Block]:
        while reader.position < target:
            block = reader.read_some(min(self.block_samples, target - reader.position))
            if block.shape[1] == 0:
                return
            self.samples_out += block.shape[1]
            yield block

    def _render(self, reader: BlockReader) -> Iterator[Block]:
        H, W = self.half_fade, self.snap
        end = round(self.edit_list.source_duration * self.rate)
        kept_start = 0
        self.snapped = []
        for idx, (a, b) in enumerate(self._cuts):
            next_a = self._cuts[idx + 1][0] if idx + 1 < len(self._cuts) else None
            room_after = (next_a - b - 2 * W) // 2 if next_a is not None else H
            if a == 0:
                yield from self._cut_at_start(reader, b, min(H, room_after), next_a)
            elif b >= end:
                yield from self._cut_at_end(reader, a, min(H, (a - kept_start) // 2), b)
                return
            else:
                yield from self._cut_between(reader, a, b, kept_start, room_after, next_a)
            kept_start = self.snapped[-1][1]
        yield from self._copy_until(reader, np.iinfo(np.int64).max)

    def _cut_between(
        self, reader: BlockReader, a: int, b: int, kept_start: int, room_after: int, next_a: int | None
    ) -> Iterator[Block]:
        H, W = self.half_fade, self.snap
        yield from self._copy_until(reader, a - W - H)
        if reader.position <= a - W - H:
            a = self._snap(reader, a)
        a = max(a, reader.position)
        h = max(0, min(H, (a - kept_start) // 2, (b - a - 2 * W) // 2, room_after))
        h = min(h, max(0, a - reader.position))  # never re-read audio already sent out
        yield from self._copy_until(reader, a - h)
        tail = reader.read(a + h - reader.position)
        b = self._snap_end(reader, b, next_a)
        reader.skip(b - h - reader.position)
        head = reader.read(2 * h)
        self.snapped.append((a, b))
        join = _crossfade(tail, head, self.channels)
        if join.shape[1]:
            self.samples_out += join.shape[1]
            yield join

    def _cut_at_start(
        self, reader: BlockReader, b: int, h: int, next_a: int | None
    ) -> Iterator[Block]:
        b = self._snap_end(reader, b, next_a)
        reader.skip(b - reader.position)
        self.snapped.append((0, b))
        head = reader.read(2 * max(h, 0))
        if head.shape[1]:
            self.samples_out += head.shape[1]
            yield head * _fade_curves(head.shape[1])[1]

    def _cut_at_end(self, reader: BlockReader, a: int, h: int, b: int) -> Iterator[Block]:
        h = max(h, 0)
        yield from self._copy_until(reader, a - 2 * h)
        tail = reader.read(a - reader.position)
        self.snapped.append((a, b))
        if tail.shape[1]:
            self.samples_out += tail.shape[1]
            yield tail * _fade_curves(tail.shape[1])[0]
        reader.skip(np.iinfo(np.int64).max)

    def _snap_end(self, reader: BlockReader, b: int, next_a: int | None) -> int:
        W, H = self.snap, self.half_fade
        reader.skip(b - W - H - reader.position)
        if reader.position == b - W - H and (next_a is None or next_a - b > 2 * (W + H)):
            return self._snap(reader, b)
        return b

    def _snap(self, reader: BlockReader, t: int) -> int:
        """Move sample index `t` to the nearest zero crossing within +-snap samples."""
        W = self.snap
        if W == 0:
            return t
        window_start = t - W
        offset = window_start - reader.position
        if offset < 0:
            return t
        ahead = reader.peek(offset + 2 * W + 1)[:, offset:]
        if ahead.shape[1] < 2 * W + 1:
            return t
        mono = ahead.mean(axis=0)
        crossings = np.nonzero(np.signbit(mono[1:]) != np.signbit(mono[:-1]))[0] + 1
        if crossings.size == 0:
            return t
        # take the sample nearer to zero of each crossing pair
        pick = np.where(np.abs(mono[crossings - 1]) < np.abs(mono[crossings]), crossings - 1, crossings)
        best = pick[np.argmin(np.abs(pick - W))]
        return window_start + int(best)


def _fade_curves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-power fade-out and fade-in curves of `n` samples (cos^2 + sin^2 = 1)."""
    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return np.cos(0.5 * np.pi * t).astype(np.float32), np.sin(0.5 * np.pi * t).astype(np.float32)


def _crossfade(tail: Block, head: Block, channels: int) -> Block:
    n = max(tail.shape[1], head.shape[1])
    fade_out, fade_in = _fade_curves(n)
    out = np.zeros((channels, n), np.float32)
    out[:, : tail.shape[1]] += tail * fade_out[: tail.shape[1]]
    out[:, : head.shape[1]] += head * fade_in[: head.shape[1]]
    return out


def apply_edits(
    blocks: Iterable[Block],
    edit_list: EditList,
    rate: int,
    channels: int,
    *,
    block_samples: int,
    crossfade_seconds: float = 0.010,
) -> Iterator[Block]:
    """Cut stage without snapping (boundaries used as given)."""
    renderer = EditRenderer(
        edit_list, rate, channels, block_samples=block_samples, crossfade_seconds=crossfade_seconds
    )
    return renderer.render(blocks)
