from __future__ import annotations

from fastapi import APIRouter, Request, status

from tapeworks.errors import Unauthorized, WrongPassword
from tapeworks.http.deps import DbDep, RuntimeDep
from tapeworks.users import service
from tapeworks.users.deps import CurrentUser
from tapeworks.users.models import ApiToken
from tapeworks.users.schemas import (
    CreateTokenRequest,
    LoginInfo,
    LoginRequest,
    MePatch,
    PasswordChange,
    PersonalTokenResponse,
    StudioSettingsOut,
    StudioSettingsPatch,
    TokenInfo,
    TokenResponse,
    UserOut,
    VocabularyIn,
    VocabularyOut,
)
from tapeworks.users.service import Principal

router = APIRouter(prefix="/auth", tags=["auth"])
studio_router = APIRouter(prefix="/studio", tags=["studio"])


def user_out(db: DbDep, user_id: str) -> UserOut:
    user = service.get_user(db, user_id)
    return UserOut.model_validate(user, from_attributes=True)


def client_address(request: Request) -> str | None:
    """The caller's address (a trusted proxy's X-Forwarded-For, applied by the app)."""
    return request.client.host if request.client else None


@router.post("/login", response_model=TokenResponse)
def login(body: LoginRequest, request: Request, rt: RuntimeDep) -> TokenResponse:
    """Sign in. Failed passwords are throttled per account and address and per address
    (429 `too_many_attempts` with `Retry-After`)."""
    settings = rt.settings
    with rt.database.transaction() as db:
        user = service.authenticate_throttled(db, settings, email=body.email,
                                              password=body.password,
                                              address=client_address(request), now=rt.clock())
        if user is not None:
            token, plain = service.issue_token(db, user, kind="access", name="login",
                                               ttl_seconds=settings.access_token_ttl_seconds,
                                               address=client_address(request),
                                               user_agent=request.headers.get("user-agent"))
            return TokenResponse(access_token=plain, expires_at=token.expires_at)
    raise Unauthorized(service.WRONG_LOGIN)  # after the failure was committed


@router.get("/me", response_model=UserOut)
def me(principal: CurrentUser, db: DbDep) -> UserOut:
    return user_out(db, principal.user_id)


@router.patch("/me", response_model=UserOut)
def patch_me(body: MePatch, principal: CurrentUser, db: DbDep) -> UserOut:
    """The caller's settings: the time zone their dates are in (default UTC)."""
    service.set_time_zone(db, principal.user_id, body.time_zone)
    return user_out(db, principal.user_id)


@router.put("/me/vocabulary", response_model=VocabularyOut)
def put_vocabulary(body: VocabularyIn, principal: CurrentUser, db: DbDep) -> VocabularyOut:
    """The caller's default vocabulary: terms (names, places) the speech engine is told to
    expect in every upload that gives none of its own."""
    return VocabularyOut(terms=service.set_vocabulary(db, principal.user_id, body.terms))


@router.get("/me/vocabulary", response_model=VocabularyOut)
def get_vocabulary(principal: CurrentUser, db: DbDep) -> VocabularyOut:
    return VocabularyOut(terms=service.vocabulary(db, principal.user_id))


@router.post("/tokens", response_model=PersonalTokenResponse, status_code=status.HTTP_201_CREATED)
def create_token(
    principal: CurrentUser, db: DbDep, body: CreateTokenRequest | None = None
) -> PersonalTokenResponse:
    body = body or CreateTokenRequest()
    user = service.get_user(db, principal.user_id)
    ttl = body.expires_in_days * 86400 if body.expires_in_days else None
    token, plain = service.issue_token(db, user, kind="personal", name=body.name, ttl_seconds=ttl)
    return PersonalTokenResponse(
        id=token.id, name=token.name, access_token=plain, expires_at=token.expires_at
    )


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(principal: CurrentUser, db: DbDep) -> list[TokenInfo]:
    return [TokenInfo.model_validate(t, from_attributes=True)
            for t in service.list_tokens(db, principal.user_id)]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: str, principal: CurrentUser, db: DbDep) -> None:
    service.revoke_token(db, principal.user_id, token_id)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(principal: CurrentUser, db: DbDep) -> None:
    """Revoke the token used for this call."""
    if principal.token_id:
        service.revoke_token(db, principal.user_id, principal.token_id)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT,
             responses={400: {"description": "`wrong_password`: the current password is not right"}})
def change_password(body: PasswordChange, request: Request, principal: CurrentUser,
                    rt: RuntimeDep) -> None:
    """Change the password. Every other login ends (this one stays); personal API tokens
    stay unless `revoke_tokens` is true. A wrong current password is a 400 `wrong_password`
    and counts as a failed sign-in (throttled: 429 with `Retry-After`)."""
    with rt.database.transaction() as db:
        changed = service.change_password(
            db, rt.settings, principal.user_id, current_password=body.current_password,
            new_password=body.new_password, keep_token_id=principal.token_id,
            revoke_tokens=body.revoke_tokens, address=client_address(request), now=rt.clock())
    if not changed:  # after the failure was committed
        raise WrongPassword("the current password is not right; nothing was changed")


def _login_info(t: ApiToken, principal: Principal) -> LoginInfo:
    return LoginInfo(id=t.id, kind="page" if t.kind == "web" else "api", created_at=t.created_at,
                     last_used_at=t.last_used_at, expires_at=t.expires_at, address=t.address,
                     user_agent=t.user_agent, current=t.id == principal.token_id)


@router.get("/logins", response_model=list[LoginInfo])
def list_logins(principal: CurrentUser, db: DbDep) -> list[LoginInfo]:
    """Live logins (API logins and page sign-ins) with their last use, the newest first;
    personal API tokens are at `GET /auth/tokens`."""
    return [_login_info(t, principal) for t in service.list_logins(db, principal.user_id)]


@router.delete("/logins/{login_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_login(login_id: str, principal: CurrentUser, db: DbDep) -> None:
    """End one login (it is refused from its next request)."""
    service.revoke_login(db, principal.user_id, login_id)


@router.post("/logins/revoke-all", status_code=status.HTTP_204_NO_CONTENT)
def revoke_all_logins(principal: CurrentUser, db: DbDep) -> None:
    """Sign out everywhere: every login ends, this one included; personal API tokens stay
    (revoke them at `DELETE /auth/tokens/{id}`)."""
    service.revoke_logins(db, principal.user_id)


# --- studio settings ------------------------------------------------------------------------------
def _studio_out(studio: service.Studio) -> StudioSettingsOut:
    return StudioSettingsOut(edit_marker=studio.edit_marker,
                             edit_marker_pause_seconds=studio.edit_marker_pause_seconds,
                             bleep_words=list(studio.bleep_words),
                             bleep_default_list=studio.bleep_default_list,
                             bleep_mode=studio.bleep_mode)


@studio_router.get("/settings", response_model=StudioSettingsOut)
def get_studio_settings(principal: CurrentUser, db: DbDep) -> StudioSettingsOut:
    """The spoken edit marker (a hotword of every upload) and the bleeps: the defaults of
    every new episode's cleaning settings."""
    return _studio_out(service.studio_settings(db, principal.user_id))


@studio_router.patch("/settings", response_model=StudioSettingsOut)
def patch_studio_settings(body: StudioSettingsPatch, principal: CurrentUser,
                          db: DbDep) -> StudioSettingsOut:
    """Change some of the studio settings; `edit_marker: null` turns markers off."""
    return _studio_out(service.update_studio_settings(db, principal.user_id,
                                                      body.model_dump(exclude_unset=True)))
