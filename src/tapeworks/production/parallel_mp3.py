"""MP3 encoding on several cores: independent LAME encoders on segments, joined seamlessly.

LAME is the slowest stage of a render, and an encoder *thread* in the rendering
process competes with the signal work for the interpreter lock at every 1152-sample
frame. Here the stream is cut at MP3 frame boundaries into segments of
`segment_frames` frames; each segment goes to one of `workers` encoder *processes*
(`mp3_worker.py`, run as a script: PyAV and numpy only) in turn, as a fresh encoder
that first sees `preroll_frames` frames of the audio before the segment and
`LOOKAHEAD` samples after it; only the packets of the segment itself come back, and
they are muxed in order into one MP3 stream by this process.

The bit reservoir is off (`reservoir=0`), so no frame borrows bits from the frame
before it and a frame from one encoder can follow a frame from another. Every encoder
starts its frame grid at a multiple of 1152 samples of the stream, so the joined
stream decodes like one reservoir-less encode (the tests compare them around every
join). At 128 kbit/s CBR the reservoir buys little for speech.

A stream that fits in one segment is encoded in this process (no worker started).
Memory: at most `workers` segments in flight (about 3.7 MB each for 10.4 s of stereo
float) plus one being filled, whatever the length. A worker that dies or fails makes
the encode fail with its message; workers exit when their input closes.
"""

from __future__ import annotations

import contextlib
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import IO

import av
import numpy as np

from tapeworks.audio.decode import Block
from tapeworks.production.mp3_worker import PACKET, REQUEST, RESPONSE, Packet, encode_segment

FRAME = 1152  # samples per MP3 frame (MPEG-1 Layer III)
SEGMENT_FRAMES = 400  # ~10.4 s at 44.1 kHz
PREROLL_FRAMES = 2
LOOKAHEAD = 2 * FRAME
WORKER_SCRIPT = Path(__file__).with_name("mp3_worker.py")

Packets = list[Packet]
# The largest peak RSS (KiB) of a worker process seen so far in this process (for the
# benchmarks: the workers' memory does not depend on the length of the episode).
last_worker_peak_kib = 0


class EncoderFailed(RuntimeError):
    pass


class _Worker:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-s", str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
        )

    def send(self, samples: np.ndarray, skip: int, keep: int | None, rate: int, bitrate: int,
             quality: int) -> None:
        assert self.proc.stdin is not None
        channels, n = samples.shape
        header = REQUEST.pack(channels, n, skip, -1 if keep is None else keep, rate, bitrate, quality)
        try:
            self.proc.stdin.write(header)
            self.proc.stdin.write(np.ascontiguousarray(samples, dtype="<f4").tobytes())
            self.proc.stdin.flush()
        except BrokenPipeError as exc:
            raise EncoderFailed(f"the MP3 encoder process stopped (exit {self.proc.poll()})") from exc

    def receive(self) -> Packets:
        assert self.proc.stdout is not None
        head = _read(self.proc.stdout, RESPONSE.size)
        status, count = RESPONSE.unpack(head)
        if status == b"E":
            raise EncoderFailed(_read(self.proc.stdout, count).decode("utf-8", "replace"))
        packets: Packets = []
        for _ in range(count):
            pts, duration, size, skip_size = PACKET.unpack(_read(self.proc.stdout, PACKET.size))
            data = _read(self.proc.stdout, size)
            packets.append((pts, duration, data, _read(self.proc.stdout, skip_size)))
        return packets

    def peak_rss_kib(self) -> int:
        """VmHWM of the worker process while it runs (0 if it is gone)."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return 0
        return next((int(line.split()[1]) for line in status.splitlines()
                     if line.startswith("VmHWM:")), 0)

    def close(self) -> None:
        global last_worker_peak_kib
        last_worker_peak_kib = max(last_worker_peak_kib, self.peak_rss_kib())
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _with_end_padding(packets: Packets, frames_before: int, delay: int, samples: int) -> Packets:
    """The last packet's "skip samples" end padding for the whole stream: the muxer's LAME
    tag makes a decoder return frames * 1152 - delay - padding samples, and the final
    segment's own encoder only counted its own input."""
    if not packets:
        return packets
    if frames_before == 0 and packets[0][3]:  # the whole stream is this one segment
        delay = struct.unpack_from("<I", packets[0][3])[0]
    frames = frames_before + len(packets)
    padding = max(0, frames * FRAME - delay - samples)
    start = delay if frames == 1 else 0  # a one-frame stream: its only packet has both
    pts, duration, data, _ = packets[-1]
    return [*packets[:-1], (pts, duration, data, struct.pack("<IIBB", start, padding, 0, 0))]


