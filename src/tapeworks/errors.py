"""One error hierarchy for the whole service.

Every expected failure is a `TapeworksError` subclass carrying an HTTP status and a
stable `code`. The single handler in `app.py` turns them into
`{"error": {"code", "message", "request_id"}}`; anything else becomes a 500 with
code `internal_error` and a request id that also appears in the log line.
Services, tasks and the CLI raise these; they never build HTTP responses.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TapeworksError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    # For errors on the server's side (status >= 500): what a user is told when a job fails
    # this way. The message itself (paths, hosts, hashes) is for the operator's log only.
    public_reason: ClassVar[str] = "the server could not finish the work"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None,
                 public_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        # When `message` is for the operator (it names a storage key, a path or a host):
        # what an HTTP response says instead (the message and details go to the log).
        self.public_message = public_message

    def __str__(self) -> str:
        return self.message


class BadRequest(TapeworksError):
    status_code = 400
    code = "bad_request"


class WrongPassword(TapeworksError):
    """The current password given to change it is not the account's."""

    status_code = 400
    code = "wrong_password"


class ValidationFailed(TapeworksError):
    status_code = 422
    code = "validation_error"


class Unauthorized(TapeworksError):
    status_code = 401
    code = "unauthorized"


class Forbidden(TapeworksError):
    status_code = 403
    code = "forbidden"


class NotFound(TapeworksError):
    """Also used for other users' resources: never leak that they exist."""

    status_code = 404
    code = "not_found"


class Conflict(TapeworksError):
    status_code = 409
    code = "conflict"


class Gone(TapeworksError):
    """The thing existed but was deliberately removed (e.g. purged source audio)."""

    status_code = 410
    code = "gone"


class PayloadTooLarge(TapeworksError):
    status_code = 413
    code = "file_too_large"


class UnsupportedMedia(TapeworksError):
    """An upload that is not decodable audio: empty, not audio, no audio stream, truncated."""

    status_code = 415
    code = "invalid_audio"


class RangeNotSatisfiable(TapeworksError):
    status_code = 416
    code = "range_not_satisfiable"


class TooManyAttempts(TapeworksError):
    """Too many failed password checks (per account and address, or per address): wait
    `details["retry_after_seconds"]` (the response's `Retry-After`)."""

    status_code = 429
    code = "too_many_attempts"


class QuotaExceeded(TapeworksError):
    """A plan limit refuses the action."""

    status_code = 403
    code = "quota_exceeded"


class ServiceUnavailable(TapeworksError):
    """A dependency (database, store, queue) cannot be reached; the action was refused."""

    status_code = 503
    code = "service_unavailable"
    public_reason = "a service it depends on could not be reached"


class ArtifactMissing(TapeworksError):
    """The database says an artifact exists but the object store does not have it.

    Never papered over with `None`: this is a server-side inconsistency.
    """

    status_code = 500
    code = "artifact_missing"
    public_reason = "a stored file it needs is missing"


class InvalidAudio(UnsupportedMedia):
    code = "invalid_audio"


class EngineError(TapeworksError):
    """The speech engine could not run (model missing, corrupted, API refused)."""

    status_code = 500
    code = "engine_error"
    public_reason = "the speech engine could not run"


class ConfigError(TapeworksError):
    status_code = 500
    code = "config_error"
    public_reason = "the server is not configured for it"
