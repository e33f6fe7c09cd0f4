"""Speaker embeddings without PyTorch: resemblyzer's voice encoder on onnxruntime."""

from tapeworks.speech.voice_encoder.encoder import (
    EMBEDDING,
    PARTIAL_FRAMES,
    EncoderUnavailable,
    VoiceEncoder,
    load_model,
    mel_spectrogram,
    normalize_volume,
    partial_slices,
    preprocess_wav,
)

__all__ = [
    "EMBEDDING",
    "PARTIAL_FRAMES",
    "EncoderUnavailable",
    "VoiceEncoder",
    "load_model",
    "mel_spectrogram",
    "normalize_volume",
    "partial_slices",
    "preprocess_wav",
]
