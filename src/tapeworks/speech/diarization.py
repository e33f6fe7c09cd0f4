"""Who spoke when: speaker embeddings (resemblyzer's voice encoder, run by onnxruntime)
and clustering.

Embeddings are computed window by window as the pipeline streams audio, so memory holds
only the small vectors, never the audio. Each speech region of at least 1.6 s gives
full partials (1.6 s every 0.4 s); a shorter region gives one embedding of its own length
(no padding or repetition: both made short turns look alike whoever spoke them).

How many speakers, when not given (chosen by measurement, see bench/bench_speakers.py):
average-linkage agglomerative clustering of the full partials (cosine distance), cut at
`AHC_THRESHOLD`; a group with less than `MIN_SPEAKER_SECONDS` of speech or less than
`MIN_SPEAKER_SHARE` of it is not a speaker of its own, its points go to the nearest kept
group. Eigengap spectral clustering said two speakers for JFK and four for JFK looped to
ten minutes; the threshold alone over-splits real voices into small groups, which the
minimum duration removes. Centroids are then refined (spherical k-means) and every
embedding, short ones included, is labelled with its nearest centroid. A count given by
the user is an override: spectral clustering into exactly that many groups (it partitions
a forced count better than cutting the tree, measured on sample.wav looped).

Clustering runs on at most `MAX_CLUSTER_POINTS` evenly spaced vectors (the distance matrix
is N x N); every vector is then assigned to the nearest centroid, block by block.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import structlog
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.linalg import eigh, qr, svd

from tapeworks.audio.decode import SPEECH_RATE
from tapeworks.audio.vad import Region, merge_regions
from tapeworks.speech.voice_encoder import (
    EncoderUnavailable,
    VoiceEncoder,
    mel_spectrogram,
    normalize_volume,
)

log = structlog.get_logger("tapeworks.speech")

PARTIAL_FRAMES = 160  # 1.6 s of 10 ms mel frames (resemblyzer's partial utterance)
HOP_FRAMES = 40  # 0.4 s
FRAME_SECONDS = 0.01
MIN_REGION_SECONDS = 0.3
MERGE_GAP_SECONDS = 0.3  # regions closer than this are embedded as one (VAD-independent)
MAX_CLUSTER_POINTS = 1500
MIN_POINTS_FOR_CLUSTERING = 4
ASSIGN_BLOCK = 4096
AHC_THRESHOLD = 0.28  # average cosine distance between two groups of different voices
MIN_SPEAKER_SECONDS = 3.0
MIN_SPEAKER_SHARE = 0.15
REFINE_ITERATIONS = 5
UNIT_MAX_SECONDS = 1.6  # words are labelled by utterance units of at most one partial
UNIT_MIN_SECONDS = 0.3  # shorter units keep the label of the partials around them
UNIT_PAUSE_SECONDS = 0.15
SENTENCE_END = (".", "?", "!", "…")


class TimedWord(Protocol):
    text: str
    start: float
    end: float


class DiarizationUnavailable(RuntimeError):
    """Speaker embeddings cannot be computed here (the voice model is missing or damaged)."""


def _load_encoder(threads: int) -> VoiceEncoder:
    try:
        return VoiceEncoder.load(threads)
    except EncoderUnavailable as exc:
        raise DiarizationUnavailable(str(exc)) from exc


def _mel(samples: np.ndarray) -> np.ndarray:
    """resemblyzer's input: the mel spectrogram at its training loudness (-30 dBFS)."""
    return mel_spectrogram(normalize_volume(samples))


