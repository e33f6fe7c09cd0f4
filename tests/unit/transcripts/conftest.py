"""Make `tapeworks` importable when the package is not installed in the venv."""

import sys
from pathlib import Path

try:  # pragma: no cover - depends on the environment
    import tapeworks  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
