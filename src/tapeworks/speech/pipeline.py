"""Audio file in, Transcript out: decode, VAD, windows, engine, alignment, speakers.

Memory is bounded by the window size (rule 11): audio is decoded in chunks, cut into
windows of at most 30 s at silences, and each window is transcribed and embedded for
diarization before the next is decoded. What is kept across windows is small: words,
speech regions and 256-float speaker vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import structlog

from tapeworks.audio.decode import SPEECH_RATE, iter_chunks
from tapeworks.audio.energy import EnvelopeBuilder
from tapeworks.audio.probe import read_info
from tapeworks.audio.vad import BackedVad, EnergyVad, Region, SpeechDetector
from tapeworks.errors import EngineError
from tapeworks.speech.alignment import align_words
from tapeworks.speech.assemble import assemble_transcript
from tapeworks.speech.diarization import (
    MIN_POINTS_FOR_CLUSTERING,
    DiarizationUnavailable,
    SpeakerEmbedder,
)
from tapeworks.speech.engines import cloud
from tapeworks.speech.engines.base import EngineResult, EngineWord, WindowEngine
from tapeworks.speech.engines.cloud import CloudEngine
from tapeworks.speech.engines.fake import FakeEngine
from tapeworks.speech.timing import mark_engine_times, repair_word_timings
from tapeworks.speech.windows import Window, iter_windows
from tapeworks.transcripts.model import Diarization, Transcript

log = structlog.get_logger("tapeworks.speech")

Progress = Callable[[float, float], None]
PROMPT_WORDS = 0  # see _Run.window: previous text as prompt made Whisper skip repeated speech


@dataclass
class TranscribeOptions:
    engine: str = "whisper"  # "whisper" | "cloud" | "fake"
    model: str = "base"  # "base" | "tiny.en" | other names
    model_path: str | None = None  # explicit model dir
    model_dir: str | None = None  # our cache dir (the service passes <data_dir>/models)
    language: str | None = None  # None = auto-detect
    num_speakers: int | None = None  # None = estimate (1..max_speakers); 1 = no diarization
    max_speakers: int = 6
    diarize: bool = True
    cloud_url: str | None = None
    cloud_api_key: str | None = None
    fake_realtime_factor: float = 0.0  # fake engine only: seconds of sleep per audio second
    threads: int = 2
    # words the engine should expect (names, the spoken edit marker): Whisper's hotwords
    hotwords: str | None = None


class _ProgressReporter:
    """Calls `progress(done, total)` with `done` never going backwards."""

    def __init__(self, callback: Progress | None, total: float) -> None:
        self.callback = callback
        self.total = total
        self.done = 0.0

    def __call__(self, done: float) -> None:
        self.done = max(self.done, done)
        self.total = max(self.total, self.done)
        if self.callback is not None:
            self.callback(round(self.done, 3), round(self.total, 3))


def _window_engine(options: TranscribeOptions) -> WindowEngine:
    if options.engine == "fake":
        return FakeEngine(realtime_factor=options.fake_realtime_factor)
    if options.engine == "whisper":
        from tapeworks.speech.engines.whisper import WhisperEngine

        engine = WhisperEngine.open(
            options.model, options.model_path, options.model_dir, threads=options.threads
        )
        engine.hotwords = options.hotwords
        return engine
    raise EngineError(f"unknown speech engine {options.engine!r} (whisper, cloud or fake)")


def _detector(options: TranscribeOptions) -> SpeechDetector:
    return EnergyVad() if options.engine == "fake" else BackedVad()


def _embedder(options: TranscribeOptions) -> tuple[SpeakerEmbedder | None, Diarization]:
    """The embedder (None when speakers are not told apart) and the diarization record.
    With one speaker requested the voice is still embedded (so it can be recognised as a
    known voice) but nothing is clustered; an encoder that cannot load is then no failure."""
    if not options.diarize:
        return None, Diarization(status="disabled", num_speakers=1)
    if options.num_speakers == 1:
        single = Diarization(status="single", reason="one speaker requested", num_speakers=1)
        try:
            return SpeakerEmbedder(threads=options.threads), single
        except DiarizationUnavailable:
            return None, single
    try:
        return SpeakerEmbedder(threads=options.threads), Diarization(status="ok")
    except DiarizationUnavailable as exc:
        log.warning("speech.diarization_unavailable", reason=str(exc))
        return None, Diarization(status="unavailable", reason=str(exc), num_speakers=1)


def _offset(words: list[EngineWord], seconds: float) -> list[EngineWord]:
    return [replace(w, start=w.start + seconds, end=w.end + seconds) for w in words]


@dataclass
class _Run:
    engine: WindowEngine
    language: str | None
    embedder: SpeakerEmbedder | None
    diarization: Diarization
    words: list[EngineWord]
    prompt: str | None = None
    regions: list[Region] = field(default_factory=list)  # for the timing repair
    envelope: EnvelopeBuilder = field(default_factory=EnvelopeBuilder)

    def window(self, window: Window) -> None:
        self.envelope.add(window.samples)
        self.regions.extend(window.regions)
        if not window.regions:
            return  # silence: nothing to transcribe, nothing invented
        result: EngineResult = self.engine.transcribe_window(
            window.samples, language=self.language, prompt=self.prompt
        )
        self.language = self.language or result.language
        raw = mark_engine_times(_offset(result.words(), window.start))
        words = align_words(raw, window.regions)
        self.words.extend(words)
        if words and PROMPT_WORDS:
            self.prompt = " ".join(w.text for w in self.words[-PROMPT_WORDS:])
        if self.embedder is not None:
            self._embed(window, words)

    def _embed(self, window: Window, words: list[EngineWord]) -> None:
        assert self.embedder is not None
        try:
            self.embedder.add(window.samples, window.start, window.regions, words)
        except DiarizationUnavailable as exc:
            log.warning("speech.diarization_unavailable", reason=str(exc))
            self.embedder = None
            if self.diarization.status == "ok":
                self.diarization = Diarization(status="unavailable", reason=str(exc),
                                               num_speakers=1)


@dataclass(frozen=True)
class SpeakerVoice:
    """One transcript speaker's voice: the unit mean of its embeddings (resemblyzer's
    256 floats) and how many seconds of its words it was measured on. Kept so the
    speaker can be recognised as, or enrolled as, a known voice; never the audio."""

    speaker_id: str
    embedding: tuple[float, ...]
    seconds: float


@dataclass(frozen=True)
class Transcription:
    transcript: Transcript
    voices: tuple[SpeakerVoice, ...] = ()


def _speaker_ids(
    run: _Run, options: TranscribeOptions
) -> tuple[list[str], Diarization, np.ndarray | None]:
    """The speaker of each word, the diarization record and the speakers' centroids
    (row i is speaker S{i+1}; None when nothing was embedded)."""
    if run.embedder is None or not run.words:
        return ["S1"] * len(run.words), run.diarization, None
    single = run.diarization.status == "single"
    labels = run.embedder.speaker_labels(1 if single else options.num_speakers,
                                         options.max_speakers)
    centroids = run.embedder.centroids
    if single or not len(labels):
        return ["S1"] * len(run.words), run.diarization, centroids if len(labels) else None
    mids = [(w.start + w.end) / 2 for w in run.words]
    per_word = run.embedder.word_labels(mids, labels)
    count = len(set(per_word)) or 1
    return [f"S{i + 1}" for i in per_word], Diarization(
        status="ok", num_speakers=count, reason=_fewer_reason(run.embedder, options, count)
    ), centroids


def speaker_voices(words: list[EngineWord], ids: list[str],
                   centroids: np.ndarray | None) -> tuple[SpeakerVoice, ...]:
    """Each labelled speaker's centroid with the seconds of its words."""
    if centroids is None or not len(centroids):
        return ()
    seconds: dict[str, float] = {}
    for w, sid in zip(words, ids, strict=True):
        seconds[sid] = seconds.get(sid, 0.0) + max(0.0, w.end - w.start)
    out = []
    for sid in sorted(seconds, key=lambda s: int(s[1:])):
        i = int(sid[1:]) - 1
        if 0 <= i < len(centroids):
            vec = np.asarray(centroids[i], dtype=np.float64)
            vec = vec / max(float(np.linalg.norm(vec)), 1e-9)
            out.append(SpeakerVoice(sid, tuple(round(float(v), 6) for v in vec),
                                    round(seconds[sid], 3)))
    return tuple(out)


