"""MP3 writing with LAME (lameenc) and the MP3 encoder process of `mp3.py`.

`Mp3Writer` encodes float blocks with LAME through `lameenc` (LGPL-3.0, LAME built with
its optimisations and called without the interpreter lock) and muxes the frames with
PyAV's MP3 muxer, which writes the Xing/LAME header: the encoder delay rides on the
first packet and the end padding on the last, so a decoder returns exactly the samples
that went in (gapless). The LAME inside PyAV's wheels is about four times slower per
core, which made it the bottleneck of a render.

Run as a script (`python .../mp3_worker.py`) it is the encoder process: it imports only
PyAV, numpy and lameenc, not the service. Protocol, little-endian:
start    = `<iiiiI` (rate, channels, bitrate, quality, path length) + UTF-8 path
blocks   = `<I` samples + samples * channels float32 (planar), repeated
end      = `<I` 0
response = `<cQ` status ('K' ok: samples written / 'E' error: message length) + message.
On an error the process answers at once and exits; the file it was writing is left for
the caller to remove.
"""

from __future__ import annotations

import struct
import sys
from fractions import Fraction
from typing import BinaryIO

import av
import lameenc
import numpy as np

from tapeworks.production.lame import LameError, frame_length

START = struct.Struct("<iiiiI")
BLOCK = struct.Struct("<I")
RESPONSE = struct.Struct("<cQ")
ENCODER_DELAY = 576 + 528 + 1  # LAME's delay plus the decoder's, as FFmpeg counts it

_template: av.Packet | None = None


def _skip_samples_packet(data: bytes) -> av.packet.PacketSideData:
    """A "skip samples" side data object holding `data` (PyAV copies side data from a
    packet only, so a template packet from a tiny encode supplies the object)."""
    global _template
    if _template is None:
        cc = av.CodecContext.create("libmp3lame", "w")
        assert isinstance(cc, av.AudioCodecContext)
        cc.sample_rate, cc.layout, cc.format, cc.time_base = (
            44100,
            "mono",
            "fltp",
            Fraction(1, 44100),
        )
        cc.open()
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1152), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = 44100, 0, Fraction(1, 44100)
        made = list(cc.encode(frame)) + list(cc.encode(None))
        _template = next(p for p in made if p.has_sidedata("skip_samples"))
    side = av.packet.PacketSideData.from_packet(_template, "skip_samples")
    side.update(data)
    return side


def to_pcm16(block: np.ndarray) -> bytes:
    """Float (channels, n) as interleaved 16-bit PCM bytes (rounded, clipped)."""
    x = np.multiply(block, 32768.0, dtype=np.float32)
    np.rint(x, out=x)
    np.clip(x, -32768.0, 32767.0, out=x)
    return x.T.astype("<i2").tobytes()


class Mp3Muxer:
    """MP3 frames (in stream order) into a file with the Xing/LAME header: the encoder
    delay rides on the first packet and the end padding, known at `close`, on the last."""

    def __init__(self, path: str, *, rate: int, channels: int, bitrate: int) -> None:
        self.rate = rate
        self._out = av.open(path, "w", format="mp3")
        stream = self._out.add_stream(
            "libmp3lame", rate=rate, layout="stereo" if channels == 2 else "mono"
        )
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.bit_rate = bitrate
        self._stream = stream
        self._held: tuple[bytes, int] | None = (
            None  # the last frame, muxed once the next one exists
        )
        self._pts = -ENCODER_DELAY
        self.frames = 0

    def add(self, frames: list[bytes]) -> None:
        for frame in frames:
            n = frame_length(int.from_bytes(frame[:4], "big"))[1]
            if self._held is not None:
                first = self.frames == 1
                self._mux(
                    *self._held, struct.pack("<IIBB", ENCODER_DELAY, 0, 0, 0) if first else None
                )
            self._held = (frame, n)
            self.frames += 1

    def close(self, samples: int) -> None:
        """Mux the last frame with the end padding that leaves `samples` decoded."""
        try:
            if self._held is not None:
                data, n = self._held
                padding = max(0, self.frames * n - ENCODER_DELAY - samples)
                start = ENCODER_DELAY if self.frames == 1 else 0
                self._mux(data, n, struct.pack("<IIBB", start, padding, 0, 0))
                self._held = None
        finally:
            self._out.close()

    def abort(self) -> None:
        self._out.close()

    def _mux(self, data: bytes, n: int, skip: bytes | None) -> None:
        packet = av.Packet(data)
        if skip is not None:
            packet.set_sidedata(_skip_samples_packet(skip))
        packet.stream = self._stream
        packet.time_base = Fraction(1, self.rate)
        packet.pts = packet.dts = self._pts
        packet.duration = n
        self._pts += n
        self._out.mux(packet)


