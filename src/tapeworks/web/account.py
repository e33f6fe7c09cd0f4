"""The account page: API tokens and plan usage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.users import service as users
from tapeworks.users.service import Principal
from tapeworks.web.common import (
    ctx,
    page_errors,
    plan_summary,
    redirect,
    render,
    require_csrf,
    require_user,
    runtime_of,
)

router = APIRouter(include_in_schema=False)


# --- account ---------------------------------------------------------------------------------
def _account(request: Request, principal: Principal, *, new_token: str | None = None,
             new_token_name: str = "", error: str | None = None,
             status_code: int = 200) -> Response:
    rt = runtime_of(request)
    with rt.database.transaction(write=False) as db, page_errors():
        user = users.get_user(db, principal.user_id)
        tokens = [{"id": t.id, "name": t.name or "(unnamed)", "prefix": t.prefix,
                   "created_at": t.created_at, "expires_at": t.expires_at,
                   "last_used_at": t.last_used_at}
                  for t in users.list_tokens(db, principal.user_id)]
        plan = plan_summary(db, rt, principal)
        account = {"email": user.email, "name": user.name, "role": user.role}
    return render(request, "account.html", ctx(
        request, account=account, tokens=tokens, plan=plan, new_token=new_token,
        new_token_name=new_token_name, error=error), status_code=status_code,
        principal=principal)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    return _account(request, require_user(request))


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    expires_in_days: Annotated[str, Form(max_length=6)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    days: int | None = None
    if expires_in_days.strip():
        if not expires_in_days.strip().isdigit() or not 1 <= int(expires_in_days) <= 3650:
            return _account(request, principal, error="Expiry must be a number of days from "
                            "1 to 3650, or empty for no expiry.", status_code=422)
        days = int(expires_in_days)
    with runtime_of(request).database.transaction() as db, page_errors():
        user = users.get_user(db, principal.user_id)
        _tok, plain = users.issue_token(db, user, kind="personal", name=name.strip()[:200],
                                        ttl_seconds=days * 86400 if days else None)
    # Rendered in this response only: the plain token is never stored or shown again.
    return _account(request, principal, new_token=plain, new_token_name=name.strip())


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str,
                 csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with runtime_of(request).database.transaction() as db, page_errors():
        users.revoke_token(db, principal.user_id, token_id)
    return redirect("/account?revoked=1")
