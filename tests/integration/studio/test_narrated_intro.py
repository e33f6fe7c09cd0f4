"""A generated intro (the offline neural narrator) used in a rendered episode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from tapeworks.audio.probe import read_info
from tapeworks.narrators import EspeakEngine, Narrators, PiperEngine
from tapeworks.production.pipeline import RenderSettings, Template, produce
from tapeworks.transcripts.model import Transcript
from tests.helpers.audio import decode_all


def test_piper_intro_opens_the_episode_at_the_programme_loudness(
    speech_dir: Path, tmp_path: Path
) -> None:
    narrators = Narrators([PiperEngine(), EspeakEngine()])
    intro = narrators.narrate("piper-joe", "Welcome to Tapeworks Weekly. Here is today's talk.", tmp_path)
    intro_seconds = read_info(intro.path).duration_seconds
    result = produce(speech_dir / "jfk.flac", Transcript(), tmp_path / "episode.wav",
                     template=Template(intro=intro.path), render=RenderSettings(format="wav"))
    assert result.layout["intro"] == pytest.approx(intro_seconds, abs=0.01)
    assert result.programme_offset_seconds == pytest.approx(intro_seconds, abs=0.01)
    audio, rate = decode_all(result.output_path)
    split = round(intro_seconds * rate)
    meter = pyloudnorm.Meter(rate)
    intro_lufs = meter.integrated_loudness(audio[:, :split].T.astype(np.float64))
    talk_lufs = meter.integrated_loudness(audio[:, split:].T.astype(np.float64))
    assert intro_lufs == pytest.approx(talk_lufs, abs=1.5)  # levelled like the programme
    assert result.loudness["output_lufs"] == pytest.approx(result.loudness["target_lufs"], abs=0.5)
