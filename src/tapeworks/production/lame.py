"""LAME's own C API, from the LAME that lameenc ships, for reservoir-less segment encodes.

lameenc's Python class offers no switch for the bit reservoir, but its extension module
exports LAME's public C API (lame_init, lame_set_*, lame_encode_buffer_ieee_float, ...),
so ctypes can drive that LAME directly: float input, the bit reservoir off (a frame
never borrows bits from the frame before it, so frames of independent encoders can be
joined), and ctypes releases the interpreter lock for the length of every call, so
encoder threads run on other cores beside the render. `available()` says whether the
installed lameenc exports it; without it production encodes with lameenc's class alone.
"""

from __future__ import annotations

import ctypes
from functools import cache

import numpy as np

FRAME = 1152  # samples per MPEG-1 Layer III frame (44.1 / 48 / 32 kHz)
_SETTERS = (
    "num_channels",
    "in_samplerate",
    "out_samplerate",
    "brate",
    "quality",
    "disable_reservoir",
    "bWriteVbrTag",
)


@cache
def _library() -> ctypes.CDLL | None:
    try:
        import lameenc

        lib = ctypes.CDLL(lameenc.__file__)
        lib.lame_init.restype = ctypes.c_void_p
        lib.lame_init.argtypes = []
        for name in _SETTERS:
            fn = getattr(lib, f"lame_set_{name}")
            fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_int], ctypes.c_int
        lib.lame_init_params.argtypes, lib.lame_init_params.restype = (
            [ctypes.c_void_p],
            ctypes.c_int,
        )
        lib.lame_close.argtypes, lib.lame_close.restype = [ctypes.c_void_p], ctypes.c_int
        lib.lame_encode_buffer_ieee_float.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_int,
        ]
        lib.lame_encode_buffer_ieee_float.restype = ctypes.c_int
        lib.lame_encode_flush.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        lib.lame_encode_flush.restype = ctypes.c_int
        lib.lame_get_encoder_delay.argtypes, lib.lame_get_encoder_delay.restype = (
            [ctypes.c_void_p],
            ctypes.c_int,
        )
    except (ImportError, OSError, AttributeError):
        return None
    return lib


def available() -> bool:
    return _library() is not None


class LameError(RuntimeError):
    pass


def encode_frames(samples: np.ndarray, *, rate: int, bitrate: int, quality: int) -> list[bytes]:
    """Every MP3 frame a fresh reservoir-less CBR encoder makes of `samples` (channels, n),
    float in [-1, 1], flushed: frame k holds stream samples from k * 1152 - delay on."""
    lib = _library()
    if lib is None:
        raise LameError("LAME's C API is not available")
    channels, n = samples.shape
    if channels not in (1, 2) or bitrate <= 0 or rate <= 0:
        raise LameError("unsupported MP3 settings")
    gfp = lib.lame_init()
    if not gfp:
        raise LameError("the MP3 encoder could not start")
    try:
        for name, value in (
            ("num_channels", channels),
            ("in_samplerate", rate),
            ("out_samplerate", rate),
            ("brate", bitrate // 1000),
            ("quality", quality),
            ("disable_reservoir", 1),
            ("bWriteVbrTag", 0),
        ):
            if getattr(lib, f"lame_set_{name}")(gfp, value) < 0:
                raise LameError(f"the MP3 encoder refused {name}={value}")
        if lib.lame_init_params(gfp) < 0:
            raise LameError("the MP3 encoder refused its settings")
        left = np.ascontiguousarray(samples[0], dtype=np.float32)
        right = np.ascontiguousarray(samples[1 if channels == 2 else 0], dtype=np.float32)
        out = np.empty(n + n // 4 + 7200 + 2 * FRAME, np.uint8)
        size = (
            lib.lame_encode_buffer_ieee_float(
                gfp, left.ctypes.data, right.ctypes.data, n, out.ctypes.data, out.size
            )
            if n
            else 0
        )
        if size < 0:
            raise LameError(f"the MP3 encoder failed ({size})")
        tail = lib.lame_encode_flush(gfp, out[size:].ctypes.data, out.size - size)
        if tail < 0:
            raise LameError(f"the MP3 encoder failed ({tail})")
        return split_frames(out[: size + tail].tobytes())
    finally:
        lib.lame_close(gfp)


_MPEG1_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MPEG2_KBPS = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def frame_length(header: int) -> tuple[int, int]:
    """(bytes, samples) of the MPEG Layer III frame whose 32-bit header is `header`."""
    if header >> 21 != 0x7FF or (header >> 17) & 3 != 1 or (header >> 19) & 3 == 1:
        raise LameError("the encoder produced a broken MP3 frame")
    version = (header >> 19) & 3
    kbps = (_MPEG1_KBPS if version == 3 else _MPEG2_KBPS)[(header >> 12) & 15]
    rate = _RATES[version][(header >> 10) & 3]
    padding = (header >> 9) & 1
    if version == 3:
        return 144000 * kbps // rate + padding, 1152
    return 72000 * kbps // rate + padding, 576


def split_frames(data: bytes) -> list[bytes]:
    frames, pos = [], 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise LameError("the encoder produced a broken MP3 frame")
        size, _ = frame_length(int.from_bytes(data[pos : pos + 4], "big"))
        if size <= 4 or pos + size > len(data):
            raise LameError("the encoder produced a broken MP3 frame")
        frames.append(data[pos : pos + size])
        pos += size
    return frames
