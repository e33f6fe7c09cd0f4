"""Accounts and tokens. Services flush; the edge commits."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from tapeworks.http.inputs import clean_text
from tapeworks.production.markers import (
    DEFAULT_EDIT_MARKER,
    DEFAULT_PAUSE_SECONDS,
    with_marker_hotword,
)
from tapeworks.production.settings import validate_bleeps, validate_marker
from tapeworks.users import throttle
from tapeworks.users.models import LOGIN_KINDS, ApiToken, SetupToken, StudioSettings, User

if TYPE_CHECKING:
    from tapeworks.config import Settings

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password")
TOKEN_PREFIX = "tw_"
WEB_PREFIX = "tws_"  # page sign-ins: an opaque session id, accepted only from the cookie
TOUCH_SECONDS = 60.0  # `last_used_at` is written at most once a minute per token
WRONG_LOGIN = "incorrect email or password"
MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class Principal:
    """Who is calling: a plain value, safe to pass around after the session closes."""

    user_id: str
    email: str
    name: str
    role: str
    plan: str
    token_id: str | None = None
    token_kind: str | None = None
    # the token's last use is more than a minute old (the edge writes it, at most once a minute)
    touch_due: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def principal_of(user: User, token_id: str | None = None, token_kind: str | None = None,
                 touch_due: bool = False) -> Principal:
    return Principal(user.id, user.email, user.name, user.role, user.plan, token_id, token_kind,
                     touch_due)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if ("@" not in email or email.startswith("@") or email.endswith("@") or len(email) > 320
            or any(ch.isspace() or not ch.isprintable() for ch in email)):
        raise ValidationFailed(f"{clean_text(email, 320)!r} is not a valid email address")
    return email


def create_user(
    db: DbSession,
    *,
    email: str,
    password: str,
    name: str = "",
    role: str = "user",
    plan: str = "free",
) -> User:
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if role not in ("user", "admin"):
        raise ValidationFailed("role must be 'user' or 'admin'")
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, name=clean_text(name, 200) or email.split("@")[0], role=role, plan=plan,
                password_hash=_hasher.hash(password))
    db.add(user)
    db.flush()
    close_setup(db)  # an account exists: the first-run link is spent
    return user


def count_users(db: DbSession) -> int:
    return db.scalar(select(func.count()).select_from(User)) or 0


def get_user_by_email(db: DbSession, email: str) -> User:
    user = db.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"no user with email {email}")
    return user


def time_zone(db: DbSession, user_id: str) -> ZoneInfo:
    """The user's time zone (UTC when unset or no longer known to this machine)."""
    name = db.scalar(select(User.time_zone).where(User.id == user_id)) or "UTC"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"{name!r} is not a time zone; use a name like 'Europe/Paris' "
                               "or 'UTC'", details={"field": "time_zone"}) from None
    return name


def set_time_zone(db: DbSession, user_id: str, name: str) -> User:
    user = get_user(db, user_id)
    user.time_zone = check_time_zone(name.strip())
    db.flush()
    return user


