"""Who spoke when: speaker embeddings (resemblyzer) plus spectral clustering.

Embeddings are computed window by window as the pipeline streams audio (1.6 s partials
every 0.4 s of speech), so memory holds only the small vectors, never the audio.
Clustering runs on at most `MAX_CLUSTER_POINTS` evenly spaced vectors (the affinity
matrix is N x N); every vector is then assigned to the nearest cluster centroid.
The number of speakers is given, or estimated by the eigengap of the affinity's
Laplacian (1..max_speakers) followed by merging clusters whose centroids are alike.

torch and resemblyzer are imported lazily, only when diarizing; when they cannot be
imported or fail, `DiarizationUnavailable` says why and the pipeline records it.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import structlog

from tapeworks.audio.decode import SPEECH_RATE
from tapeworks.audio.vad import Region

log = structlog.get_logger("tapeworks.speech")

PARTIAL_FRAMES = 160  # 1.6 s of 10 ms mel frames (resemblyzer's partial utterance)
HOP_FRAMES = 40  # 0.4 s
FRAME_SECONDS = 0.01
MIN_REGION_SECONDS = 0.3
MAX_CLUSTER_POINTS = 1500
MERGE_SIMILARITY = 0.92
MIN_POINTS_FOR_CLUSTERING = 4
ASSIGN_BLOCK = 4096


class DiarizationUnavailable(RuntimeError):
    """Speaker embeddings cannot be computed here (missing package, model failure)."""


_encoder: Any = None
_encoder_lock = threading.Lock()


def _load_encoder(threads: int) -> Any:
    global _encoder
    with _encoder_lock:
        return _encoder if _encoder is not None else _new_encoder(threads)


def _new_encoder(threads: int) -> Any:
    global _encoder
    if _encoder is None:
        try:
            import torch
            from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise DiarizationUnavailable(f"speaker embeddings need torch and resemblyzer: {exc}") from exc
        torch.set_num_threads(threads)
        try:
            _encoder = VoiceEncoder("cpu", verbose=False)
        except (RuntimeError, OSError) as exc:
            raise DiarizationUnavailable(f"the speaker embedding model failed to load: {exc}") from exc
    return _encoder


TARGET_DBFS = -30.0


def _normalise_volume(samples: np.ndarray) -> np.ndarray:
    """Scale to resemblyzer's training loudness (-30 dBFS), as its preprocess_wav does."""
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    if rms < 1e-6:
        return samples
    return (samples * (10 ** (TARGET_DBFS / 20) / rms)).astype(np.float32)


def _mel(samples: np.ndarray) -> np.ndarray:
    from resemblyzer.audio import wav_to_mel_spectrogram

    samples = _normalise_volume(samples)
    return np.asarray(wav_to_mel_spectrogram(samples), dtype=np.float32)


