"""The account page: API tokens and plan usage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tapeworks.errors import TapeworksError, TooManyAttempts, ValidationFailed
from tapeworks.notifications import service as notifications
from tapeworks.notifications.messages import MAIL_EVENTS
from tapeworks.users import service as users
from tapeworks.users import throttle
from tapeworks.voices import service as voices
from tapeworks.web.auth import client_address
from tapeworks.web.common import (
    ctx,
    page_errors,
    plan_summary,
    pop_flash,
    redirect,
    render,
    require_csrf,
    require_user,
    runtime_of,
)

router = APIRouter(include_in_schema=False)


# --- account ---------------------------------------------------------------------------------
@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    principal = require_user(request)
    flash = pop_flash(request)
    if flash.get("user_id") != principal.user_id:
        flash = {}  # a flash left by another account in this browser is not shown
    rt = runtime_of(request)
    with rt.database.transaction(write=False) as db, page_errors():
        user = users.get_user(db, principal.user_id)
        tokens = [{"id": t.id, "name": t.name or "(unnamed)", "prefix": t.prefix,
                   "created_at": t.created_at, "expires_at": t.expires_at,
                   "last_used_at": t.last_used_at}
                  for t in users.list_tokens(db, principal.user_id)]
        logins = [{"id": t.id, "kind": "Page sign-in" if t.kind == "web" else "API login",
                   "created_at": t.created_at, "last_used_at": t.last_used_at,
                   "address": t.address, "user_agent": t.user_agent,
                   "current": t.id == principal.token_id}
                  for t in users.list_logins(db, principal.user_id)]
        plan = plan_summary(db, rt, principal)
        account = {"email": user.email, "name": user.name, "role": user.role,
                   "failed_logins": user.failed_logins or 0,
                   "last_failed_login_at": user.last_failed_login_at,
                   "last_failed_login_address": user.last_failed_login_address}
        known = [{"id": v.id, "name": v.name, "role": v.role, "is_me": v.is_me,
                  "sample_count": v.sample_count, "speech_seconds": v.speech_seconds,
                  "created_at": v.created_at}
                 for v in voices.list_voices(db, principal.user_id)]
        vocabulary = ", ".join(users.vocabulary(db, principal.user_id))
        mail = {"chosen": notifications.mail_events(db, principal.user_id),
                "available": list(MAIL_EVENTS), "configured": notifications.mail_configured(rt),
                "email": user.email}
    return render(request, "account.html", ctx(
        request, account=account, tokens=tokens, logins=logins, plan=plan, voices=known,
        vocabulary=flash.get("vocabulary_form", vocabulary),
        voice_notice=flash.get("voice_notice"), vocabulary_error=flash.get("vocabulary_error"),
        vocabulary_notice=flash.get("vocabulary_notice"),
        new_token=flash.get("new_token"),
        new_token_name=flash.get("new_token_name", ""), error=flash.get("error"),
        notice=flash.get("notice"), form=flash.get("form", {}),
        password_error=flash.get("password_error"), password_notice=flash.get("password_notice"),
        logins_notice=flash.get("logins_notice"), mail=mail,
        notifications_notice=flash.get("notifications_notice")), principal=principal)


@router.post("/account/tokens")
def create_token(
    request: Request,
    name: Annotated[str, Form(max_length=200)] = "",
    expires_in_days: Annotated[str, Form(max_length=6)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Create a token, then redirect: the new token rides a one-time flash, so reloading
    the page neither creates a second token nor shows this one again."""
    principal = require_user(request)
    require_csrf(request, csrf_token)
    days: int | None = None
    if expires_in_days.strip():
        if not expires_in_days.strip().isdigit() or not 1 <= int(expires_in_days) <= 3650:
            return redirect("/account#tokens-heading", request, user_id=principal.user_id,
                            error="Expiry must be a number of days from 1 to 3650, or empty "
                            "for no expiry.", form={"name": name, "expires_in_days": expires_in_days})
        days = int(expires_in_days)
    with runtime_of(request).database.transaction() as db, page_errors():
        user = users.get_user(db, principal.user_id)
        _tok, plain = users.issue_token(db, user, kind="personal", name=name,
                                        ttl_seconds=days * 86400 if days else None)
    return redirect("/account#new-token-box", request, user_id=principal.user_id,
                    new_token=plain, new_token_name=name.strip())


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str,
                 csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with runtime_of(request).database.transaction() as db, page_errors():
        users.revoke_token(db, principal.user_id, token_id)
    return redirect("/account#tokens-heading", request, user_id=principal.user_id,
                    notice="The token was revoked: it no longer works.")


