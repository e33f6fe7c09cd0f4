from __future__ import annotations

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
