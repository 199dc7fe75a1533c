"""Native auth endpoints: password login issues the user session JWT the portal surface needs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from keyplane.auth.sessions import issue_session_token
from keyplane.auth.throttle import authenticate_login, login_throttle
from keyplane.deps import Session, UserPrincipal, client_ip, get_context, require_user_session
from keyplane.models import User
from keyplane.orgs.service import memberships_of
from keyplane.surfaces.error_models import error_responses

public = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=error_responses("openrouter", 400, 401))
signed_in = APIRouter(
    prefix="/api/v1/auth",
    tags=["auth"],
    dependencies=[Depends(require_user_session)],
    responses=error_responses("openrouter", 400, 401, 403),
)


class LoginBody(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class MembershipOut(BaseModel):
    org_id: str
    role: str


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    memberships: list[MembershipOut]


class LoginAnswer(BaseModel):
    """`token` repeats `access_token`; `expires_at` is in Unix seconds."""

    access_token: str
    token: str
    token_type: str
    expires_at: int
    user: UserOut


class UserData(BaseModel):
    data: UserOut


@public.post("/login", response_model=LoginAnswer, responses=error_responses("openrouter", 429))
async def login(body: LoginBody, request: Request, session: Session) -> LoginAnswer:
    context = get_context(request)
    user = await authenticate_login(
        session=session,
        throttle=login_throttle(context),
        email=body.email,
        password=body.password,
        ip_address=client_ip(request),
    )
    token, expires_at = issue_session_token(
        user.id, secret=context.secret_key, ttl_seconds=context.settings.jwt_ttl_seconds
    )
    return LoginAnswer(
        access_token=token,
        token=token,
        token_type="bearer",
        expires_at=expires_at,
        user=await _user_object(session, user),
    )


@signed_in.get("/me", response_model=UserData)
async def me(session: Session, principal: UserPrincipal) -> UserData:
    user = await session.get(User, principal.user_id)
    assert user is not None
    return UserData(data=await _user_object(session, user))


async def _user_object(session: Session, user: User) -> UserOut:
    memberships = await memberships_of(session=session, user_id=user.id)
    return UserOut(
        id=user.id,
        email=user.email,
        name=user.name,
        memberships=[MembershipOut(org_id=m.org_id, role=m.role) for m in memberships],
    )
