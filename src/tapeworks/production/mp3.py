"""MP3 encoding beside the render: one LAME encoder process fed the rendered blocks.

LAME is the most expensive stage of a render. The render chain runs in this process
and the encoder in another (`mp3_worker.py`, run as a script: PyAV, numpy and lameenc
only), so the two use two cores and never share an interpreter lock. The blocks go to
it through a pipe as float32; the pipe's small buffer is the back-pressure, so memory
stays a few blocks whatever the length. The worker writes the file (frames muxed with
the Xing/LAME header: encoder delay and end padding, so it decodes to exactly the
samples sent) and answers with the count.

A stream shorter than `INLINE_SECONDS` is encoded in this process (no process started).
A worker that fails makes the encode fail with its message.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np

from tapeworks.audio.decode import Block
from tapeworks.production.mp3_worker import BLOCK, RESPONSE, START, Mp3Writer

INLINE_SECONDS = 10.0
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
        self._write(memoryview(np.ascontiguousarray(block, dtype="<f4")).cast("B"))

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
