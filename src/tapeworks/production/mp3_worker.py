"""A LAME encoder process for `parallel_mp3`: segments in on stdin, MP3 packets out on stdout.

Run as a script (`python .../mp3_worker.py`), so it imports only PyAV and numpy, not the
service. Protocol, little-endian, repeated until stdin closes:
request  = header `<IIqqiii` (channels, samples, skip, keep or -1 for all, rate,
           bitrate, quality) + samples * channels float32 (planar)
response = `<cI` status ('K' ok / 'E' error) and a count; ok: count packets of
           `<qiII` (pts, duration, size, skip size) + data + the packet's "skip samples"
           side data (the encoder delay on the first packet, the end padding on the
           last: the muxer writes them into the LAME tag); error: count bytes of message.
"""

from __future__ import annotations

import struct
import sys
from fractions import Fraction
from typing import BinaryIO

import av
import numpy as np

FRAME = 1152
REQUEST = struct.Struct("<IIqqiii")
RESPONSE = struct.Struct("<cI")
PACKET = struct.Struct("<qiII")
Packet = tuple[int, int, bytes, bytes]  # pts, duration, data, skip-samples side data


def encode_segment(samples: np.ndarray, skip: int, keep: int | None, rate: int, bitrate: int,
                   quality: int) -> list[Packet]:
    """Packets `skip` .. `skip + keep` (all after `skip` when `keep` is None) of a fresh
    reservoir-less encoder fed `samples` (channels, n); pts in samples from their start."""
    channels = samples.shape[0]
    layout = "stereo" if channels == 2 else "mono"
    cc = av.CodecContext.create("libmp3lame", "w")
    assert isinstance(cc, av.AudioCodecContext)
    cc.sample_rate = rate
    cc.layout = layout
    cc.format = "fltp"
    cc.bit_rate = bitrate
    cc.time_base = Fraction(1, rate)
    cc.options = {"compression_level": str(quality), "reservoir": "0"}
    cc.open()
    packets: list[Packet] = []
    for i in range(0, samples.shape[1], FRAME):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, i : i + FRAME]),
                                           format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = i
        frame.time_base = Fraction(1, rate)
        for p in cc.encode(frame):
            packets.append(_packet(p))
    for p in cc.encode(None):
        packets.append(_packet(p))
    return packets[skip:] if keep is None else packets[skip : skip + keep]


def _packet(p: av.Packet) -> Packet:
    skip = next((bytes(sd) for sd in p.iter_sidedata() if sd.data_type == "skip_samples"), b"")
    return (int(p.pts or 0), int(p.duration or FRAME), bytes(p), skip)


def _read(stream: BinaryIO, n: int) -> bytes | None:
    data = bytearray()
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    while True:
        header = _read(inp, REQUEST.size)
        if header is None:
            return
        channels, n, skip, keep, rate, bitrate, quality = REQUEST.unpack(header)
        raw = _read(inp, n * channels * 4)
        if raw is None:
            return
        try:
            samples = np.frombuffer(raw, dtype="<f4").reshape(channels, n)
            packets = encode_segment(samples, skip, None if keep < 0 else keep, rate, bitrate, quality)
        except Exception as exc:  # reported to the parent, which raises it there
            message = f"{type(exc).__name__}: {exc}".encode()
            out.write(RESPONSE.pack(b"E", len(message)) + message)
            out.flush()
            continue
        parts = [RESPONSE.pack(b"K", len(packets))]
        for pts, duration, data, skip_data in packets:
            parts.append(PACKET.pack(pts, duration, len(data), len(skip_data)))
            parts.append(data)
            parts.append(skip_data)
        out.write(b"".join(parts))
        out.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
