from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.paths import JFK


@pytest.fixture
def jfk() -> Path:
    if not JFK.exists():
        pytest.fail(f"shared speech sample missing at {JFK}: clone with ../shared beside it")
    return JFK