def get_user(db: DbSession, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def authenticate(db: DbSession, email: str, password: str) -> User:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active:
        # Same work either way, so timing does not reveal which emails exist.
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        raise Unauthorized("incorrect email or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise Unauthorized("incorrect email or password") from None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def authenticate_throttled(db: DbSession, settings: Settings, *, email: str, password: str,
                           address: str | None, now: datetime) -> User | None:
    """Sign-in with throttling (`users.throttle`): TooManyAttempts (429) when a rule is
    full, before the password is checked; None for a wrong email or password (the failure
    is recorded: the caller commits, then answers 401); the user otherwise."""
    throttle.check_allowed(db, settings, email=email, address=address, now=now)
    try:
        user = authenticate(db, email, password)
    except Unauthorized:
        throttle.record_failure(db, settings, email=email, address=address, now=now)
        return None
    throttle.clear_failures(db, email=email, address=address)
    return user


def set_password(db: DbSession, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = _hasher.hash(password)


def issue_token(
    db: DbSession,
    user: User,
    *,
    kind: str,
    name: str = "",
    ttl_seconds: int | None = None,
    address: str | None = None,
    user_agent: str | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; the plain value is returned once and never stored. A `web` token is
    a page sign-in (the cookie's opaque session id, refused as a Bearer token)."""
    plain = (WEB_PREFIX if kind == "web" else TOKEN_PREFIX) + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=ttl_seconds) if ttl_seconds else None
    token = ApiToken(user_id=user.id, kind=kind, name=clean_text(name, 200), token_hash=hash_token(plain),
                     prefix=plain[:10], expires_at=expires,
                     address=(address or None) and address[:64],
                     user_agent=clean_text(user_agent or "", 300) or None)
    db.add(token)
    db.flush()
    return token, plain


def resolve_token(db: DbSession, plain: str, *, now: datetime | None = None,
                  via_cookie: bool = False) -> Principal:
    """Who a token belongs to. A page sign-in (`web`) is accepted only from the signed
    cookie (`via_cookie`), and the cookie carries nothing else."""
    now = now or utcnow()
    row = db.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(plain))
    ).first()
    if row is None:
        raise Unauthorized("the token is not valid (unknown, or its user was deleted)")
    token, user = row
    if token.revoked_at is not None:
        raise Unauthorized("the token was revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthorized("the token has expired; sign in again")
    if not user.is_active:
        raise Unauthorized("the account is disabled")
    if via_cookie != (token.kind == "web"):
        raise Unauthorized("this is a page sign-in, not an API token: create an API token on "
                           "the account page" if token.kind == "web"
                           else "the sign-in cookie is not valid; sign in again")
    due = token.last_used_at is None or (now - token.last_used_at).total_seconds() >= TOUCH_SECONDS
    return principal_of(user, token.id, token.kind, due)


def touch_token(db: DbSession, token_id: str, *, now: datetime | None = None) -> None:
    """Record a token's use, at most once a minute (the condition holds under concurrency)."""
    now = now or utcnow()
    db.execute(update(ApiToken)
               .where(ApiToken.id == token_id,
                      or_(ApiToken.last_used_at.is_(None),
                          ApiToken.last_used_at <= now - timedelta(seconds=TOUCH_SECONDS)))
               .values(last_used_at=now).execution_options(synchronize_session=False))


def list_tokens(db: DbSession, user_id: str) -> list[ApiToken]:
    return list(db.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.kind == "personal",
                               ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.created_at.desc())
    ))


def revoke_token(db: DbSession, user_id: str, token_id: str) -> None:
    token = db.get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        raise NotFound(f"token {token_id} not found")
    token.revoked_at = utcnow()



def revoke_token_value(db: DbSession, plain: str) -> None:
    """Revoke a token by its value (a browser's previous sign-in), if it is still live."""
    db.execute(update(ApiToken).where(ApiToken.token_hash == hash_token(plain),
                                      ApiToken.revoked_at.is_(None))
               .values(revoked_at=utcnow()).execution_options(synchronize_session=False))

# --- logins (the word "session" is taken by recordings) -----------------------------------
def list_logins(db: DbSession, user_id: str, *, now: datetime | None = None) -> list[ApiToken]:
    """The user's live logins: API logins and page sign-ins, neither revoked nor expired."""
    now = now or utcnow()
    return list(db.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.kind.in_(LOGIN_KINDS),
                               ApiToken.revoked_at.is_(None),
                               or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
        .order_by(func.coalesce(ApiToken.last_used_at, ApiToken.created_at).desc())
    ))


def revoke_login(db: DbSession, user_id: str, login_id: str) -> None:
    token = db.get(ApiToken, login_id)
    if token is None or token.user_id != user_id or token.kind not in LOGIN_KINDS \
            or token.revoked_at is not None:
        raise NotFound(f"login {login_id} not found")
    token.revoked_at = utcnow()


