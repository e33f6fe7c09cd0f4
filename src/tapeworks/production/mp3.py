"""MP3 encoding beside the render: LAME on the other cores, while the render chain runs.

LAME is the most expensive stage of a render. Two ways, both with the LAME that lameenc
ships (about four times faster per core than the one inside PyAV's wheels):

1. Segments on encoder threads (when lameenc exports LAME's C API, see lame.py): the
   stream is cut at MP3 frame boundaries into segments of `SEGMENT_FRAMES` frames; each
   is encoded by a fresh reservoir-less encoder on one of `threads` threads (LAME runs
   without the interpreter lock), fed `PREROLL_FRAMES` frames of the audio before the
   segment and `LOOKAHEAD` samples after it; only the segment's own frames are kept,
   joined in order. With the bit reservoir off no frame borrows bits from the frame
   before it, and every encoder's frame grid starts at a multiple of 1152 samples of the
   stream, so the joined stream decodes like one reservoir-less encode (the tests compare
   them around every join). At 128 kbit/s CBR the reservoir buys little for speech.
   Memory: at most `threads + 1` segments in flight (3.7 MB each for 10.4 s of stereo).
2. Otherwise one encoder process (`mp3_worker.py`, run as a script) fed the rendered
   blocks through a pipe as float32 (its small buffer is the back-pressure), writing the
   file itself. A stream shorter than `INLINE_SECONDS` is encoded in this process.

Either way the frames are muxed with the Xing/LAME header (encoder delay and end padding)
so the file decodes to exactly the samples sent. A failure makes the encode fail with
its message.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

import numpy as np

from tapeworks.audio.decode import Block
from tapeworks.production import lame
from tapeworks.production.lame import FRAME, LameError
from tapeworks.production.mp3_worker import BLOCK, RESPONSE, START, Mp3Muxer, Mp3Writer

INLINE_SECONDS = 10.0
SEGMENT_FRAMES = 400  # ~10.4 s at 44.1 kHz
PREROLL_FRAMES = 2
LOOKAHEAD = 2 * FRAME
THREADS = 2
_SEGMENT_RATES = (32000, 44100, 48000)  # MPEG-1: 1152-sample frames
WORKER_SCRIPT = Path(__file__).with_name("mp3_worker.py")
# The largest peak RSS (KiB) of an encoder process seen so far in this process (for the
# benchmarks: the encoder's memory does not depend on the length of the episode).
last_worker_peak_kib = 0


class EncoderFailed(RuntimeError):
    pass


class _Worker:
    def __init__(self, path: Path, rate: int, channels: int, bitrate: int, quality: int) -> None:
        self.channels = channels
        self.proc = subprocess.Popen(
            [sys.executable, "-s", str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        raw = str(path).encode()
        self._write(START.pack(rate, channels, bitrate, quality, len(raw)) + raw)

    def _write(self, data: bytes | memoryview) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError:
            self._fail()

    def send(self, block: Block) -> None:
        self._write(BLOCK.pack(block.shape[1]))
        self._write(np.ascontiguousarray(block, dtype="<f4").data.cast("B"))

    def finish(self) -> int:
        self._write(BLOCK.pack(0))
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.flush()
        return self._answer()

    def _answer(self) -> int:
        assert self.proc.stdout is not None
        head = _read(self.proc.stdout, RESPONSE.size)
        status, value = RESPONSE.unpack(head)
        if status == b"E":
            raise EncoderFailed(_read(self.proc.stdout, value).decode("utf-8", "replace"))
        return int(value)

    def _fail(self) -> None:
        try:
            self._answer()
        except EncoderFailed:
            raise
        raise EncoderFailed(f"the MP3 encoder process stopped (exit {self.proc.poll()})")

    def peak_rss_kib(self) -> int:
        """VmHWM of the worker process while it runs (0 if it is gone)."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        return next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0
        )

    def close(self) -> None:
        global last_worker_peak_kib
        last_worker_peak_kib = max(last_worker_peak_kib, self.peak_rss_kib())
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _read(stream: IO[bytes], n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            raise EncoderFailed("the MP3 encoder process stopped before answering")
        data += chunk
    return bytes(data)


class _Segmenter:
    """Cuts a block stream into overlapping segment jobs at frame boundaries."""

    def __init__(self, channels: int, segment_frames: int, preroll_frames: int) -> None:
        self.channels = channels
        self.segment = segment_frames * FRAME
        self.preroll = preroll_frames * FRAME
        self._parts: list[Block] = []
        self._len = 0
        self.buffer_start = 0  # stream sample index of the buffer's first sample
        self.next_start = 0  # stream sample where the next segment's kept audio starts
        self.samples = 0

    def add(self, block: Block) -> None:
        if block.shape[1]:
            self._parts.append(block)
            self._len += block.shape[1]
            self.samples += block.shape[1]

    def _buffer(self) -> np.ndarray:
        if len(self._parts) != 1:
            self._parts = [
                np.concatenate(self._parts, axis=1)
                if self._parts
                else np.zeros((self.channels, 0), np.float32)
            ]
        return self._parts[0]

    def ready(self) -> bool:
        return self.buffer_start + self._len >= self.next_start + self.segment + LOOKAHEAD

    def take(self, final: bool) -> tuple[np.ndarray, int, int | None]:
        """(samples, frames to skip, frames to keep or None for all)."""
        buf = self._buffer()
        begin = max(0, self.next_start - self.preroll)
        skip = (self.next_start - begin) // FRAME
        lo = begin - self.buffer_start
        if final:
            return buf[:, lo:], skip, None
        chunk = buf[:, lo : lo + (self.next_start - begin) + self.segment + LOOKAHEAD]
        self.next_start += self.segment
        drop = max(0, self.next_start - self.preroll - self.buffer_start)
        self._parts = [buf[:, drop:]]
        self._len = buf.shape[1] - drop
        self.buffer_start += drop
        return chunk, skip, self.segment // FRAME


def _segment(
    samples: np.ndarray, skip: int, keep: int | None, rate: int, bitrate: int, quality: int
) -> list[bytes]:
    frames = lame.encode_frames(samples, rate=rate, bitrate=bitrate, quality=quality)
    return frames[skip:] if keep is None else frames[skip : skip + keep]


def encode_mp3_segments(
    blocks: Iterable[Block],
    path: Path,
    *,
    rate: int,
    channels: int,
    bitrate: int = 128000,
    quality: int = 7,
    threads: int = THREADS,
    segment_frames: int = SEGMENT_FRAMES,
    preroll_frames: int = PREROLL_FRAMES,
) -> int:
    """Encode a block stream into an MP3 file at `path` in segments on encoder threads;
    returns the samples encoded."""
    seg = _Segmenter(channels, segment_frames, preroll_frames)
    try:
        muxer = Mp3Muxer(str(path), rate=rate, channels=channels, bitrate=bitrate)
    except (ValueError, RuntimeError) as exc:
        raise EncoderFailed(f"{type(exc).__name__}: {exc}") from exc
    inflight: deque[Future[list[bytes]]] = deque()
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="tapeworks-lame")
    try:
        for block in blocks:
            seg.add(block)
            while seg.ready():
                chunk, skip, keep = seg.take(final=False)
                while len(inflight) > threads:
                    muxer.add(inflight.popleft().result())
                inflight.append(pool.submit(_segment, chunk, skip, keep, rate, bitrate, quality))
        while inflight:
            muxer.add(inflight.popleft().result())
        if seg.samples:
            chunk, skip, keep = seg.take(final=True)
            muxer.add(_segment(chunk, skip, keep, rate, bitrate, quality))
    except LameError as exc:
        muxer.abort()
        raise EncoderFailed(str(exc)) from exc
    except BaseException:
        muxer.abort()
        raise
    finally:
        for f in inflight:
            f.cancel()
        pool.shutdown(wait=True)
    muxer.close(seg.samples)
    return seg.samples