@dataclass
class SpeakerEmbedder:
    """Collects (time span, embedding) pairs over the speech of a stream of windows."""

    threads: int = 2
    starts: list[float] = field(default_factory=list)
    ends: list[float] = field(default_factory=list)
    full: list[bool] = field(default_factory=list)  # a 1.6 s partial (else a short turn)
    blocks: list[np.ndarray] = field(default_factory=list)  # float16, one block per window
    speech_seconds: float = 0.0  # in regions long enough for full partials
    centroids: np.ndarray | None = None  # (speakers, 256) after speaker_labels
    units: list[tuple[int, int]] = field(default_factory=list)  # word index ranges [a, b)
    unit_blocks: list[np.ndarray] = field(default_factory=list)  # float16 embeddings
    word_count: int = 0

    def __post_init__(self) -> None:
        self._encoder = _load_encoder(self.threads)

    def add(
        self, samples: np.ndarray, offset: float, regions: Sequence[Region],
        words: Sequence[TimedWord] = (),
    ) -> None:
        """Embed the speech `regions` (absolute seconds) of a window starting at `offset`,
        and the utterance units of its `words` (the window's words, in order)."""
        self._add_units(samples, offset, words)
        items: list[tuple[float, float, np.ndarray]] = []
        for region in merge_regions(regions, max_gap=MERGE_GAP_SECONDS):
            if region.duration < MIN_REGION_SECONDS:
                continue
            a = max(0, int((region.start - offset) * SPEECH_RATE))
            b = min(len(samples), int((region.end - offset) * SPEECH_RATE))
            items.extend(self._partials(samples[a:b], offset + a / SPEECH_RATE))
        if not items:
            return
        full = [i for i, (_, _, mel) in enumerate(items) if len(mel) == PARTIAL_FRAMES]
        out = np.zeros((len(items), 256), dtype=np.float32)
        if full:
            out[full] = self._encoder.embed_mels(np.stack([items[i][2] for i in full]))
        for i, (_, _, mel) in enumerate(items):
            if len(mel) != PARTIAL_FRAMES:
                out[i] = self._encoder.embed_mels(mel[None])[0]
        for i, (s, e, _) in enumerate(items):
            self.starts.append(s)
            self.ends.append(e)
            self.full.append(len(items[i][2]) == PARTIAL_FRAMES)
        self.blocks.append(out.astype(np.float16))

    def _add_units(self, samples: np.ndarray, offset: float, words: Sequence[TimedWord]) -> None:
        """One embedding per utterance unit: consecutive words up to a sentence end, a
        pause or UNIT_MAX_SECONDS. Its own audio, so a short reply between two turns of
        the other speaker is measured alone (1.6 s partials around it mix both voices)."""
        first = self.word_count
        self.word_count += len(words)
        vectors = []
        for a, b in utterance_units(words):
            start, end = words[a].start, words[b - 1].end
            if end - start < UNIT_MIN_SECONDS:
                continue
            i = max(0, int((start - offset) * SPEECH_RATE))
            j = min(len(samples), int((end - offset) * SPEECH_RATE))
            mel = _mel(samples[i:j])[:PARTIAL_FRAMES]
            if len(mel) < 2:
                continue
            vectors.append(self._encoder.embed_mels(mel[None])[0])
            self.units.append((first + a, first + b))
        if vectors:
            self.unit_blocks.append(np.stack(vectors).astype(np.float16))

    def _partials(self, audio: np.ndarray, t0: float) -> list[tuple[float, float, np.ndarray]]:
        mel = _mel(audio)
        n = len(mel)
        real_end = t0 + len(audio) / SPEECH_RATE
        if n < PARTIAL_FRAMES:
            return [(t0, real_end, mel)]
        self.speech_seconds += len(audio) / SPEECH_RATE
        offsets = list(range(0, n - PARTIAL_FRAMES + 1, HOP_FRAMES))
        if offsets[-1] + PARTIAL_FRAMES < n:
            offsets.append(n - PARTIAL_FRAMES)
        out = []
        for i in offsets:
            start = t0 + i * FRAME_SECONDS
            end = min(start + PARTIAL_FRAMES * FRAME_SECONDS, real_end)
            out.append((start, end, mel[i : i + PARTIAL_FRAMES]))
        return out

    def speaker_labels(self, num_speakers: int | None, max_speakers: int) -> np.ndarray:
        """Cluster index (0-based, ordered by first appearance) for every embedding;
        `centroids` holds one unit vector per speaker afterwards."""
        if not self.starts:
            self.centroids = np.zeros((0, 256), dtype=np.float32)
            return np.zeros(0, dtype=int)
        vectors = np.concatenate(self.blocks).astype(np.float32)
        full = np.array(self.full)
        basis = vectors[full] if full.sum() >= MIN_POINTS_FOR_CLUSTERING else vectors
        seconds = self.speech_seconds if full.sum() >= MIN_POINTS_FOR_CLUSTERING else None
        if len(basis) < MIN_POINTS_FOR_CLUSTERING or num_speakers == 1:
            centroids = _normalise(basis.mean(axis=0, keepdims=True))
        else:
            centroids = find_speakers(basis, num_speakers, max_speakers, seconds)
        labels, order = _first_appearance(assign(vectors, centroids))
        self.centroids = centroids[order]
        return labels

    def word_labels(self, times: Sequence[float], labels: np.ndarray) -> list[int]:
        """Speaker of each word (`times`: the middles of all words added, in order): its
        unit's nearest centroid, or for words in no unit the partial covering it."""
        out = self.label_times(times, labels)
        if self.centroids is None or not self.units or len(self.centroids) < 2:
            return out
        unit_labels = assign(np.concatenate(self.unit_blocks), self.centroids)
        for (a, b), label in zip(self.units, unit_labels, strict=True):
            out[a:b] = [int(label)] * (b - a)
        return out

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