def revoke_logins(db: DbSession, user_id: str, *, keep_token_id: str | None = None,
                  personal_tokens: bool = False) -> int:
    """End every login of the user but `keep_token_id` (and, with `personal_tokens`, every
    personal API token too). How many were revoked."""
    kinds = (*LOGIN_KINDS, "personal") if personal_tokens else LOGIN_KINDS
    stmt = (update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.kind.in_(kinds),
                   ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    if keep_token_id:
        stmt = stmt.where(ApiToken.id != keep_token_id)
    return int(db.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def change_password(db: DbSession, settings: Settings, user_id: str, *, current_password: str,
                    new_password: str, keep_token_id: str | None, revoke_tokens: bool,
                    address: str | None, now: datetime) -> bool:
    """Change the password when `current_password` is right (throttled like sign-in: a
    wrong one counts as a failed sign-in); every other login ends, personal tokens too with
    `revoke_tokens`. False for a wrong current password (the caller commits the failure,
    then answers 400 wrong_password)."""
    user = get_user(db, user_id)
    throttle.check_allowed(db, settings, email=user.email, address=address, now=now)
    try:
        _hasher.verify(user.password_hash, current_password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        throttle.record_failure(db, settings, email=user.email, address=address, now=now)
        return False
    set_password(db, user, new_password)
    revoke_logins(db, user.id, keep_token_id=keep_token_id, personal_tokens=revoke_tokens)
    db.flush()
    return True


def set_password_and_sign_out(db: DbSession, user: User, password: str) -> int:
    """An administrator's (CLI) reset: the new password, and every login and API token ends."""
    set_password(db, user, password)
    return revoke_logins(db, user.id, personal_tokens=True)


# --- first-run setup link ----------------------------------------------------------------
def new_setup_token(db: DbSession) -> str:
    """A new setup token (the previous ones stop working); stored hashed, shown once."""
    db.execute(delete(SetupToken))
    plain = secrets.token_urlsafe(32)
    db.add(SetupToken(token_hash=hash_token(plain)))
    db.flush()
    return plain


def setup_token_valid(db: DbSession, plain: str | None) -> bool:
    return bool(plain) and db.scalar(
        select(SetupToken.id).where(SetupToken.token_hash == hash_token(plain or ""))) is not None


def close_setup(db: DbSession) -> None:
    """An account exists: the setup link is spent."""
    db.execute(delete(SetupToken))


def delete_user(db: DbSession, user_id: str) -> None:
    user = get_user(db, user_id)
    db.delete(user)
    db.flush()


# --- studio settings (the spoken edit marker, bleeps) ------------------------------------------
@dataclass(frozen=True)
class Studio:
    """A user's studio settings, as plain values (the defaults when they never set any)."""

    edit_marker: str | None = DEFAULT_EDIT_MARKER
    edit_marker_pause_seconds: float = DEFAULT_PAUSE_SECONDS
    bleep_words: tuple[str, ...] = ()
    bleep_default_list: bool = False
    bleep_mode: str = "beep"

    @property
    def hotwords(self) -> str | None:
        """What every upload's speech engine is told to expect: the marker."""
        return with_marker_hotword(None, self.edit_marker)

    def cleaning_defaults(self) -> dict[str, Any]:
        """The cleaning settings every new episode starts from (its own settings win)."""
        return {"edit_marker": self.edit_marker,
                "edit_marker_pause_seconds": self.edit_marker_pause_seconds,
                "bleep_words": list(self.bleep_words), "bleep_default_list": self.bleep_default_list,
                "bleep_mode": self.bleep_mode}


STUDIO_FIELDS = tuple(f.name for f in fields(Studio))


def _studio_of(row: StudioSettings | None) -> Studio:
    if row is None:
        return Studio()
    return Studio(row.edit_marker, row.edit_marker_pause_seconds, tuple(row.bleep_words or ()),
                  row.bleep_default_list, row.bleep_mode)


def studio_settings(db: DbSession, user_id: str) -> Studio:
    return _studio_of(db.get(StudioSettings, user_id))


def update_studio_settings(db: DbSession, user_id: str, changes: dict[str, Any]) -> Studio:
    """Set the given fields (the others keep their values); an empty marker turns it off."""
    bad = sorted(set(changes) - set(STUDIO_FIELDS))
    if bad:
        raise ValidationFailed(f"unknown studio settings {bad}; allowed: {list(STUDIO_FIELDS)}")
    current = studio_settings(db, user_id)
    given = {k: v for k, v in changes.items() if v is not None or k == "edit_marker"}
    values = {**{f: getattr(current, f) for f in STUDIO_FIELDS}, **given}
    marker = values["edit_marker"]
    values["edit_marker"] = " ".join(marker.split()) if isinstance(marker, str) and marker.strip() else None
    words = [" ".join(str(w).split()) for w in values["bleep_words"] or ()]
    values["bleep_words"] = list(dict.fromkeys(w for w in words if w))
    validate_marker(values["edit_marker"], float(values["edit_marker_pause_seconds"]))
    validate_bleeps(values["bleep_words"], values["bleep_mode"])
    row = db.get(StudioSettings, user_id)
    if row is None:
        row = StudioSettings(user_id=user_id)
        db.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    db.flush()
    return _studio_of(row)


# --- vocabulary: terms the speech engine is told to expect (names, places) --------------------
MAX_VOCABULARY_TERMS = 100
MAX_TERM_CHARS = 60


def parse_vocabulary(value: str | list[str] | None, *, field: str = "vocabulary") -> list[str]:
    """Terms from a comma-separated string (or a list): trimmed, inner spaces folded,
    duplicates dropped (case-insensitively), at most MAX_VOCABULARY_TERMS."""
    raw = value.split(",") if isinstance(value, str) else list(value or [])
    terms: list[str] = []
    seen: set[str] = set()
    for item in raw:
        term = " ".join(clean_text(str(item), 1000).split())
        if not term:
            continue
        if len(term) > MAX_TERM_CHARS:
            raise ValidationFailed(f"the vocabulary term {term[:30]!r}... is longer than "
                                   f"{MAX_TERM_CHARS} characters", details={"field": field})
        if term.lower() not in seen:
            seen.add(term.lower())
            terms.append(term)
    if len(terms) > MAX_VOCABULARY_TERMS:
        raise ValidationFailed(f"the vocabulary has {len(terms)} terms; at most "
                               f"{MAX_VOCABULARY_TERMS} are allowed", details={"field": field})
    return terms


def vocabulary_from_prompt(prompt: str | None) -> str | None:
    """An OpenAI-style `prompt` (free text) as vocabulary terms: split at commas,
    semicolons and line breaks, a piece longer than a term split into its words, at most
    MAX_VOCABULARY_TERMS kept (a prompt is a hint, never refused for its length)."""
    import re

    terms: list[str] = []
    for piece in re.split(r"[,;\n]", clean_text(prompt, 8000) if prompt else ""):
        piece = piece.strip(" .")
        if not piece:
            continue
        terms.extend([piece] if len(piece) <= MAX_TERM_CHARS else
                     [w[:MAX_TERM_CHARS] for w in piece.split()])
    return ", ".join(terms[:MAX_VOCABULARY_TERMS]) or None


def vocabulary(db: DbSession, user_id: str) -> list[str]:
    """The user's default vocabulary (every upload's, unless it gives its own)."""
    user = db.get(User, user_id)
    return list(user.vocabulary or []) if user is not None else []


def set_vocabulary(db: DbSession, user_id: str, terms: str | list[str] | None) -> list[str]:
    user = get_user(db, user_id)
    user.vocabulary = parse_vocabulary(terms, field="terms")
    db.flush()
    return list(user.vocabulary)