class Mp3Writer:
    """CBR MP3 of float blocks at `path` with lameenc's encoder (bit reservoir on);
    `close()` returns the samples written."""

    def __init__(self, path: str, *, rate: int, channels: int, bitrate: int, quality: int) -> None:
        if channels not in (1, 2) or bitrate <= 0 or rate <= 0:
            raise ValueError("unsupported MP3 settings")
        self._enc = lameenc.Encoder()
        self._enc.set_channels(channels)
        self._enc.set_in_sample_rate(rate)
        self._enc.set_out_sample_rate(rate)
        self._enc.set_bit_rate(bitrate // 1000)
        self._enc.set_quality(quality)
        self._mux = Mp3Muxer(path, rate=rate, channels=channels, bitrate=bitrate)
        self._pending = bytearray()
        self.samples = 0

    def add(self, block: np.ndarray) -> None:
        if block.shape[1] == 0:
            return
        self.samples += block.shape[1]
        self._pending += self._enc.encode(to_pcm16(block))
        self._drain()

    def close(self) -> int:
        try:
            if self.samples:
                self._pending += self._enc.flush()
                self._drain()
                if self._pending:
                    raise LameError("the encoder produced a broken MP3 frame")
        except BaseException:
            self._mux.abort()
            raise
        self._mux.close(self.samples)
        return self.samples

    def abort(self) -> None:
        self._mux.abort()

    def _drain(self) -> None:
        buf, pos, frames = self._pending, 0, []
        while len(buf) - pos >= 4:
            size, _ = frame_length(int.from_bytes(buf[pos : pos + 4], "big"))
            if len(buf) - pos < size:
                break
            frames.append(bytes(buf[pos : pos + size]))
            pos += size
        del buf[:pos]
        self._mux.add(frames)


def _read(stream: BinaryIO, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    def fail(message: str) -> None:
        text = message.encode()
        out.write(RESPONSE.pack(b"E", len(text)) + text)
        out.flush()

    head = _read(inp, START.size)
    if head is None:
        return
    rate, channels, bitrate, quality, path_len = START.unpack(head)
    path = (_read(inp, path_len) or b"").decode()
    try:
        writer = Mp3Writer(path, rate=rate, channels=channels, bitrate=bitrate, quality=quality)
    except Exception as exc:  # reported to the parent, which raises it there
        fail(f"{type(exc).__name__}: {exc}")
        return
    try:
        while True:
            count = _read(inp, BLOCK.size)
            if count is None:
                writer.abort()
                return  # the parent went away
            (n,) = BLOCK.unpack(count)
            if n == 0:
                break
            raw = _read(inp, n * channels * 4)
            if raw is None:
                writer.abort()
                return
            writer.add(np.frombuffer(raw, dtype="<f4").reshape(channels, n))
        samples = writer.close()
    except Exception as exc:
        writer.abort()
        fail(f"{type(exc).__name__}: {exc}")
        return
    out.write(RESPONSE.pack(b"K", samples))
    out.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