def utterance_units(words: Sequence[TimedWord]) -> list[tuple[int, int]]:
    """Index ranges [a, b) of consecutive words split at sentence ends, at pauses of
    UNIT_PAUSE_SECONDS and before a unit would exceed UNIT_MAX_SECONDS."""
    units: list[tuple[int, int]] = []
    a = 0
    for i in range(1, len(words) + 1):
        if i == len(words):
            units.append((a, i))
            break
        prev, word = words[i - 1], words[i]
        if (prev.text.rstrip().endswith(SENTENCE_END) or word.start - prev.end >= UNIT_PAUSE_SECONDS
                or word.end - words[a].start > UNIT_MAX_SECONDS):
            units.append((a, i))
            a = i
    return units if words else []


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


def _spectral(affinity: np.ndarray, k: int) -> np.ndarray:
    """Spectral clustering into exactly k groups: the k smallest eigenvectors of the
    normalised Laplacian, discretised by column-pivoted QR (Damle et al., as sklearn's
    `assign_labels="cluster_qr"`)."""
    degree = affinity.sum(axis=1)
    d = 1.0 / np.sqrt(np.maximum(degree, 1e-12))
    laplacian = np.eye(len(affinity)) - d[:, None] * affinity * d[None, :]
    _, vectors = eigh(laplacian, subset_by_index=[0, k - 1])
    embedding = vectors * d[:, None]
    _, _, pivots = qr(embedding.T, pivoting=True)
    u, _, vt = svd(embedding[pivots[:k], :].T)
    return np.asarray(np.abs(embedding @ (u @ vt)).argmax(axis=1))


def _centroids(x: np.ndarray, labels: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    return _normalise(np.stack([x[labels == c].mean(axis=0) for c in ids]))


def _refine(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Spherical k-means from the given centroids (a group that empties keeps its centroid)."""
    for _ in range(REFINE_ITERATIONS):
        labels = np.argmax(x @ centroids.T, axis=1)
        centroids = _normalise(np.stack([
            x[labels == c].mean(axis=0) if (labels == c).any() else centroids[c]
            for c in range(len(centroids))
        ]))
    return centroids


def _count_by_ahc(x: np.ndarray, max_speakers: int, speech_seconds: float) -> np.ndarray:
    """Centroids of the groups that average-linkage clustering keeps as speakers."""
    labels = fcluster(linkage(x, method="average", metric="cosine"), AHC_THRESHOLD,
                      criterion="distance")
    ids, counts = np.unique(labels, return_counts=True)
    seconds = counts / len(x) * speech_seconds
    floor = max(MIN_SPEAKER_SECONDS, MIN_SPEAKER_SHARE * speech_seconds)
    kept = [int(c) for c, s in sorted(zip(ids, seconds, strict=True), key=lambda p: -p[1])
            if s >= floor][:max_speakers]
    if not kept:
        kept = [int(ids[np.argmax(counts)])]
    return _centroids(x, labels, kept)


def find_speakers(
    vectors: np.ndarray, num_speakers: int | None, max_speakers: int,
    speech_seconds: float | None = None,
) -> np.ndarray:
    """One unit centroid per speaker found in `vectors` (or exactly `num_speakers`)."""
    sample_idx = np.linspace(0, len(vectors) - 1, min(len(vectors), MAX_CLUSTER_POINTS)).astype(int)
    x = _normalise(vectors[sample_idx].astype(np.float32))
    if speech_seconds is None:
        speech_seconds = len(vectors) * HOP_FRAMES * FRAME_SECONDS
    if num_speakers == 1 or len(x) < 2:
        return _normalise(x.mean(axis=0, keepdims=True))
    if num_speakers is not None:
        k = max(1, min(num_speakers, len(x)))
        labels = _spectral(_affinity(x), k)
        centroids = _centroids(x, labels, sorted(set(labels.tolist())))
    else:
        centroids = _count_by_ahc(x, max_speakers, speech_seconds)
    centroids = _refine(x, centroids)
    log.info("speech.diarized", speakers=len(centroids), points=len(vectors), sampled=len(x))
    return centroids


def assign(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (cosine) for every vector, block by block."""
    return np.concatenate([
        np.argmax(_normalise(vectors[i : i + ASSIGN_BLOCK].astype(np.float32)) @ centroids.T, axis=1)
        for i in range(0, len(vectors), ASSIGN_BLOCK)
    ])


def _first_appearance(labels: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Labels renumbered by first appearance, and the old index of each new label."""
    order: dict[int, int] = {}
    for lab in labels:
        order.setdefault(int(lab), len(order))
    renumbered = np.array([order[int(lab)] for lab in labels], dtype=int)
    return renumbered, sorted(order, key=order.__getitem__)


def cluster(
    vectors: np.ndarray, num_speakers: int | None, max_speakers: int,
    speech_seconds: float | None = None,
) -> np.ndarray:
    """Labels (0-based, by first appearance) for all `vectors`."""
    centroids = find_speakers(vectors, num_speakers, max_speakers, speech_seconds)
    return _first_appearance(assign(vectors, centroids))[0]
