"""Errors on the OpenAI-compatible routes, in OpenAI's shape so its clients show them.

``{"error": {"message", "type", "param", "code", "request_id"}}``: OpenAI's fields plus our
request id (also in the ``x-request-id`` header, which the `openai` client reads).
The status codes are the ones OpenAI's clients turn into their exception classes:
400 `BadRequestError`, 401 `AuthenticationError`, 403 `PermissionDeniedError`,
404 `NotFoundError`, 413, 429 `RateLimitError`, 5xx `InternalServerError`.

Our errors map as follows; the message is always ours, in the user's words:

* a plan with no audio minutes (or storage) left -> 429, type and code ``insufficient_quota``;
* a recording longer than the synchronous limit or the plan's per-recording limit, a file
  over the size limit -> 413 (``audio_too_long``, ``file_too_large``);
* not audio -> 400 ``invalid_audio``; a form that does not validate -> 400;
* an unknown model -> 404 ``model_not_found``; a bad token -> 401 ``invalid_api_key``.
"""

from __future__ import annotations

from typing import Any

from tapeworks.errors import (
    NotFound,
    PayloadTooLarge,
    QuotaExceeded,
    TapeworksError,
    UnsupportedMedia,
    ValidationFailed,
)

# Plan limits that mean "nothing left to spend": OpenAI's insufficient_quota.
SPENT_LIMITS = frozenset({"monthly_audio_seconds", "max_storage_bytes"})
LENGTH_LIMITS = frozenset({"max_recording_seconds", "sync_max_seconds"})


def error_body(message: str, *, type: str, code: str | None, param: str | None = None,
               request_id: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code,
                      "request_id": request_id}}


def translate(exc: TapeworksError, request_id: str | None) -> tuple[int, dict[str, Any]]:
    """Status and OpenAI-shaped body for one of our errors."""
    limit_type = exc.details.get("limit_type")
    param = exc.details.get("field") if isinstance(exc.details.get("field"), str) else None

    def body(type_: str, code: str | None) -> dict[str, Any]:
        return error_body(exc.message, type=type_, code=code, param=param,
                          request_id=request_id)

    if isinstance(exc, QuotaExceeded):
        if limit_type in SPENT_LIMITS:
            return 429, body("insufficient_quota", "insufficient_quota")
        if limit_type in LENGTH_LIMITS:
            return 413, body("invalid_request_error", "audio_too_long")
        return 403, body("invalid_request_error", exc.code)
    if isinstance(exc, PayloadTooLarge):
        code = "audio_too_long" if limit_type in LENGTH_LIMITS else "file_too_large"
        return 413, body("invalid_request_error", code)
    if isinstance(exc, UnsupportedMedia):
        return 400, body("invalid_request_error", "invalid_audio")
    if isinstance(exc, ValidationFailed):
        return 400, body("invalid_request_error", exc.code)
    if isinstance(exc, NotFound) and exc.details.get("field") == "model":
        return 404, body("invalid_request_error", "model_not_found")
    if exc.status_code == 401:
        return 401, body("invalid_request_error", "invalid_api_key")
    if exc.status_code >= 500:
        return exc.status_code, body("server_error", exc.code)
    return exc.status_code, body("invalid_request_error", exc.code)


def unexpected(request_id: str | None) -> tuple[int, dict[str, Any]]:
    return 500, error_body("an unexpected error occurred; quote the request id when "
                           "reporting it", type="server_error", code="internal_error",
                           request_id=request_id)