def _fewer_reason(embedder: SpeakerEmbedder, options: TranscribeOptions, count: int) -> str | None:
    """Why fewer speakers were labelled than were asked for (None when as asked)."""
    wanted = options.num_speakers
    if wanted is None or count >= wanted:
        return None
    if sum(embedder.full) < MIN_POINTS_FOR_CLUSTERING:
        return (f"{wanted} speakers were asked for, but the recording has too little clear "
                f"speech to tell voices apart, so all words are labelled as one speaker"
                if count == 1 else
                f"{wanted} speakers were asked for, but only {count} could be told apart "
                f"in so little speech")
    return f"{wanted} speakers were asked for, but only {count} could be told apart"


def _speaker_map(words: list[EngineWord]) -> dict[str | None, str]:
    mapping: dict[str | None, str] = {}
    for w in words:
        if w.speaker not in mapping:
            mapping[w.speaker] = f"S{len(mapping) + 1}"
    return mapping


def _transcribe_cloud(
    path: Path, options: TranscribeOptions, report: Callable[[float], None], duration: float
) -> Transcription:
    """The whole file through the cloud API (its own diarization); progress jumps 0 -> end."""
    if not options.cloud_url or not options.cloud_api_key:
        raise EngineError("the cloud engine needs cloud_url and cloud_api_key set for this deployment")
    engine = CloudEngine(options.cloud_url, options.cloud_api_key,
                         poll_seconds=cloud.POLL_SECONDS)
    diarize = options.diarize and options.num_speakers != 1
    report(0.0)
    result = engine.transcribe_path(
        path, language=options.language, speakers=options.num_speakers, diarize=diarize,
        word_boost=[t.strip() for t in (options.hotwords or "").split(",") if t.strip()] or None,
    )
    words = result.words()
    labelled = diarize and any(w.speaker is not None for w in words)
    mapping = _speaker_map(words) if labelled else {}
    ids = [mapping.get(w.speaker, "S1") for w in words]
    diarization = (
        Diarization(status="ok", num_speakers=len(set(ids))) if labelled
        else Diarization(status="disabled" if not diarize else "unavailable",
                         reason=None if not diarize else "the API returned no speaker labels",
                         num_speakers=1)
    )
    end = max([duration] + [w.end for w in words])
    report(end)
    transcript = assemble_transcript(words, ids, language=result.language, duration=end,
                                     model=engine.info, diarization=diarization)
    return Transcription(transcript, _cloud_voices(path, words, ids, options)
                         if options.diarize else ())


