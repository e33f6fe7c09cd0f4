"""Accounts and tokens. Services flush; the edge commits."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from tapeworks.db.base import utcnow
from tapeworks.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from tapeworks.http.inputs import clean_text
from tapeworks.users.models import ApiToken, User

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password")
TOKEN_PREFIX = "tw_"
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

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def principal_of(user: User, token_id: str | None = None) -> Principal:
    return Principal(user.id, user.email, user.name, user.role, user.plan, token_id)


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
) -> tuple[ApiToken, str]:
    """Create a token; the plain value is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(seconds=ttl_seconds) if ttl_seconds else None
    token = ApiToken(user_id=user.id, kind=kind, name=clean_text(name, 200), token_hash=hash_token(plain),
                     prefix=plain[:10], expires_at=expires)
    db.add(token)
    db.flush()
    return token, plain


def resolve_token(db: DbSession, plain: str, *, now: datetime | None = None) -> Principal:
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
    return principal_of(user, token.id)


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


def delete_user(db: DbSession, user_id: str) -> None:
    user = get_user(db, user_id)
    db.delete(user)
    db.flush()
