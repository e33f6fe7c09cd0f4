from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.paths import SPEECH_DIR


@pytest.fixture(scope="session")
def speech_dir() -> Path:
    assert (SPEECH_DIR / "jfk.flac").is_file(), f"speech samples missing in {SPEECH_DIR}"
    return SPEECH_DIR


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def espeak(path: Path, text: str, *, voice: str = "en", speed: int = 130, gap: int = 4) -> Path:
    """Speak `text` with espeak-ng into a WAV (22.05 kHz mono): a real, reproducible recording."""
    program = shutil.which("espeak-ng")
    assert program, "espeak-ng is needed (the Makefile installs it)"
    subprocess.run([program, "-v", voice, "-s", str(speed), "-g", str(gap), "-w", str(path), "--stdin"],
                   input=text.encode(), check=True, capture_output=True)
    return path
