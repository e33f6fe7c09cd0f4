"""Sign-in throttling: failed password checks counted in the database, so every API process
sees the same counts (a small limiter of our own; one indexed table, pruned to the window).

Two rules, both within `login_window_seconds`:
- per (account, address): `login_max_failures_per_account` failures for one email from one
  client address (the address is part of the key, so nobody can lock a victim out from
  elsewhere);
- per address: `login_max_failures_per_address` failures from one address, whatever the
  emails (so one address cannot try many accounts).
When a rule is full, the next attempt is refused before the password is checked (429,
code `too_many_attempts`, `Retry-After`: when enough failures have left the window for one
more attempt). A refused attempt is not counted. A successful sign-in clears the failures
of that account from that address. The account's owner is told on the account page
(`users.failed_logins`, until dismissed).

Services flush; the edge commits (the failure must be committed although the caller
answers 401: the edges commit, then raise).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, delete, func, select, text
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import TooManyAttempts
from tapeworks.users.models import LoginFailure, User

if TYPE_CHECKING:
    from tapeworks.config import Settings

MAX_ADDRESS_LENGTH = 64


def key_email(email: str) -> str:
    return email.strip().lower()[:320]


def key_address(address: str | None) -> str:
    return (address or "unknown")[:MAX_ADDRESS_LENGTH]


def _retry_after(db: DbSession, where: list[ColumnElement[bool]], limit: int, since: datetime,
                 window: float, now: datetime) -> float | None:
    """Seconds until fewer than `limit` failures matching `where` are left in the window,
    or None when there are fewer already."""
    count = int(db.scalar(select(func.count()).select_from(LoginFailure)
                          .where(LoginFailure.failed_at > since, *where)) or 0)
    if count < limit:
        return None
    # once the (count - limit + 1) oldest have left the window, one more attempt is allowed
    pivot = db.scalar(select(LoginFailure.failed_at)
                      .where(LoginFailure.failed_at > since, *where)
                      .order_by(LoginFailure.failed_at).offset(count - limit).limit(1))
    if pivot is None:  # pragma: no cover - rows deleted between the two reads
        return None
    return max(1.0, (pivot + timedelta(seconds=window) - now).total_seconds())


def check_allowed(db: DbSession, settings: Settings, *, email: str, address: str | None,
                  now: datetime) -> None:
    """Raise TooManyAttempts when either rule is full for this email and address."""
    window = settings.login_window_seconds
    since = now - timedelta(seconds=window)
    addr = key_address(address)
    if db.get_bind().dialect.name == "postgresql":
        # attempts from one address are checked one after another (until the commit), so
        # concurrent guesses cannot all pass the check before any is counted; SQLite's
        # write transaction (BEGIN IMMEDIATE) already serialises them
        db.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"login|{addr}"})
    waits = [
        _retry_after(db, [LoginFailure.email == key_email(email), LoginFailure.address == addr],
                     settings.login_max_failures_per_account, since, window, now),
        _retry_after(db, [LoginFailure.address == addr],
                     settings.login_max_failures_per_address, since, window, now),
    ]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        minutes = max(1, math.ceil(wait / 60))
        raise TooManyAttempts(
            f"too many failed sign-in attempts; try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}",
            details={"retry_after_seconds": math.ceil(wait)},
        )


def record_failure(db: DbSession, settings: Settings, *, email: str, address: str | None,
                   now: datetime) -> None:
    """Count a failed password check (and tell the account's owner, if the account exists);
    failures older than the window are deleted on the way."""
    db.execute(delete(LoginFailure).where(
        LoginFailure.failed_at <= now - timedelta(seconds=settings.login_window_seconds)))
    db.add(LoginFailure(email=key_email(email), address=key_address(address), failed_at=now))
    user = db.scalar(select(User).where(User.email == key_email(email)))
    if user is not None:
        user.failed_logins = (user.failed_logins or 0) + 1
        user.last_failed_login_at = now
        user.last_failed_login_address = key_address(address)
    db.flush()


def clear_failures(db: DbSession, *, email: str, address: str | None) -> None:
    """After a successful sign-in: that account's failures from that address no longer
    count (the address's failures on other accounts still do)."""
    db.execute(delete(LoginFailure).where(LoginFailure.email == key_email(email),
                                          LoginFailure.address == key_address(address)))


def dismiss_notice(db: DbSession, user_id: str) -> None:
    """The owner has seen the failed sign-ins on the account page."""
    user = db.get(User, user_id)
    if user is not None:
        user.failed_logins = 0
        db.flush()