@router.post("/account/failed-logins/dismiss")
def dismiss_failed_logins(request: Request,
                          csrf_token: Annotated[str | None, Form()] = None) -> Response:
    """The owner has read the failed sign-in notice: it stays away until the next failure."""
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with runtime_of(request).database.transaction() as db:
        throttle.dismiss_notice(db, principal.user_id)
    return redirect("/account", request, user_id=principal.user_id)


# --- voices and vocabulary -----------------------------------------------------------------
@router.post("/account/vocabulary")
def save_vocabulary(request: Request, terms: Annotated[str, Form(max_length=8000)] = "",
                    csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    try:
        with runtime_of(request).database.transaction() as db:
            saved = users.set_vocabulary(db, principal.user_id, terms)
    except TapeworksError as exc:
        return redirect("/account#vocabulary-heading", request, user_id=principal.user_id,
                        vocabulary_error=f"The vocabulary was not saved: {exc.message}.",
                        vocabulary_form=terms)
    notice = (f"Vocabulary saved: {len(saved)} term{'s' if len(saved) != 1 else ''} your "
              "next recordings expect." if saved else "Vocabulary cleared.")
    return redirect("/account#vocabulary-heading", request, user_id=principal.user_id,
                    vocabulary_notice=notice)


@router.post("/account/voices/{voice_id}/delete")
def delete_voice(request: Request, voice_id: str,
                 csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with runtime_of(request).database.transaction() as db, page_errors():
        name = voices.get_voice(db, principal.user_id, voice_id).name
        voices.delete_voice(db, principal.user_id, voice_id)
    return redirect("/account#voices-heading", request, user_id=principal.user_id,
                    voice_notice=f"The voice {name!r} and everything kept of it were deleted.")


@router.post("/account/password")
def change_password(
    request: Request,
    current_password: Annotated[str, Form(max_length=1000)] = "",
    new_password: Annotated[str, Form(max_length=1000)] = "",
    new_password_again: Annotated[str, Form(max_length=1000)] = "",
    revoke_tokens: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Change the password: every other sign-in ends (this browser stays signed in)."""
    principal = require_user(request)
    require_csrf(request, csrf_token)
    back = "/account#password-heading"
    if new_password != new_password_again:
        return redirect(back, request, user_id=principal.user_id,
                        password_error="The two new passwords are not the same.")
    rt = runtime_of(request)
    try:
        with rt.database.transaction() as db:
            changed = users.change_password(
                db, rt.settings, principal.user_id, current_password=current_password,
                new_password=new_password, keep_token_id=principal.token_id,
                revoke_tokens=bool(revoke_tokens), address=client_address(request), now=rt.clock())
    except (ValidationFailed, TooManyAttempts) as exc:
        return redirect(back, request, user_id=principal.user_id,
                        password_error=exc.message[:1].upper() + exc.message[1:] + ".")
    if not changed:
        return redirect(back, request, user_id=principal.user_id,
                        password_error="The current password is not right; nothing was changed.")
    return redirect(back, request, user_id=principal.user_id,
                    password_notice="Your password was changed. Every other sign-in has ended"
                    + (", and your API tokens were revoked." if revoke_tokens else "."))


@router.post("/account/logins/{login_id}/revoke")
def revoke_login(request: Request, login_id: str,
                 csrf_token: Annotated[str | None, Form()] = None) -> Response:
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with runtime_of(request).database.transaction() as db, page_errors():
        users.revoke_login(db, principal.user_id, login_id)
    if login_id == principal.token_id:
        return redirect("/login")
    return redirect("/account#logins-heading", request, user_id=principal.user_id,
                    logins_notice="That sign-in has ended.")


@router.post("/account/logins/revoke-all")
def revoke_all_logins(request: Request,
                      csrf_token: Annotated[str | None, Form()] = None) -> Response:
    """Sign out everywhere, this browser included (API tokens stay)."""
    principal = require_user(request)
    require_csrf(request, csrf_token)
    with runtime_of(request).database.transaction() as db:
        users.revoke_logins(db, principal.user_id)
    return redirect("/login")
