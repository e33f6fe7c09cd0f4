from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from tapeworks.http.inputs import InputModel, Name, StrictInput


class LoginRequest(InputModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime | None = None


class PasswordChange(InputModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024, description="at least 8 characters")
    revoke_tokens: bool = Field(default=False, description="also revoke every personal API "
                                "token (other logins always end)")


class LoginInfo(BaseModel):
    """A login: an API login (`POST /auth/login`) or a page sign-in."""

    id: str
    kind: Literal["api", "page"]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    address: str | None
    user_agent: str | None
    current: bool = Field(description="the login this request was made with")


class CreateTokenRequest(InputModel):
    name: Name = "api token"
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class PersonalTokenResponse(TokenResponse):
    id: str
    name: str


class TokenInfo(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: str
    plan: str
    time_zone: str = "UTC"
    vocabulary: list[str] = Field(default_factory=list,
                                  description="terms every upload's speech engine expects")
    created_at: datetime
    failed_logins: int = Field(default=0, description="failed sign-ins since the owner last "
                               "dismissed the notice on the account page")
    last_failed_login_at: datetime | None = None


class MePatch(BaseModel):
    time_zone: str = Field(min_length=1, max_length=64,
                           description="IANA name, e.g. 'Europe/Paris': the coaching log's dates")


class CreateUserRequest(BaseModel):
    email: str
    password: str = Field(min_length=8, max_length=1024)
    name: str = ""
    role: str = "user"
    plan: str | None = None


class StudioSettingsOut(BaseModel):
    """A user's studio settings: the defaults of every episode's cleaning settings; the
    edit marker is also a hotword of every upload (the speech engine expects it)."""

    edit_marker: str | None
    edit_marker_pause_seconds: float
    bleep_words: list[str]
    bleep_default_list: bool
    bleep_mode: Literal["beep", "mute"]


class StudioSettingsPatch(StrictInput):
    """The fields to change (the others keep their values); `edit_marker: null` turns
    spoken edit markers off."""

    edit_marker: str | None = Field(default=None, max_length=40)
    edit_marker_pause_seconds: float | None = Field(default=None, ge=0.05, le=5.0, allow_inf_nan=False)
    bleep_words: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=500)
    bleep_default_list: bool | None = None
    bleep_mode: Literal["beep", "mute"] | None = None


class VocabularyIn(BaseModel):
    terms: str | list[str] = Field(
        description="comma-separated terms (or a list), at most 100: names, places, jargon "
                    "every upload's speech engine should expect; empty clears it")


class VocabularyOut(BaseModel):
    terms: list[str]
