"""Structured logs (structlog), JSON by default, with the request id bound per request.

Event names read `domain.event` (`job.claimed`, `session.created`, `http.request`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_configured = False


def configure_logging(level: str = "INFO", json: bool = True) -> None:
    global _configured
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_StderrLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    # Standard-library loggers (uvicorn, huey, alembic) go to stderr in plain lines.
    if not _configured:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(level.upper())
        for noisy in ("huey", "httpx", "httpx2", "botocore", "urllib3", "alembic.runtime.migration"):
            logging.getLogger(noisy).setLevel("WARNING")
        _configured = True


class _StderrLogger:
    """Writes each line to the *current* sys.stderr (so redirection and capture work)."""

    def msg(self, message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


class _StderrLoggerFactory:
    def __call__(self, *args: Any) -> _StderrLogger:
        return _StderrLogger()


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