_template: av.Packet | None = None


def _set_skip_samples(packet: av.Packet, data: bytes) -> None:
    """Give `packet` the encoder's "skip samples" side data (PyAV copies side data from
    a packet only, so a template packet from a tiny encode supplies the object)."""
    global _template
    if _template is None:
        cc = av.CodecContext.create("libmp3lame", "w")
        assert isinstance(cc, av.AudioCodecContext)
        cc.sample_rate, cc.layout, cc.format, cc.time_base = 44100, "mono", "fltp", Fraction(1, 44100)
        cc.open()
        frame = av.AudioFrame.from_ndarray(np.zeros((1, FRAME), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 44100, 0, Fraction(1, 44100)
        made = list(cc.encode(frame)) + list(cc.encode(None))
        _template = next(p for p in made if p.has_sidedata("skip_samples"))
    side = av.packet.PacketSideData.from_packet(_template, "skip_samples")
    side.update(data)
    packet.set_sidedata(side)


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
            self._parts = [np.concatenate(self._parts, axis=1) if self._parts
                           else np.zeros((self.channels, 0), np.float32)]
        return self._parts[0]

    def ready(self) -> bool:
        return self.buffer_start + self._len >= self.next_start + self.segment + LOOKAHEAD

    def take(self, final: bool) -> tuple[np.ndarray, int, int | None, int]:
        """(samples, packets to skip, packets to keep or None, stream offset of samples)."""
        buf = self._buffer()
        begin = max(0, self.next_start - self.preroll)
        skip = (self.next_start - begin) // FRAME
        lo = begin - self.buffer_start
        if final:
            return buf[:, lo:], skip, None, begin
        chunk = buf[:, lo : lo + (self.next_start - begin) + self.segment + LOOKAHEAD]
        self.next_start += self.segment
        drop = max(0, self.next_start - self.preroll - self.buffer_start)
        self._parts = [buf[:, drop:]]
        self._len = buf.shape[1] - drop
        self.buffer_start += drop
        return chunk, skip, self.segment // FRAME, begin


def encode_mp3_parallel(
    blocks: Iterable[Block],
    path: Path,
    *,
    rate: int,
    channels: int,
    bitrate: int = 128000,
    quality: int = 7,
    workers: int = 2,
    segment_frames: int = SEGMENT_FRAMES,
    preroll_frames: int = PREROLL_FRAMES,
) -> int:
    """Encode a block stream into an MP3 file at `path`; returns the samples encoded."""
    layout = "stereo" if channels == 2 else "mono"
    seg = _Segmenter(channels, segment_frames, preroll_frames)
    pool: list[_Worker] = []
    inflight: deque[tuple[_Worker, int]] = deque()
    turn = 0
    with av.open(str(path), "w", format="mp3") as out:
        stream = out.add_stream("libmp3lame", rate=rate, layout=layout,
                                options={"compression_level": str(quality), "reservoir": "0"})
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.bit_rate = bitrate

        muxed, delay = [0], [0]  # packets muxed so far; encoder delay (first packet's skip)

        def mux(packets: Packets, offset: int) -> None:
            for pts, duration, data, skip_data in packets:
                packet = av.Packet(data)
                if skip_data:
                    if muxed[0] == 0:
                        delay[0] = struct.unpack_from("<I", skip_data)[0]
                    _set_skip_samples(packet, skip_data)
                muxed[0] += 1
                packet.stream = stream
                packet.time_base = Fraction(1, rate)
                packet.pts = packet.dts = offset + pts
                packet.duration = duration
                out.mux(packet)

        def mux_oldest() -> None:
            worker, offset = inflight.popleft()
            mux(worker.receive(), offset)

        try:
            for block in blocks:
                seg.add(block)
                while seg.ready():
                    chunk, skip, keep, offset = seg.take(final=False)
                    if len(pool) < workers:
                        pool.append(_Worker())
                    worker = pool[turn % len(pool)]
                    turn += 1
                    if any(w is worker for w, _ in inflight):
                        while inflight and any(w is worker for w, _ in inflight):
                            mux_oldest()
                    worker.send(chunk, skip, keep, rate, bitrate, quality)
                    inflight.append((worker, offset))
            while inflight:
                mux_oldest()
            if seg.samples:
                chunk, skip, keep, offset = seg.take(final=True)
                last = encode_segment(np.ascontiguousarray(chunk, np.float32), skip, keep, rate,
                                      bitrate, quality)
                mux(_with_end_padding(last, muxed[0], delay[0], seg.samples), offset)
        finally:
            for worker in pool:
                worker.close()
    return seg.samples
