"""Page sign-in and CSRF: the signed `tw_session` cookie and tokens bound to it.

The cookie holds an access token (issued by `users.service.issue_token(kind="access")`)
signed with the app's secret key; it is httpOnly, SameSite=Lax, and Secure on https.
CSRF tokens are an HMAC of the cookie's token (after sign-in) or of a random pre-session
nonce (sign-in and setup forms), so a forged cross-site request cannot carry one.
Form posts send it as the `csrf_token` field; page JavaScript calling the JSON API with
the cookie sends it as the `X-CSRF-Token` header, checked where the cookie is read
(`cookie_reader`), so Bearer-token clients are unaffected.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken
from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from tapeworks.errors import Forbidden
from tapeworks.http.deps import READ_METHODS
from tapeworks.users.deps import SESSION_COOKIE

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

PRE_COOKIE = "tw_pre"
FLASH_COOKIE = "tw_flash"
FLASH_SECONDS = 300
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_SALT = "tapeworks.web.session"


def _runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _secret(request: Request) -> str:
    cached = getattr(request.app.state, "web_secret", None)
    if cached is None:
        cached = _runtime(request).settings.resolved_secret_key()
        request.app.state.web_secret = cached
    return str(cached)


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(_secret(request), salt=_SALT)


def is_https(request: Request) -> bool:
    """The request came over https. Behind a proxy, its X-Forwarded-Proto says so only when
    the proxy is in TAPEWORKS_TRUSTED_PROXIES (the app's proxy middleware sets the scheme);
    the header of anyone else is ignored."""
    return request.url.scheme == "https"


def session_token(request: Request) -> str | None:
    """The access token in the signed cookie, or None (absent, tampered or too old)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    max_age = _runtime(request).settings.access_token_ttl_seconds
    try:
        value = _serializer(request).loads(raw, max_age=max_age)
    except BadSignature:
        return None
    return value if isinstance(value, str) and value else None


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, _serializer(request).dumps(token),
        max_age=_runtime(request).settings.access_token_ttl_seconds,
        httponly=True, samesite="lax", secure=is_https(request), path="/",
    )
    response.delete_cookie(PRE_COOKIE, path="/")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=is_https(request))


def _pre_nonce(request: Request) -> str | None:
    raw = request.cookies.get(PRE_COOKIE)
    if not raw:
        return None
    try:
        value = _serializer(request).loads(raw, salt=_SALT + ".pre")
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def _mac(request: Request, purpose: str, seed: str) -> str:
    return hmac.new(_secret(request).encode(), f"csrf|{purpose}|{seed}".encode(),
                    hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The CSRF token for this browser: bound to its session, or to a pre-session nonce
    (created here when the browser has neither; `persist_pre_nonce` sets its cookie)."""
    token = session_token(request)
    if token:
        return _mac(request, "session", token)
    nonce = getattr(request.state, "pre_nonce", None) or _pre_nonce(request)
    if nonce is None:
        nonce = secrets.token_urlsafe(24)
        request.state.pre_nonce = nonce
        request.state.pre_nonce_new = True
    return _mac(request, "pre", nonce)


def persist_pre_nonce(request: Request, response: Response) -> None:
    """Set the pre-session cookie if `csrf_token` just created its nonce."""
    if getattr(request.state, "pre_nonce_new", False):
        response.set_cookie(PRE_COOKIE,
                            _serializer(request).dumps(request.state.pre_nonce, salt=_SALT + ".pre"),
                            max_age=3600 * 12, httponly=True, samesite="lax",
                            secure=is_https(request), path="/")


def csrf_valid(request: Request, presented: str | None) -> bool:
    if not presented:
        return False
    token = session_token(request)
    if token:
        return hmac.compare_digest(presented, _mac(request, "session", token))
    nonce = _pre_nonce(request)
    return nonce is not None and hmac.compare_digest(presented, _mac(request, "pre", nonce))


def cookie_reader(request: Request) -> str | None:
    """`app.state.cookie_reader`: the token for API calls made by the pages' JavaScript.

    Unsafe methods must carry the CSRF header matching the cookie, or are refused.
    """
    token = session_token(request)
    if token is None:
        return None
    if request.method not in READ_METHODS:
        presented = request.headers.get(CSRF_HEADER)
        if not presented or not hmac.compare_digest(presented, _mac(request, "session", token)):
            raise Forbidden("this request was signed in with the page cookie but has no valid "
                            "X-CSRF-Token header; reload the page and try again")
    return token


# --- one-time flash (POST, then redirect, then GET shows it once) ---------------------------
def _fernet(request: Request) -> Fernet:
    key = hashlib.sha256(f"tapeworks.web.flash|{_secret(request)}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def set_flash(request: Request, response: Response, **values: Any) -> None:
    """What the page after a redirect shows once (a message, a form's values, a new API
    token). Encrypted, not only signed: a new token must not sit readable in a cookie."""
    token = _fernet(request).encrypt(json.dumps(values).encode()).decode()
    response.set_cookie(FLASH_COOKIE, token, max_age=FLASH_SECONDS, httponly=True,
                        samesite="lax", secure=is_https(request), path="/")


def pop_flash(request: Request) -> dict[str, Any]:
    """The flash set by the previous response ({} when none); the page that renders it
    clears the cookie (`render` does), so a reload shows nothing again."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return {}
    request.state.flash_read = True
    try:
        data = json.loads(_fernet(request).decrypt(raw.encode(), ttl=FLASH_SECONDS))
    except (InvalidToken, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def clear_flash_if_read(request: Request, response: Response) -> None:
    if getattr(request.state, "flash_read", False):
        response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="lax",
                               secure=is_https(request))
