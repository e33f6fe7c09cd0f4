"""Small transcript builders and hypothesis strategies shared by the transcript tests."""

from __future__ import annotations

from hypothesis import strategies as st

from tapeworks.transcripts.model import Diarization, ModelInfo, Speaker, Transcript, Word
from tapeworks.transcripts.segmentation import build_segments


def make_transcript(
    spoken: list[tuple[str, str]] | None = None, speakers: list[Speaker] | None = None
) -> Transcript:
    """`spoken` is [(speaker_id, "sentence text"), ...]; words 0.4 s apart, 0.3 s long,
    a 1.5 s pause between turns."""
    spoken = spoken or [
        ("S1", "Hello and welcome to the show."),
        ("S2", "Thanks for having me here today."),
        ("S1", "Let us talk about coaching."),
    ]
    words: list[Word] = []
    t = 0.0
    for spk, text in spoken:
        for i, tok in enumerate(text.split()):
            words.append(
                Word(
                    text=" " + tok,
                    start=round(t, 3),
                    end=round(t + 0.3, 3),
                    confidence=0.8 + i % 2 / 10,
                    speaker=spk,
                )
            )
            t += 0.4
        t += 1.5
    speakers = speakers or [
        Speaker(id="S1", name="Anna", role="coach"),
        Speaker(id="S2", name="Ben", role="client"),
    ]
    return Transcript(
        language="en",
        duration=round(t, 3),
        model=ModelInfo(engine="fake", name="test", source="test"),
        diarization=Diarization(status="ok", num_speakers=len(speakers)),
        speakers=speakers,
        segments=build_segments(words),
    )


@st.composite
def transcripts(draw, *, max_words: int = 30, unique_words: bool = False) -> Transcript:
    """Random but well-formed transcripts: monotonic word times, 1-3 speakers."""
    n = draw(st.integers(min_value=1, max_value=max_words))
    n_speakers = draw(st.integers(min_value=1, max_value=3))
    vocab = ["alpha", "beta", "Gamma,", "delta.", "épée", "naïve?", "über", "x", "ok!", "日本"]
    words: list[Word] = []
    t = draw(st.floats(min_value=0, max_value=5, allow_nan=False)).__round__(3)
    spk = "S1"
    for i in range(n):
        gap = draw(st.sampled_from([0.0, 0.0, 0.05, 0.2, 1.5]))
        dur = draw(st.sampled_from([0.0, 0.1, 0.25, 0.6]))
        if draw(st.integers(0, 5)) == 0:
            spk = f"S{draw(st.integers(1, n_speakers))}"
        text = f"w{i}" if unique_words else draw(st.sampled_from(vocab))
        start = round(t + gap, 3)
        end = round(start + dur, 3)
        words.append(
            Word(
                text=text,
                start=start,
                end=end,
                confidence=draw(st.floats(min_value=0, max_value=1)),
                speaker=spk,
            )
        )
        t = end
    speakers = [Speaker(id=f"S{k}", name=f"Speaker {k}") for k in range(1, n_speakers + 1)]
    return Transcript(
        speakers=speakers,
        segments=build_segments(words, max_duration=draw(st.sampled_from([2.0, 30.0]))),
        duration=round(t + 1, 3),
    )