def encode_mp3(
    blocks: Iterable[Block],
    path: Path,
    *,
    rate: int,
    channels: int,
    bitrate: int = 128000,
    quality: int = 7,
    inline_seconds: float = INLINE_SECONDS,
) -> int:
    """Encode a block stream into a CBR MP3 file at `path`; returns the samples encoded."""
    if lame.available() and rate in _SEGMENT_RATES and channels in (1, 2) and bitrate > 0:
        return encode_mp3_segments(
            blocks, path, rate=rate, channels=channels, bitrate=bitrate, quality=quality
        )
    return encode_mp3_process(
        blocks,
        path,
        rate=rate,
        channels=channels,
        bitrate=bitrate,
        quality=quality,
        inline_seconds=inline_seconds,
    )


def encode_mp3_process(
    blocks: Iterable[Block],
    path: Path,
    *,
    rate: int,
    channels: int,
    bitrate: int = 128000,
    quality: int = 7,
    inline_seconds: float = INLINE_SECONDS,
) -> int:
    """Encode with lameenc's encoder: in this process when short, else on one encoder
    process; returns the samples encoded."""
    it = iter(blocks)
    head: list[Block] = []
    buffered = 0
    for block in it:
        if block.shape[1]:
            head.append(block)
            buffered += block.shape[1]
        if buffered >= inline_seconds * rate:
            break
    else:  # short: encoded here
        try:
            writer = Mp3Writer(
                str(path), rate=rate, channels=channels, bitrate=bitrate, quality=quality
            )
        except (ValueError, RuntimeError) as exc:
            raise EncoderFailed(f"{type(exc).__name__}: {exc}") from exc
        try:
            for block in head:
                writer.add(block)
        except BaseException as exc:
            writer.abort()
            if isinstance(exc, (ValueError, RuntimeError)):
                raise EncoderFailed(f"{type(exc).__name__}: {exc}") from exc
            raise
        try:
            return writer.close()
        except (ValueError, RuntimeError) as exc:
            raise EncoderFailed(f"{type(exc).__name__}: {exc}") from exc

    worker = _Worker(path, rate, channels, bitrate, quality)
    try:
        for block in head:
            worker.send(block)
        head.clear()
        for block in it:
            if block.shape[1]:
                worker.send(block)
        return worker.finish()
    finally:
        worker.close()
