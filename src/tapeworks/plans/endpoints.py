"""Plans API: where the caller stands and what they may do next (`/plan`), and the admin
API that alone changes plans, roles and usage (`/admin`). Each router states its prefix once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, Query, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from tapeworks.errors import QuotaExceeded, TapeworksError
from tapeworks.http.deps import DbDep, RuntimeDep
from tapeworks.http.inputs import PageOffset
from tapeworks.logging import get_logger
from tapeworks.plans import enforcement, service
from tapeworks.plans.schemas import (
    AdminUsageOut,
    AdminUserOut,
    AdminUserPage,
    AdminUserPatch,
    CataloguePlan,
    PlanLimits,
    PlanOut,
    UsageAdjustmentRequest,
    UsageEntryOut,
    ValidateActionRequest,
    ValidateActionResponse,
    usage_out,
)
from tapeworks.users.deps import CurrentAdmin, CurrentUser, current_principal
from tapeworks.users.service import Principal, get_user

if TYPE_CHECKING:
    from tapeworks.runtime import Runtime

log = get_logger("tapeworks.plans")

router = APIRouter(prefix="/plan", tags=["plans"])
admin_router = APIRouter(prefix="/admin", tags=["admin"])

UNAVAILABLE_DOC: dict[int | str, dict[str, Any]] = {503: {"model": ValidateActionResponse,
                         "description": "the check could not run; the action is refused"}}


@router.get("", response_model=PlanOut)
def get_plan(principal: CurrentUser, db: DbDep, rt: RuntimeDep) -> PlanOut:
    """The caller's plan, every limit, and usage in the current billing period."""
    ov = service.overview(db, rt, principal.user_id)
    return PlanOut.of(ov.plan, ov.usage)


@router.post("/validate-action", response_model=ValidateActionResponse, responses=UNAVAILABLE_DOC)
def validate_action(body: ValidateActionRequest, request: Request) -> JSONResponse:
    """Would the plan allow this action now? `allowed` is false (with the reason) when a limit
    refuses it, when the caller's plan is missing from the catalogue, and (with status 503)
    when the check cannot run, e.g. the database is unreachable. It never allows on error."""
    rt: Runtime = request.app.state.runtime
    try:
        principal: Principal = current_principal(request)
    except TapeworksError:
        raise  # 401 and friends
    except SQLAlchemyError as exc:  # cannot even identify the caller: refuse, say why
        log.error("plans.check_failed", action=body.action, stage="authentication",
                  error=f"{type(exc).__name__}: {exc}"[:300])
        return _answer(service.unavailable(
            body.action, "the database could not be reached"), ran=False)
    decision, ran = service.validate_action(rt, principal.user_id, body.action,
                                            body.params.model_dump(exclude_none=True))
    return _answer(decision, ran=ran)


def _answer(decision: enforcement.Decision, *, ran: bool) -> JSONResponse:
    out = ValidateActionResponse.of(decision)
    return JSONResponse(out.model_dump(mode="json"),
                        status_code=status.HTTP_200_OK if ran else status.HTTP_503_SERVICE_UNAVAILABLE)


# --- admin -------------------------------------------------------------------------------------
@admin_router.get("/plans", response_model=list[CataloguePlan])
def admin_plans(_admin: CurrentAdmin, rt: RuntimeDep) -> list[CataloguePlan]:
    """The plan catalogue this server runs with (defaults plus operator overrides)."""
    return [CataloguePlan(name=p.name, limits=PlanLimits(**p.limits())) for p in rt.plans.values()]


@admin_router.get("/users", response_model=AdminUserPage)
def admin_list_users(
    _admin: CurrentAdmin, db: DbDep, rt: RuntimeDep,
    q: Annotated[str | None, Query(max_length=200, description="search emails")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: PageOffset = 0,
) -> AdminUserPage:
    rows, total = service.list_users(db, q=q, limit=limit, offset=offset)
    return AdminUserPage(items=[AdminUserOut.of(u, rt.plans) for u in rows], total=total,
                         limit=limit, offset=offset)


@admin_router.get("/users/{user_id}", response_model=AdminUserOut)
def admin_get_user(user_id: str, _admin: CurrentAdmin, db: DbDep, rt: RuntimeDep) -> AdminUserOut:
    return AdminUserOut.of(get_user(db, user_id), rt.plans)


@admin_router.patch("/users/{user_id}", response_model=AdminUserOut)
def admin_update_user(user_id: str, body: AdminUserPatch, admin: CurrentAdmin, db: DbDep,
                      rt: RuntimeDep) -> AdminUserOut:
    """Change a user's plan, role or whether the account is active."""
    user = service.update_user(db, rt, admin.user_id, user_id, plan=body.plan, role=body.role,
                               is_active=body.is_active)
    return AdminUserOut.of(user, rt.plans)


@admin_router.post("/users/{user_id}/usage-adjustments", response_model=UsageEntryOut,
                   status_code=status.HTTP_201_CREATED)
def admin_adjust_usage(
    user_id: str, body: UsageAdjustmentRequest, admin: CurrentAdmin, db: DbDep,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> UsageEntryOut:
    """Add a ledger entry of kind `adjustment` (negative seconds give time back)."""
    entry = service.adjust_usage(db, admin.user_id, user_id, seconds=body.seconds, note=body.note,
                                 idempotency_key=idempotency_key)
    return UsageEntryOut.of(entry)


@admin_router.get("/users/{user_id}/usage", response_model=AdminUsageOut)
def admin_user_usage(
    user_id: str, _admin: CurrentAdmin, db: DbDep, rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: PageOffset = 0,
) -> AdminUsageOut:
    """A user's usage this period and their ledger entries (newest first)."""
    user = get_user(db, user_id)
    with enforcement.failing_closed("usage report"):
        snap = enforcement.snapshot(db, rt, user.id)
    try:
        plan = rt.plans.get_plan(user.plan)
    except QuotaExceeded:
        plan = None
    entries, total = service.ledger(db, user.id, limit=limit, offset=offset)
    return AdminUsageOut(user_id=user.id, plan=user.plan, plan_defined=plan is not None,
                         usage=usage_out(plan, snap), period_start=snap.period_start,
                         reset_at=snap.reset_at, entries=[UsageEntryOut.of(e) for e in entries],
                         total_entries=total)