def _cloud_voices(path: Path, words: list[EngineWord], ids: list[str],
                  options: TranscribeOptions) -> tuple[SpeakerVoice, ...]:
    """Each speaker's voice from our own encoder over the words the cloud engine gave it
    (so known voices are recognised with the cloud engine too). Streams the audio window
    by window; a voice model that cannot load means no voices (never a failure)."""
    from tapeworks.speech.diarization import UNIT_MIN_SECONDS, _load_encoder, _mel, utterance_units

    if not words:
        return ()
    try:
        encoder = _load_encoder(options.threads)
    except DiarizationUnavailable:
        return ()
    sums: dict[str, np.ndarray] = {}
    i = 0
    for window in iter_windows(iter_chunks(path), EnergyVad()):
        inside: list[int] = []
        while i < len(words) and words[i].start < window.end:
            if words[i].end <= window.end + 0.05:
                inside.append(i)
            i += 1
        runs: list[list[int]] = []
        for k in inside:  # consecutive words of one speaker
            if runs and ids[runs[-1][-1]] == ids[k] and runs[-1][-1] == k - 1:
                runs[-1].append(k)
            else:
                runs.append([k])
        for run in runs:
            run_words = [words[k] for k in run]
            for a, b in utterance_units(run_words):
                start, stop = run_words[a].start, run_words[b - 1].end
                if stop - start < UNIT_MIN_SECONDS:
                    continue
                x = max(0, int((start - window.start) * SPEECH_RATE))
                y = min(len(window.samples), int((stop - window.start) * SPEECH_RATE))
                mel = _mel(window.samples[x:y])[:160]
                if len(mel) < 2:
                    continue
                vec = encoder.embed_mels(mel[None])[0].astype(np.float64)
                sid = ids[run[a]]
                sums[sid] = sums.get(sid, np.zeros_like(vec)) + vec * (stop - start)
    if not sums:
        return ()
    order = sorted(sums, key=lambda s: int(s[1:]))
    centroids = np.zeros((int(order[-1][1:]), 256))
    for sid in order:
        centroids[int(sid[1:]) - 1] = sums[sid]
    voiced = [(w, sid) for w, sid in zip(words, ids, strict=True) if sid in sums]
    return speaker_voices([w for w, _ in voiced], [sid for _, sid in voiced], centroids)


def transcribe_file(
    path: str | Path, options: TranscribeOptions, progress: Progress | None = None,
    stage: Callable[[str], None] | None = None,
) -> Transcript:
    """Transcribe one audio file (see `transcribe`; the speakers' voices are dropped)."""
    return transcribe(path, options, progress, stage).transcript


def transcribe(
    path: str | Path, options: TranscribeOptions, progress: Progress | None = None,
    stage: Callable[[str], None] | None = None,
) -> Transcription:
    """Transcribe one audio file, with each speaker's voice embedding. Raises InvalidAudio for undecodable audio and
    EngineError when the engine cannot run (model missing or corrupted, API refusal).

    `stage(name)` is told as each stage begins: "loading_model", "transcribing",
    "finding_speakers" (only when speakers are told apart)."""
    path = Path(path)
    tell = stage or (lambda _name: None)
    report = _ProgressReporter(progress, read_info(path).duration_seconds)
    if options.engine == "cloud":
        tell("transcribing")
        return _transcribe_cloud(path, options, report, report.total)
    tell("loading_model")
    engine = _window_engine(options)
    embedder, diarization = _embedder(options)
    run = _Run(engine, options.language, embedder, diarization, [])
    report(0.0)
    end = 0.0
    for n, window in enumerate(iter_windows(iter_chunks(path), _detector(options))):
        if n == 0:
            tell("transcribing")
        run.window(window)
        end = window.end
        report(end)
    run.words = repair_word_timings(run.words, run.regions, run.envelope.envelope())
    if run.embedder is not None and run.words and run.diarization.status == "ok":
        tell("finding_speakers")
    ids, diarization, centroids = _speaker_ids(run, options)
    report(end)
    transcript = assemble_transcript(run.words, ids, language=run.language, duration=end,
                                     model=engine.info, diarization=diarization)
    log.info(
        "speech.transcribed", file=path.name, seconds=round(end, 1), words=len(run.words),
        speakers=len(transcript.speakers), model=engine.info.name, source=engine.info.source,
    )
    return Transcription(transcript, speaker_voices(run.words, ids, centroids))
