"""The error responses in the OpenAPI document: every operation lists the errors it can
answer, all in the one error shape (`{"error": {"code", "message", "request_id"}}`), so a
client generated from the document (or a fuzzer checking it) knows them.

FastAPI documents only its own 422 shape, which is not ours: `document_errors` replaces it
and adds, by what the operation takes, 401/403 (signed-in routes), 404 (a path id), 413 and
415 (a body, an upload), 422 (parameters or a body), 429 (sign-in and password checks), 503
(a dependency unreachable) and `default` (any other error, e.g. 500 with a request id).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, machine-readable, e.g. not_found, quota_exceeded")
    message: str = Field(description="what went wrong, in words, for people")
    request_id: str | None = Field(description="quote it when reporting a problem")
    details: dict[str, Any] | None = Field(default=None,
                                           description="limits and values behind the error")


class ErrorBody(BaseModel):
    error: ErrorDetail


_REF = {"$ref": "#/components/schemas/ErrorBody"}
_DESCRIPTIONS = {
    "401": "not signed in, or the token is unknown, expired or revoked",
    "403": "not allowed: the plan refuses it, it needs an administrator, or a page call "
           "lacks its CSRF header",
    "404": "no such thing, or it belongs to another account",
    "409": "the thing is not in a state that allows this",
    "413": "the body (or the upload) is larger than allowed",
    "415": "the upload is not audio we can read",
    "422": "a parameter or a field of the body is not valid (the message names it)",
    "429": "too many attempts; `Retry-After` says when to try again",
    "503": "a service it depends on could not be reached; nothing was done",
    "default": "an error; `code` says which (500 `internal_error` carries a request id)",
}
# Routes that answer without a signed-in caller.
_PUBLIC = {("post", "/api/v1/auth/login")}
# Routes that count failed password checks.
_THROTTLED = {("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/password")}
_UPLOAD_TYPES = ("multipart/form-data",)


def _error(code: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _DESCRIPTIONS[code],
                                "content": {"application/json": {"schema": _REF}}}
    if code in ("429", "503"):
        response["headers"] = {"Retry-After": {"description": "seconds to wait",
                                               "schema": {"type": "integer"}}}
    return response


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in components["ErrorBody"].pop("$defs", {}).items():
        components[name] = sub
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses: dict[str, Any] = op["responses"]
            codes = {"default", "503"}
            params = op.get("parameters") or []
            body = op.get("requestBody")
            if params or body:
                codes.add("422")
            if any(p.get("in") == "path" for p in params):
                codes.add("404")
            if body:
                codes.add("413")
                if any(t in body.get("content", {}) for t in _UPLOAD_TYPES):
                    codes.update({"415", "403"})
            if path.startswith("/api/v1/") and (method, path) not in _PUBLIC:
                codes.update({"401", "403"})
            if method in ("post", "put", "patch", "delete") and path.startswith("/api/v1/"):
                codes.add("409")
            if (method, path) in _THROTTLED:
                codes.update({"401", "429"} if (method, path) in _PUBLIC else {"429"})
            for code in sorted(codes):
                # a route's own documentation of a status stands (e.g. /readyz's 503 is
                # `{"ready": false}`); FastAPI's 422 is not our shape and is replaced
                if code not in responses or code == "422":
                    responses[code] = _error(code)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema
