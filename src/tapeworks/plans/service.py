"""Plans for people: what a user may do next, where they stand, and what admins change.

Only administrators change a plan, a role or the usage ledger (the admin API and the CLI);
nothing here is reachable by a normal user except the read-only `overview` and
`validate_action`, which never allow on error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from tapeworks.errors import Conflict, QuotaExceeded, TapeworksError, ValidationFailed
from tapeworks.logging import get_logger
from tapeworks.plans import enforcement
from tapeworks.plans.catalogue import Plan
from tapeworks.plans.enforcement import Decision, Limit, UsageSnapshot
from tapeworks.plans.models import UsageEntry
from tapeworks.users.models import USER_ROLES, User
from tapeworks.users.service import get_user

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.plans")

MAX_ADJUSTMENT_SECONDS = 10 * 365 * 24 * 3600


# --- validate-action ---------------------------------------------------------------------------
def validate_action(rt: Runtime, user_id: str, action: str, params: dict[str, Any], *,
                    now: datetime | None = None) -> tuple[Decision, bool]:
    """What the plan says about `action`. Returns (decision, check_ran).

    Never allows on error: a missing plan is a refusal naming the plan; a database that cannot
    be reached (or any other failure of the check) is a refusal with `check_ran=False`.
    """
    try:
        with rt.database.transaction(write=False) as db:
            plan = enforcement.plan_for(db, rt, user_id)
            snap = enforcement.snapshot(db, rt, user_id, now)
            decision = enforcement.decide_action(plan, snap, action, params,
                                                 hard_limit=rt.settings.max_upload_bytes)
        return decision, True
    except QuotaExceeded as exc:  # the plan is missing from the catalogue (or the account)
        limit_type = str(exc.details.get("limit_type", "plan_missing"))
        return Decision(False, exc.message, Limit(limit_type, exc.details.get("plan"), None)), True
    except TapeworksError as exc:
        return unavailable(action, exc.message), False
    except SQLAlchemyError as exc:
        log.error("plans.check_failed", action=action, error=f"{type(exc).__name__}: {exc}"[:300])
        return unavailable(action, "the database could not be reached"), False
    except Exception as exc:  # any failure of the check is a refusal, never an allowance
        log.error("plans.check_failed", action=action, error=f"{type(exc).__name__}: {exc}"[:300])
        return unavailable(action, "the check failed"), False


def unavailable(action: str, why: str) -> Decision:
    return Decision(False, f"the plan check for {action} could not run: {why}; the action is "
                    "refused until it can, try again shortly",
                    Limit("check_unavailable", None, None))


# --- where a user stands ----------------------------------------------------------------------
@dataclass(frozen=True)
class Overview:
    plan: Plan
    usage: UsageSnapshot


def overview(db: DbSession, rt: Runtime, user_id: str, now: datetime | None = None) -> Overview:
    with enforcement.failing_closed("plan overview"):
        plan = enforcement.plan_for(db, rt, user_id)
        return Overview(plan, enforcement.snapshot(db, rt, user_id, now))


# --- admin -----------------------------------------------------------------------------------
def list_users(db: DbSession, *, q: str | None = None, limit: int = 50,
               offset: int = 0) -> tuple[list[User], int]:
    stmt = select(User)
    if q:
        stmt = stmt.where(func.lower(User.email).like(f"%{q.strip().lower()}%"))
    total = int(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = db.scalars(stmt.order_by(User.created_at, User.id).limit(limit).offset(offset))
    return list(rows), total


def update_user(db: DbSession, rt: Runtime, actor_id: str, user_id: str, *,
                plan: str | None = None, role: str | None = None,
                is_active: bool | None = None) -> User:
    """Change a user's plan, role or active flag (administrators only; the edge checks)."""
    user = _locked_user(db, user_id)
    if plan is not None:
        if plan not in rt.plans:
            raise ValidationFailed(f"plan {plan!r} is not in the plan catalogue; plans are: "
                                   f"{', '.join(rt.plans)}")
        if plan != user.plan:
            log.info("plans.plan_changed", user_id=user.id, actor_id=actor_id,
                     old=user.plan, new=plan)
            user.plan = plan
    if role is not None:
        if role not in USER_ROLES:
            raise ValidationFailed(f"role must be one of {', '.join(USER_ROLES)}")
        if role != user.role:
            if user.role == "admin":
                _keep_an_admin(db, user.id)
            log.info("plans.role_changed", user_id=user.id, actor_id=actor_id,
                     old=user.role, new=role)
            user.role = role
    if is_active is not None and is_active != user.is_active:
        if not is_active and user.role == "admin":
            _keep_an_admin(db, user.id)
        user.is_active = is_active
        log.info("plans.active_changed", user_id=user.id, actor_id=actor_id, active=is_active)
    db.flush()
    return user


def _locked_user(db: DbSession, user_id: str) -> User:
    stmt = select(User).where(User.id == user_id)
    if db.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    user = db.scalar(stmt)
    if user is None:
        return get_user(db, user_id)  # raises NotFound
    return user


def _keep_an_admin(db: DbSession, leaving_id: str) -> None:
    others = db.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.is_active.is_(True), User.id != leaving_id))
    if not others:
        raise Conflict("this is the last active administrator; make another user an "
                       "administrator first")


def adjust_usage(db: DbSession, actor_id: str, user_id: str, *, seconds: float, note: str,
                 idempotency_key: str | None = None) -> UsageEntry:
    """An append-only correction to a user's usage (negative to credit time back).

    With an idempotency key a retried request adds one entry, not two (rule 7)."""
    _locked_user(db, user_id)
    if seconds == 0 or abs(seconds) > MAX_ADJUSTMENT_SECONDS:
        raise ValidationFailed("seconds must be non-zero and at most ten years of audio")
    key = f"adjustment:{user_id}:{idempotency_key}" if idempotency_key \
        else f"adjustment:{uuid.uuid4().hex}"
    existing = db.scalar(select(UsageEntry).where(UsageEntry.idempotency_key == key))
    if existing is not None:
        return existing
    entry = UsageEntry(user_id=user_id, kind="adjustment", audio_seconds=round(float(seconds), 3),
                       idempotency_key=key, note=f"{note.strip()} (by {actor_id})"[:300])
    db.add(entry)
    db.flush()
    log.info("usage.adjusted", user_id=user_id, actor_id=actor_id, seconds=entry.audio_seconds)
    return entry


def ledger(db: DbSession, user_id: str, *, since: datetime | None = None, limit: int = 100,
           offset: int = 0) -> tuple[list[UsageEntry], int]:
    stmt = select(UsageEntry).where(UsageEntry.user_id == user_id)
    if since is not None:
        stmt = stmt.where(UsageEntry.created_at >= since)
    total = int(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    rows = db.scalars(stmt.order_by(UsageEntry.created_at.desc(), UsageEntry.id)
                      .limit(limit).offset(offset))
    return list(rows), total