@dataclass
class SpeakerEmbedder:
    """Collects (time span, embedding) pairs over the speech of a stream of windows."""

    threads: int = 2
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    blocks: list[np.ndarray] = field(default_factory=list)  # float16, one block per window

    def __post_init__(self) -> None:
        self._encoder = _load_encoder(self.threads)

    def add(self, samples: np.ndarray, offset: float, regions: Sequence[Region]) -> None:
        """Embed the speech `regions` (absolute seconds) of a window starting at `offset`."""
        batch: list[np.ndarray] = []
        spans: list[tuple[float, float]] = []
        for region in regions:
            if region.duration < MIN_REGION_SECONDS:
                continue
            a = max(0, int((region.start - offset) * SPEECH_RATE))
            b = min(len(samples), int((region.end - offset) * SPEECH_RATE))
            self._partials(samples[a:b], offset + a / SPEECH_RATE, batch, spans)
        if batch:
            self._embed(batch, spans)

    def _partials(
        self, audio: np.ndarray, t0: float, batch: list[np.ndarray], spans: list[tuple[float, float]]
    ) -> None:
        real_seconds = len(audio) / SPEECH_RATE
        need = int(PARTIAL_FRAMES * FRAME_SECONDS * SPEECH_RATE) + SPEECH_RATE // 50
        if len(audio) < need:  # short turn: repeat it to fill one partial (same voice)
            audio = np.tile(audio, int(np.ceil(need / max(len(audio), 1))))[:need]
        mel = _mel(audio)
        n = len(mel)
        offsets = list(range(0, max(1, n - PARTIAL_FRAMES + 1), HOP_FRAMES))
        if n > PARTIAL_FRAMES and offsets[-1] + PARTIAL_FRAMES < n:
            offsets.append(n - PARTIAL_FRAMES)
        for i in offsets:
            batch.append(mel[i : i + PARTIAL_FRAMES])
            start = t0 + i * FRAME_SECONDS
            spans.append((start, min(start + PARTIAL_FRAMES * FRAME_SECONDS, t0 + real_seconds)))

    def _embed(self, batch: list[np.ndarray], spans: list[tuple[float, float]]) -> None:
        import torch

        try:
            with torch.inference_mode():
                out = self._encoder(torch.from_numpy(np.stack(batch))).numpy()
        except RuntimeError as exc:
            raise DiarizationUnavailable(f"speaker embedding failed: {exc}") from exc
        for s, e in spans:
            self.starts.append(s)
            self.ends.append(e)
        self.blocks.append(out.astype(np.float16))

    def speaker_labels(self, num_speakers: int | None, max_speakers: int) -> np.ndarray:
        """Cluster index (0-based, ordered by first appearance) for every embedding."""
        if len(self.starts) < MIN_POINTS_FOR_CLUSTERING or num_speakers == 1:
            return np.zeros(len(self.starts), dtype=int)
        return cluster(np.concatenate(self.blocks), num_speakers, max_speakers)

    def label_times(self, times: Sequence[float], labels: np.ndarray) -> list[int]:
        """Label of the embedding covering each time, preferring the nearest centre."""
        centres = [(s + e) / 2 for s, e in zip(self.starts, self.ends, strict=True)]
        out = []
        for t in times:
            k = bisect.bisect_left(centres, t)
            best = None
            for j in range(max(0, k - 4), min(len(centres), k + 4)):
                inside = self.starts[j] <= t <= self.ends[j]
                key = (not inside, abs(centres[j] - t))
                if best is None or key < best[0]:
                    best = (key, j)
            out.append(int(labels[best[1]]) if best is not None else 0)
        return out


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def _affinity(x: np.ndarray) -> np.ndarray:
    """Cosine affinity, pruned to each point's nearest neighbours and symmetrised."""
    sim = np.clip(x @ x.T, 0.0, 1.0)
    n = len(sim)
    keep = max(5, n // 5)
    if keep < n:
        threshold = np.partition(sim, n - keep, axis=1)[:, n - keep][:, None]
        sim = np.where(sim >= threshold, sim, 0.0)
    return (sim + sim.T) / 2


def _estimate_k(affinity: np.ndarray, max_k: int) -> int:
    degree = affinity.sum(axis=1)
    d = 1.0 / np.sqrt(np.maximum(degree, 1e-9))
    laplacian = np.eye(len(affinity)) - d[:, None] * affinity * d[None, :]
    eigenvalues = np.sort(np.linalg.eigvalsh(laplacian))[: max_k + 1]
    gaps = np.diff(eigenvalues)
    return int(np.argmax(gaps[:max_k]) + 1)


def _spectral(affinity: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import SpectralClustering

    model = SpectralClustering(
        n_clusters=k, affinity="precomputed", random_state=0, assign_labels="cluster_qr"
    )
    return np.asarray(model.fit_predict(affinity))


def _centroids(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _normalise(np.stack([x[labels == c].mean(axis=0) for c in np.unique(labels)]))


def _merge_alike(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Merge clusters whose centroids are more alike than MERGE_SIMILARITY."""
    while len(np.unique(labels)) > 1:
        ids = np.unique(labels)
        c = _centroids(x, labels)
        sim = c @ c.T - np.eye(len(c)) * 2
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] < MERGE_SIMILARITY:
            break
        labels = np.where(labels == ids[j], ids[i], labels)
    return labels


def _by_first_appearance(labels: np.ndarray) -> np.ndarray:
    order: dict[int, int] = {}
    for lab in labels:
        order.setdefault(int(lab), len(order))
    return np.array([order[int(lab)] for lab in labels], dtype=int)


def cluster(vectors: np.ndarray, num_speakers: int | None, max_speakers: int) -> np.ndarray:
    """Labels for all `vectors`; clusters a capped, evenly spaced sample when there are many
    and assigns every vector to the nearest centroid, block by block."""
    sample_idx = np.linspace(0, len(vectors) - 1, min(len(vectors), MAX_CLUSTER_POINTS)).astype(int)
    sample = _normalise(vectors[sample_idx].astype(np.float32))
    affinity = _affinity(sample)
    max_k = max(1, min(max_speakers, len(sample) - 1))
    k = num_speakers if num_speakers is not None else _estimate_k(affinity, max_k)
    k = max(1, min(k, len(sample)))
    labels = np.zeros(len(sample), dtype=int) if k == 1 else _spectral(affinity, k)
    if num_speakers is None:
        labels = _merge_alike(sample, labels)
    centroids = _centroids(sample, labels)
    assigned = np.concatenate([
        np.argmax(vectors[i : i + ASSIGN_BLOCK].astype(np.float32) @ centroids.T, axis=1)
        for i in range(0, len(vectors), ASSIGN_BLOCK)
    ])
    log.info("speech.diarized", speakers=len(centroids), points=len(vectors), sampled=len(sample))
    return _by_first_appearance(assigned)
